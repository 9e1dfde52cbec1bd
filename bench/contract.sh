#!/usr/bin/env bash
# Checks `portreg serve` against its own OpenAPI document with schemathesis: every check,
# every phase, at most EXAMPLES examples an operation. Exits non-zero on any failure.
# Usage: bench/contract.sh [EXAMPLES]   (installs schemathesis with pip if missing)
set -euo pipefail
cd "$(dirname "$0")/.."
examples=${1:-100}
command -v schemathesis >/dev/null || python3 -m pip install -q schemathesis
cargo build --release --quiet -p portreg-cli -p portreg-admin
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
target/release/portreg serve --listen "127.0.0.1:$port" >/dev/null 2>&1 &
server=$!
trap 'kill $server 2>/dev/null' EXIT
for _ in $(seq 50); do
  curl -fs "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break
  sleep 0.2
done
schemathesis run "http://127.0.0.1:$port/openapi.json" \
  --checks all \
  --phases examples,coverage,fuzzing,stateful \
  --max-examples "$examples" \
  --seed 1 \
  --no-color
