#!/usr/bin/env bash
# What one anonymous request costs an authority's server (`portreg serve --authority`),
# route by route: the server's CPU time (user + system, from /proc) and its peak memory
# over REPEAT requests of each, on a store holding IANA's registry and a log of ENTRIES
# entries (requests filed and withdrawn over HTTP). The first request of an `as_of` date
# compiles a snapshot of the history; dates cycled past the four kept recompile.
# Usage: bench/anonymous.sh [ENTRIES] [REPEAT]   (needs ../shared for IANA's XML)
set -euo pipefail
cd "$(dirname "$0")/.."
entries=${1:-5000}
repeat=${2:-20}
xml=../shared/data/iana/service-names-port-numbers.xml
[[ -f $xml ]] || { echo "needs $xml" >&2; exit 2; }
cargo build --release --quiet -p portreg-cli -p portreg-admin
work=$(mktemp -d)
pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true; rm -rf "$work"' EXIT
P=target/release/portreg
A() { "$P" authority --db "$work/a.sqlite" "$@"; }
A init --from "$xml" >/dev/null
requester=$(A user add filer --role requester 2>/dev/null)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
base=http://127.0.0.1:$port
RUST_LOG=off target/release/portreg-admin serve --authority "$work/a.sqlite" --rate-limit 100000 --listen "127.0.0.1:$port" >/dev/null 2>&1 &
pids+=($!)
server=$!
for _ in $(seq 100); do curl -fs "$base/healthz" >/dev/null 2>&1 && break; sleep 0.1; done
python3 bench/anonymous/measure.py "$base" "$server" "$requester" "$entries" "$repeat"
