#!/usr/bin/env bash
# Measured on the dist profile: the binaries the Debian package ships.
# Requests per second and latency of `portreg serve` on loopback with wrk (keep-alive), next
# to the floor: a bare axum server sending the same bytes (crates/portreg-server/examples/
# floor.rs). One run: the floor; /v1/ports/22 plain, with gzip, as a 304 revalidation, with
# logging off; /v1/search?q=sql; and the server's peak memory.
# Usage: bench/serve.sh [SECONDS] [CONNECTIONS]   (installs wrk with apt-get if missing)
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-5}
connections=${2:-64}
command -v wrk >/dev/null || apt-get install -y -q wrk >/dev/null
cargo build --profile dist --quiet -p portreg-cli -p portreg-admin
cargo build --profile dist --quiet -p portreg-server --example floor
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
work=$(mktemp -d)
pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true; rm -rf "$work"' EXIT
start() { # NAME COMMAND...: starts a server on a free port, prints its base URL
  local port; port=$(free_port)
  "${@:2}" --listen "127.0.0.1:$port" >/dev/null 2>&1 &
  pids+=($!)
  echo "$!" >"$work/$1.pid"
  for _ in $(seq 50); do curl -fs "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break; sleep 0.1; done
  echo "http://127.0.0.1:$port"
}
portreg=$(start portreg target/dist/portreg serve)
quiet=$(RUST_LOG=off start quiet target/dist/portreg serve)
curl -fs "$portreg/v1/ports/22" -o "$work/answer.json"
etag=$(curl -fsI "$portreg/v1/ports/22" | tr -d '\r' | awk -F': ' 'tolower($1)=="etag" {print $2}')
port=$(free_port)
target/dist/examples/floor "127.0.0.1:$port" "$work/answer.json" &
pids+=($!)
floor="http://127.0.0.1:$port"
sleep 0.5
run() { # LABEL URL [HEADER]
  local out
  if [[ -n ${3:-} ]]; then
    out=$(wrk -t2 -c"$connections" -d"${seconds}s" --latency -H "$3" "$2")
  else
    out=$(wrk -t2 -c"$connections" -d"${seconds}s" --latency "$2")
  fi
  printf '| %s | %s | %s | %s |\n' "$1" \
    "$(awk '/Requests\/sec/ {printf "%d", $2}' <<<"$out")" \
    "$(awk '$1=="50%" {print $2}' <<<"$out")" \
    "$(awk '$1=="99%" {print $2}' <<<"$out")"
}
echo "wrk, 2 threads, $connections connections, ${seconds}s each; $(wc -c <"$work/answer.json") bytes a /v1/ports/22 answer"
echo
echo "| what | req/s | p50 | p99 |"
echo "|---|---|---|---|"
run "floor: bare axum, the same bytes" "$floor/v1/ports/22"
run "portreg /v1/ports/22" "$portreg/v1/ports/22"
run "portreg /v1/ports/22, Accept-Encoding: gzip" "$portreg/v1/ports/22" "Accept-Encoding: gzip"
run "portreg /v1/ports/22, If-None-Match (304)" "$portreg/v1/ports/22" "If-None-Match: $etag"
run "portreg /v1/ports/22, RUST_LOG=off" "$quiet/v1/ports/22"
run "portreg /v1/search?q=sql" "$portreg/v1/search?q=sql"
run "portreg /v1/search?q=sql, gzip" "$portreg/v1/search?q=sql" "Accept-Encoding: gzip"
echo
echo "peak RSS of portreg serve: $(awk '/VmHWM/ {print $2, $3}' "/proc/$(cat "$work/portreg.pid")/status")"
