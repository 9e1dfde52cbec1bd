#!/usr/bin/env bash
# Measured on the dist profile: the binaries the Debian package ships.
# The authority over HTTP and a replica under load (`portreg serve --authority`, `--follow`).
#  1. requests filed and approved a second over HTTP, one client, durable commits, on a
#     store loaded with IANA's registry (each approval recompiles the registry served);
#  2. wrk on a replica's /v1/ports/22 while its source changes every second, so that the
#     replica swaps a registry in every second: requests a second and p99.
# Usage: bench/authority.sh [PAIRS] [SECONDS]   (needs ../shared for IANA's XML; wrk)
set -euo pipefail
cd "$(dirname "$0")/.."
pairs=${1:-100}
seconds=${2:-20}
xml=../shared/data/iana/service-names-port-numbers.xml
[[ -f $xml ]] || { echo "needs $xml" >&2; exit 2; }
command -v wrk >/dev/null || apt-get install -y -q wrk >/dev/null
cargo build --profile dist --quiet -p portreg-cli -p portreg-admin
work=$(mktemp -d)
pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true; rm -rf "$work"' EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_up() { for _ in $(seq 100); do curl -fs "$1/healthz" >/dev/null 2>&1 && return; sleep 0.1; done; echo "$1 did not start" >&2; exit 1; }
P=target/dist/portreg
A() { "$P" authority --db "$work/a.sqlite" "$@"; }
A init --from "$xml" >/dev/null
requester=$(A user add filer --role requester 2>/dev/null)
expert=$(A user add judge --role expert 2>/dev/null)
port=$(free_port)
primary=http://127.0.0.1:$port
RUST_LOG=warn "$P" serve --authority "$work/a.sqlite" --rate-limit 100000 --listen "127.0.0.1:$port" >/dev/null 2>&1 &
pids+=($!)
wait_up "$primary"

echo "1. $pairs requests filed and approved over HTTP, one client, keep-alive (store: IANA's 2026 registry)"
python3 bench/authority/pairs.py "$primary" "$requester" "$expert" "$pairs"

echo
echo "2. wrk on a replica's /v1/ports/22 while its source changes every second"
curl -fs "$primary/v1/registry.bin" -o "$work/one.bin"
id=$(curl -fs -X POST -H "Authorization: Bearer $requester" -H 'Content-Type: application/json' \
  --data '{"name":"zq-bench-swap","transport":"tcp","port":41999,"description":"d","assignee":"a","contact":"c"}' \
  "$primary/v1/requests" | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
curl -fs -X POST -H "Authorization: Bearer $expert" -H 'Content-Type: application/json' \
  --data '{"decision":"approve"}' "$primary/v1/requests/$id/review" >/dev/null
curl -fs "$primary/v1/registry.bin" -o "$work/two.bin"
mkdir -p "$work/source"
cp "$work/one.bin" "$work/source/registry.bin"
source_port=$(free_port)
(cd "$work/source" && exec python3 -m http.server "$source_port" --bind 127.0.0.1) >/dev/null 2>&1 &
pids+=($!)
sleep 0.5
replica_port=$(free_port)
replica=http://127.0.0.1:$replica_port
RUST_LOG=warn "$P" serve --follow "http://127.0.0.1:$source_port/registry.bin" --interval 1 --listen "127.0.0.1:$replica_port" >/dev/null 2>&1 &
pids+=($!)
wait_up "$replica"
( for i in $(seq "$seconds"); do
    if (( i % 2 )); then cp "$work/two.bin" "$work/source/next.bin"; else cp "$work/one.bin" "$work/source/next.bin"; fi
    mv "$work/source/next.bin" "$work/source/registry.bin"; sleep 1
  done ) &
pids+=($!)
before=$(curl -fs "$replica/metrics" | awk '/^portreg_follow_swaps_total/ {print $2}')
out=$(wrk -t2 -c64 -d"${seconds}s" --latency "$replica/v1/ports/22")
after=$(curl -fs "$replica/metrics" | awk '/^portreg_follow_swaps_total/ {print $2}')
failures=$(curl -fs "$replica/metrics" | awk '/^portreg_follow_fetch_failures_total/ {print $2}')
echo "| req/s | p50 | p99 | max | non-2xx | swaps during the run | fetch failures |"
echo "|---|---|---|---|---|---|---|"
printf '| %s | %s | %s | %s | %s | %s | %s |\n' \
  "$(awk '/Requests\/sec/ {printf "%d", $2}' <<<"$out")" \
  "$(awk '$1=="50%" {print $2}' <<<"$out")" \
  "$(awk '$1=="99%" {print $2}' <<<"$out")" \
  "$(awk '$1=="Latency" {print $4}' <<<"$out")" \
  "$(awk '/Non-2xx/ {print $5}' <<<"$out" | grep . || echo 0)" \
  "$((after - before))" "$failures"
