#!/usr/bin/env bash
# The Debian package, installed and taken out on this machine: build it (`cargo xtask deb`),
# lintian, `dpkg -i`, the name service through glibc, the man pages and completions, the
# units (systemd-analyze verify and security), the API by socket activation, a newer
# registry served after `update --system` and SIGHUP, then `dpkg --purge`, after which
# /etc/nsswitch.conf is byte for byte what it was. Needs root; the machine is restored
# whatever happens (the package purged, nsswitch.conf put back).
# Usage: packaging/test-deb.sh [DEB]   (builds the package when no DEB is given)
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ $(id -u) != 0 ]]; then
  echo "packaging/test-deb.sh: needs root (it installs the package)" >&2
  exit 2
fi
export DEBIAN_FRONTEND=noninteractive
for tool in lintian curl; do
  command -v "$tool" >/dev/null || apt-get install -y -qq "$tool" >/dev/null
done
deb=${1:-$(cargo xtask deb | tail -n1)}
work=$(mktemp -d)
cp -a /etc/nsswitch.conf "$work/nsswitch.before"
server=
restore() {
  [[ -n $server ]] && kill "$server" 2>/dev/null
  dpkg --purge portreg >/dev/null 2>&1 || true
  cp -a "$work/nsswitch.before" /etc/nsswitch.conf
  rm -rf "$work"
}
trap restore EXIT
step() { printf '== %s\n' "$*"; }
fail() { echo "FAILED: $*" >&2; exit 1; }

step "contents"
dpkg-deb -c "$deb" | awk '{print $6}' | sed 's|^\./|/|' | grep -v '/$' | sort | tee "$work/contents"
for path in /usr/bin/portreg /usr/bin/portreg-admin "/usr/lib/$(dpkg-architecture -qDEB_HOST_MULTIARCH)/libnss_portreg.so.2" \
  /usr/share/man/man1/portreg-free.1.gz /usr/share/bash-completion/completions/portreg \
  /usr/share/zsh/vendor-completions/_portreg /usr/share/fish/vendor_completions.d/portreg.fish \
  /lib/systemd/system/portreg.socket /lib/systemd/system/portreg.service \
  /lib/systemd/system/portreg-authority.service /lib/systemd/system/portreg-update.service \
  /lib/systemd/system/portreg-update.timer /etc/portreg/local.d/local.services; do
  grep -qx "$path" "$work/contents" || fail "$path is not in the package"
done

step "lintian"
lintian --fail-on error,warning --tag-display-limit 0 "$deb" | tee "$work/lintian" || fail "lintian reports errors"

step "install"
dpkg -i "$deb"
grep -E '^services:.*[[:space:]]files portreg([[:space:]]|$)' /etc/nsswitch.conf || fail "nsswitch.conf has no portreg after files"
dpkg -i "$deb" >/dev/null
[[ $(grep -c 'portreg' /etc/nsswitch.conf) == 1 ]] || fail "a reinstall added portreg twice"

step "name service"
getent services 4200/udp | tee "$work/getent"
grep -q '^vrml-multi-use' "$work/getent" || fail "getent services 4200/udp did not answer vrml-multi-use"
step "man pages and completions"
man -w portreg-free
man -w portreg
man -w portreg-admin
zcat /usr/share/man/man1/portreg-free.1.gz | grep -q '^\.SH EXAMPLES' || fail "portreg-free(1) has no EXAMPLES"
zcat /usr/share/man/man1/portreg-free.1.gz | grep -q '^\.SH "EXIT STATUS"' || fail "portreg-free(1) has no EXIT STATUS"

step "units"
units=(/lib/systemd/system/portreg.socket /lib/systemd/system/portreg.service
  /lib/systemd/system/portreg-authority.service /lib/systemd/system/portreg-update.service
  /lib/systemd/system/portreg-update.timer)
systemd-analyze verify --man=no "${units[@]}" 2>&1 | tee "$work/verify"
[[ ! -s $work/verify ]] || fail "systemd-analyze verify is not clean"
for unit in portreg.service portreg-authority.service portreg-update.service; do
  score=$(systemd-analyze security --offline=true "/lib/systemd/system/$unit" 2>/dev/null |
    awk '/Overall exposure level/ {print $(NF-2)}')
  echo "$unit: $score"
  awk -v s="$score" 'BEGIN {exit !(s != "" && s <= 2.0)}' || fail "$unit rates $score, above 2.0"
done

step "socket activation"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
# As portreg.service runs it: the machine's registry folder (systemd-socket-activate passes
# only the variables it is given).
systemd-socket-activate -l "127.0.0.1:$port" -E PORTREG_DATA_DIR=/var/lib/portreg \
  portreg serve 2>"$work/serve.log" &
server=$!
answer() { curl -fsS --retry 20 --retry-connrefused --retry-delay 0 "http://127.0.0.1:$port$1"; }
answer /v1/ports/22 | grep -q '"name":"ssh"' || fail "/v1/ports/22 through the passed socket"

step "update --system, then SIGHUP"
xml=../shared/data/iana/newest/service-names-port-numbers.xml
[[ -f $xml ]] || fail "$xml is missing"
python3 - "$xml" "$work/newer.xml" <<'PY'
import datetime, re, sys
text = open(sys.argv[1], encoding="utf-8").read()
# Dated today: newer than the built-in registry, not in the future.
today = datetime.date.today().isoformat()
text = re.sub(r"<updated>[0-9-]+</updated>", "<updated>%s</updated>" % today, text, count=1)
record = ("<record><name>zq-package-test</name><protocol>tcp</protocol>"
          "<description>the package test</description><number>47999</number></record>\n  ")
open(sys.argv[2], "w", encoding="utf-8").write(text.replace("<record", record + "<record", 1))
PY
! answer /v1/services/zq-package-test >/dev/null 2>&1 || fail "the new name answered before the update"
portreg update --system --file "$work/newer.xml"
kill -HUP "$server"
for _ in $(seq 50); do
  answer /v1/services/zq-package-test 2>/dev/null | grep -q 47999 && break
  sleep 0.1
done
answer /v1/services/zq-package-test | grep -q 47999 || fail "the newer registry is not served after SIGHUP"
getent services zq-package-test | grep -q 47999 || fail "the name service does not see the newer registry"
kill "$server"
wait "$server" 2>/dev/null || true
server=

step "remove and purge"
dpkg -r portreg >/dev/null
grep -q portreg /etc/nsswitch.conf && fail "nsswitch.conf still names portreg after remove"
dpkg --purge portreg >/dev/null
cmp /etc/nsswitch.conf "$work/nsswitch.before" || fail "nsswitch.conf differs after purge"
[[ ! -e /var/lib/portreg && ! -e /etc/portreg ]] || fail "purge left files behind"
getent passwd portreg >/dev/null && fail "purge left the portreg user"
echo "package test passed"
