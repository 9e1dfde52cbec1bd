#!/usr/bin/env bash
# Measured on the dist profile: the binaries the Debian package ships.
# `portreg enrich` on a generated Zeek conn.log (1 GB by default; never committed) next to
# `wc -l`, an awk hash join against a services file, and a plain Rust line reader with a
# HashMap: throughput and peak memory, each writing to /dev/null (writing a file is the
# disk's speed: `cat` to a file is measured too).
# Usage: bench/enrich.sh [BYTES]
set -euo pipefail
cd "$(dirname "$0")/.."
size=${1:-1000000000}
cargo build --profile dist --quiet -p portreg-cli
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
log=$work/conn.log
python3 bench/enrich/gen_conn.py "$log" "$size"
rustc -O -o "$work/naive" bench/enrich/naive.rs
services=/etc/services
[[ -s $services ]] || target/dist/portreg convert - --from compiled --to services -o "$services" </dev/null
bytes=$(stat -c %s "$log")
awk_join='BEGIN { FS = OFS = "\t" }
NR == FNR { if ($0 !~ /^#/) { split($0, w, /[ \t]+/); if (w[2] != "" && !(w[2] in m)) m[w[2]] = w[1] } next }
/^#/ { print; next }
{ k = $6 "/" $7; print $0, ((k in m) ? m[k] : "-") }'
run() {
  local label=$1; shift
  local start end rss
  start=$(date +%s.%N)
  /usr/bin/time -o "$work/rss" -f "%M" "$@" >/dev/null 2>/dev/null
  rss=$(tail -n1 "$work/rss")
  end=$(date +%s.%N)
  python3 -c "import sys; s=float(sys.argv[2])-float(sys.argv[1]); print(f'| {sys.argv[3]} | {s:.2f} s | {int(sys.argv[4])/s/1e6:,.0f} MB/s | {int(sys.argv[5])/1024:.1f} MB |')" \
    "$start" "$end" "$label" "$bytes" "$rss"
}
echo "conn.log: $bytes bytes, $(grep -vc '^#' "$log") lines"
echo
echo "| command | time | throughput | peak RSS |"
echo "|---|---|---|---|"
run "wc -l" wc -l "$log"
run "portreg enrich (2 threads)" target/dist/portreg enrich -q "$log"
run "portreg enrich --threads 1" target/dist/portreg enrich -q --threads 1 "$log"
run "portreg enrich --add name,description,status,range_class,source" \
  target/dist/portreg enrich -q --add name,description,status,range_class,source "$log"
run "plain Rust, HashMap" "$work/naive" "$services" "$log"
run "mawk hash join" mawk "$awk_join" "$services" "$log"
start=$(date +%s.%N); cat "$log" >"$work/copy"; end=$(date +%s.%N); rm -f "$work/copy"
python3 -c "import sys; s=float(sys.argv[2])-float(sys.argv[1]); print(f'| cat > file (the disk) | {s:.2f} s | {int(sys.argv[3])/s/1e6:,.0f} MB/s | |')" "$start" "$end" "$bytes"
