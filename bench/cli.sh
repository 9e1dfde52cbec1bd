#!/usr/bin/env bash
# Whole-process timings of the portreg CLI against `getent services` and a hello-world
# Rust binary, with hyperfine, and peak memory from /usr/bin/time -v.
# Usage: [STATIC=1] bench/cli.sh [RUNS]   (installs hyperfine and time with apt-get if missing)
# STATIC=1 also times a static-PIE build of portreg.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-1000}
need=()
command -v hyperfine >/dev/null || need+=(hyperfine)
[[ -x /usr/bin/time ]] || need+=(time)
if ((${#need[@]})); then
  apt-get install -y -q "${need[@]}" >/dev/null
fi
cargo build --release --quiet -p portreg-cli
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
printf 'fn main() { println!("hello"); }\n' >"$work/hello.rs"
rustc -O -o "$work/hello" "$work/hello.rs"
portreg=target/release/portreg
extra=()
if [[ ${STATIC:-0} == 1 ]]; then
  # The same binary linked as a static PIE: no dynamic loader work at start-up.
  RUSTFLAGS="-C target-feature=+crt-static" cargo build --release --quiet -p portreg-cli \
    --target x86_64-unknown-linux-gnu --target-dir target/static
  extra+=("target/static/x86_64-unknown-linux-gnu/release/portreg 22")
fi
hyperfine -N --warmup 50 --runs "$runs" --export-markdown "$work/times.md" \
  "$work/hello" \
  "getent services 22" \
  "$portreg 22" \
  "${extra[@]}" \
  "$portreg ssh" \
  "$portreg search sql" >/dev/null
sed "s|$work/||; s|$PWD/||" "$work/times.md"
echo
echo "| command | peak RSS (KiB) |"
echo "|---|---|"
for command in "$work/hello" "getent services 22" "$portreg 22" "$portreg ssh" "$portreg search sql"; do
  # shellcheck disable=SC2086
  rss=$(/usr/bin/time -v $command 2>&1 >/dev/null | awk -F': ' '/Maximum resident/ {print $2}')
  echo "| ${command#"$work/"} | $rss |"
done

# `portreg 22` against `getent services 22` alone: single runs on this machine move by
# +-10%, so six rounds of 600 runs each, the two commands taking turns to go first; the
# median of the rounds' ratios (of medians).
echo
rounds=()
for round in 1 2 3 4 5 6; do
  pair=("getent services 22" "$portreg 22")
  ((round % 2)) && pair=("$portreg 22" "getent services 22")
  hyperfine -N --warmup 50 --runs 600 --export-json "$work/round$round.json" "${pair[@]}" >/dev/null
  rounds+=("$work/round$round.json")
done
python3 - "$portreg 22" "${rounds[@]}" <<'PY'
import json, statistics, sys
ours, files = sys.argv[1], sys.argv[2:]
ratios = []
for name in files:
    medians = {r["command"]: statistics.median(r["times"]) for r in json.load(open(name))["results"]}
    ratios.append(medians[ours] / medians["getent services 22"])
print("portreg 22 / getent services 22, six rounds: "
      + ", ".join(f"{r:.2f}" for r in ratios) + f"; median {statistics.median(ratios):.2f}x")
PY
