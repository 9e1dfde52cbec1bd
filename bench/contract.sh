#!/usr/bin/env bash
# Checks `portreg serve` against its own OpenAPI document with schemathesis: every check,
# every phase, at most EXAMPLES examples an operation; then `serve --authority` the same
# way, with an administrator's token. Exits non-zero on any failure.
# Usage: bench/contract.sh [EXAMPLES]   (installs schemathesis with pip if missing)
set -euo pipefail
cd "$(dirname "$0")/.."
examples=${1:-100}
command -v schemathesis >/dev/null || python3 -m pip install -q schemathesis
cargo build --release --quiet -p portreg-cli -p portreg-admin
work=$(mktemp -d)
pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true; rm -rf "$work"' EXIT
start() { # starts `portreg serve ARGS` on a free port; sets $base to its URL
  local port
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  target/release/portreg serve "$@" --listen "127.0.0.1:$port" >/dev/null 2>&1 &
  pids+=($!)
  base="http://127.0.0.1:$port"
  for _ in $(seq 50); do
    curl -fs "$base/healthz" >/dev/null 2>&1 && break
    sleep 0.2
  done
}
check() { # URL [schemathesis options]
  schemathesis --config-file bench/schemathesis.toml run "$1/openapi.json" --checks all --phases examples,coverage,fuzzing,stateful \
    --max-examples "$examples" --seed 1 --no-color "${@:2}"
}
start
check "$base"
# The authority: an empty store and an administrator, who may call every operation. A
# request the schema allows may still break a rule no schema says (a name or port taken,
# the Dynamic range, a review of one's own request), so the check that every such request
# is accepted is left out; every other check holds, unauthenticated calls included.
target/release/portreg authority --db "$work/contract.sqlite" init >/dev/null
token=$(target/release/portreg authority --db "$work/contract.sqlite" user add contract-admin --role admin 2>/dev/null)
start --authority "$work/contract.sqlite" --rate-limit 100000
check "$base" --exclude-checks positive_data_acceptance -H "Authorization: Bearer $token"
