#!/usr/bin/env bash
# Measured on the dist profile: the binaries the Debian package ships.
# The name service against glibc's files backend and glibc's own floor (a do-nothing
# module): ns per getservbyport() call through libc, on random ports 0-1023 (tcp); then
# `getent services 22` whole-process with hyperfine. Each configuration runs in a private
# mount namespace (nsswitch.conf and /etc/services bind-mounted): needs root, and
# changes nothing on the machine.
# Each measure is the median of ROUNDS runs, the configurations taking turns, each run
# pinned to one CPU (a run that moves between CPUs, or shares one with another, varies by
# more than the module costs).
# Usage: bench/nss.sh [CALLS] [ROUNDS]   (the full-registry services file is made from IANA's
# XML in ../shared when it is there, else from the built-in registry)
set -euo pipefail
cd "$(dirname "$0")/.."
calls=${1:-1000000}
rounds=${2:-5}
cpu=$(($(nproc) - 1))
cargo build --profile dist --quiet -p nss-portreg -p portreg-cli
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/lib" "$work/empty"
cp target/dist/libnss_portreg.so "$work/lib/libnss_portreg.so.2"
gcc -O2 -o "$work/getserv" bench/nss/getserv.c
gcc -O2 -shared -fPIC -o "$work/lib/libnss_nothing.so.2" bench/nss/nothing.c
xml=../shared/data/iana/newest/service-names-port-numbers.xml
if [[ -f $xml ]]; then
  target/dist/portreg convert "$xml" --to services -o "$work/full.services" 2>/dev/null
else
  target/dist/portreg convert - --from compiled --to services -o "$work/full.services" 2>/dev/null \
    <crates/portreg-data/data/registry.bin
fi
cp /etc/services "$work/netbase.services" 2>/dev/null || : >"$work/netbase.services"
# A run: nsswitch line, services file, command.
within() {
  local line=$1 services=$2; shift 2
  printf 'services: %s\n' "$line" >"$work/nsswitch.conf"
  PORTREG_SYSTEM_DATA_DIR=$work/empty PORTREG_SYSTEM_LOCAL_DIR=$work/empty LD_LIBRARY_PATH=$work/lib \
    unshare -m sh -c 'mount --bind "$0" /etc/nsswitch.conf && mount --bind "$1" /etc/services && shift && exec "$@"' \
    "$work/nsswitch.conf" "$services" taskset -c "$cpu" "$@"
}
median() { sort -n | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }
echo "| services: | /etc/services | ns per getservbyport (median of $rounds) | found |"
echo "|---|---|---|---|"
rows=("nothing|netbase" "portreg|netbase" "files|netbase" "files|full")
for round in $(seq "$rounds"); do
  for row in "${rows[@]}"; do
    line=${row%|*} file=${row#*|}
    n=$calls
    [[ $file == full ]] && n=$((calls / 1000))
    [[ $file == netbase && $line == files ]] && n=$((calls / 10))
    within "$line" "$work/$file.services" "$work/getserv" "$n" >>"$work/${line}_$file.runs"
  done
done
for row in "${rows[@]}"; do
  line=${row%|*} file=${row#*|}
  ns=$(cut -d' ' -f1 "$work/${line}_$file.runs" | median)
  found=$(head -1 "$work/${line}_$file.runs" | cut -d' ' -f2)
  echo "| $line | $file ($(wc -l <"$work/$file.services") lines) | $ns | $found |"
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
