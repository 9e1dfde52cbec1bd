#!/usr/bin/env bash
# Runs every fuzz target for SECONDS (default 600), JOBS at a time (default 2).
# Seeds each corpus with slices of the real registry files in ../../shared when present.
# Usage: fuzz/run-all.sh [SECONDS] [JOBS]
set -euo pipefail
cd "$(dirname "$0")"
seconds=${1:-600}
jobs=${2:-2}
shared=../../shared
declare -A seeds=(
  [iana_xml]="data/iana/service-names-port-numbers.xml"
  [iana_csv]="data/iana/service-names-port-numbers.csv"
  [iana_txt]="data/iana/service-names-port-numbers.txt"
  [legacy]="data/legacy/port-numbers seeds/000_e3c441be08ae7963.txt"
  [services]="data/netbase/services data/wireshark/services"
  [nmap]="data/nmap/nmap-services"
  [json]=""
  [jsonl]=""
  [compiled]=""
  [enrich]=""
)
mkdir -p logs
for target in "${!seeds[@]}"; do
  mkdir -p "corpus/$target"
  for file in ${seeds[$target]}; do
    [[ -f "$shared/$file" ]] || continue
    size=$(stat -c %s "$shared/$file")
    for i in 0 1 2 3 4 5 6 7; do
      block=$(( size * i / 8 / 4096 ))
      dd if="$shared/$file" of="corpus/$target/seed-$(basename "$file")-$i" bs=4096 skip="$block" count=1 status=none
    done
  done
done
printf '[{"name":"ssh","port_low":22,"port_high":22,"transport":"tcp","status":"assigned"}]' >corpus/json/seed-0
printf '{"name":"ssh","port_low":22,"port_high":22,"transport":"tcp","aliases":["x"]}\n' >corpus/jsonl/seed-0
printf '#separator \\x09\n#fields\tid.resp_p\tproto\n#types\tport\tenum\n22\ttcp\n4250\tudp\n' >corpus/enrich/seed-zeek
printf 'dst_port,proto\n22,tcp\n"443",6\n' >corpus/enrich/seed-csv
printf '{"id.resp_p":22,"proto":"tcp"}\n{"destination":{"port":53}}\n' >corpus/enrich/seed-jsonl
# A compiled registry holds a 256 KiB port index: its seed is a small registry compiled.
if [[ -f "$shared/data/netbase/services" ]]; then
  cargo run -q --manifest-path ../Cargo.toml -p xtask -- compile "$shared/data/netbase/services" corpus/compiled/seed-netbase
fi
RUSTC_BOOTSTRAP=1 cargo fuzz build -O
printf '%s\n' "${!seeds[@]}" | sort | xargs -P "$jobs" -I{} sh -c \
  "max=8192; [ {} = compiled ] && max=400000; RUSTC_BOOTSTRAP=1 cargo fuzz run -O {} -- -max_total_time=$seconds -max_len=\$max -rss_limit_mb=2048 >logs/{}.log 2>&1; echo \"{} exit \$?\" >>logs/summary"
cat logs/summary
