#!/usr/bin/env bash
# Requests per second and latency of `portreg serve` on loopback with wrk (keep-alive).
# Usage: bench/serve.sh [SECONDS] [CONNECTIONS]   (installs wrk with apt-get if missing)
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-10}
connections=${2:-64}
command -v wrk >/dev/null || apt-get install -y -q wrk >/dev/null
cargo build --release --quiet -p portreg-cli
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
RUST_LOG=warn target/release/portreg serve --listen "127.0.0.1:$port" &
server=$!
trap 'kill $server 2>/dev/null; wait $server 2>/dev/null' EXIT
for _ in $(seq 50); do curl -fs "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break; sleep 0.1; done
for path in /v1/ports/22 "/v1/search?q=sql"; do
  echo "== GET $path: ${seconds}s, $connections connections, 2 threads"
  wrk -t2 -c"$connections" -d"${seconds}s" --latency "http://127.0.0.1:$port$path" |
    grep -E "Requests/sec|Latency|50%|90%|99%|requests in|Non-2xx"
done
