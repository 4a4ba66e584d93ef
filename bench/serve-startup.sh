#!/usr/bin/env bash
# Time to ready and memory of `bark-pipeline serve`, one fresh server process:
#   BARK_MODEL=<model dir> BARK_CACHE_DIR=<cache> bench/serve-startup.sh [PROFILE] [ENGINE] [PORT]
# Prints the seconds from spawn to GET /health/ready = 200, the server's
# VmHWM/VmRSS/RssAnon/RssFile (MB) at ready, then after one synthesis request.
set -euo pipefail
cd "$(dirname "$0")/.."
profile=${1:-cpu} engine=${2:-worker} port=${3:-8765}
start=$(date +%s.%N)
BARK_ENGINE=$engine node_modules/.bin/node src/cli/main.ts serve --profile "$profile" --port "$port" > "${TMPDIR:-/tmp}/serve-startup.log" 2>&1 &
pid=$!
trap 'kill -TERM $pid 2>/dev/null; wait $pid 2>/dev/null || true' EXIT
for _ in $(seq 1 1200); do
  curl -sf -o /dev/null "http://127.0.0.1:$port/health/ready" && break
  kill -0 $pid 2>/dev/null || { echo "the server exited; see ${TMPDIR:-/tmp}/serve-startup.log" >&2; exit 1; }
  sleep 0.05
done
ready=$(date +%s.%N)
memory() { grep -E "^(VmHWM|VmRSS|RssAnon|RssFile)" /proc/$pid/status | awk '{printf "%s %d MB  ", $1, $2 / 1024}'; echo; }
echo "ready after $(echo "$ready - $start" | bc) s"
memory
curl -s -o /dev/null -w "synthesis: HTTP %{http_code} in %{time_total} s\n" -X POST "http://127.0.0.1:$port/synthesize" \
  -H 'content-type: application/json' -d '{"text":"Hello there.","seed":1}'
memory
