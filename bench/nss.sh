#!/usr/bin/env bash
# The name service against glibc's files backend and glibc's own floor (a do-nothing
# module): ns per getservbyport() call through libc, on random ports 0-1023 (tcp); then
# `getent services 22` whole-process with hyperfine. Each configuration runs in a private
# mount namespace (nsswitch.conf and /etc/services bind-mounted): needs root, and
# changes nothing on the machine.
# Usage: bench/nss.sh [CALLS]   (the full-registry services file is made from IANA's XML
# in ../shared when it is there, else from the built-in registry)
set -euo pipefail
cd "$(dirname "$0")/.."
calls=${1:-200000}
cargo build --release --quiet -p nss-portreg -p portreg-cli
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/lib" "$work/empty"
cp target/release/libnss_portreg.so "$work/lib/libnss_portreg.so.2"
gcc -O2 -o "$work/getserv" bench/nss/getserv.c
gcc -O2 -shared -fPIC -o "$work/lib/libnss_nothing.so.2" bench/nss/nothing.c
xml=../shared/data/iana/newest/service-names-port-numbers.xml
if [[ -f $xml ]]; then
  target/release/portreg convert "$xml" --to services -o "$work/full.services" 2>/dev/null
else
  target/release/portreg convert - --from compiled --to services -o "$work/full.services" 2>/dev/null \
    <crates/portreg-data/data/registry.bin
fi
cp /etc/services "$work/netbase.services" 2>/dev/null || : >"$work/netbase.services"
# A run: nsswitch line, services file, command.
within() {
  local line=$1 services=$2; shift 2
  printf 'services: %s\n' "$line" >"$work/nsswitch.conf"
  PORTREG_SYSTEM_DATA_DIR=$work/empty PORTREG_SYSTEM_LOCAL_DIR=$work/empty LD_LIBRARY_PATH=$work/lib \
    unshare -m sh -c 'mount --bind "$0" /etc/nsswitch.conf && mount --bind "$1" /etc/services && shift && exec "$@"' \
    "$work/nsswitch.conf" "$services" "$@"
}
echo "| services: | /etc/services | ns per getservbyport | found of $calls |"
echo "|---|---|---|---|"
for row in "nothing|netbase" "portreg|netbase" "files|netbase" "files|full"; do
  line=${row%|*} file=${row#*|}
  n=$calls
  [[ $row == "files|full" ]] && n=$((calls / 100))
  read -r ns found < <(within "$line" "$work/$file.services" "$work/getserv" "$n")
  echo "| $line | $file ($(wc -l <"$work/$file.services") lines) | $ns | $found of $n |"
done
echo
if command -v hyperfine >/dev/null; then
  for line in files portreg; do printf 'services: %s\n' "$line" >"$work/nsswitch.$line"; done
  hyperfine -N --warmup 20 --runs 300 --export-markdown "$work/getent.md" \
    -n "getent services 22 (files, netbase)" \
    "env LD_LIBRARY_PATH=$work/lib unshare -m sh -c 'mount --bind $work/nsswitch.files /etc/nsswitch.conf && exec getent services 22'" \
    -n "getent services 22 (portreg)" \
    "env LD_LIBRARY_PATH=$work/lib PORTREG_SYSTEM_DATA_DIR=$work/empty unshare -m sh -c 'mount --bind $work/nsswitch.portreg /etc/nsswitch.conf && exec getent services 22'" \
    -n "unshare and mount alone" \
    "unshare -m sh -c 'mount --bind $work/nsswitch.files /etc/nsswitch.conf && exec true'" >/dev/null
  cat "$work/getent.md"
fi
