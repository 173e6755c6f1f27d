#!/usr/bin/env bash
# A short CNN training on a local straggling cluster: edge-server train plus
# N edge-workers (each with its own delay), then everything is stopped.
#   scripts/demo-train.sh [N=10] [BATCHES=30] [STRATEGY=mds]
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
n=${1:-10}
batches=${2:-30}
strategy=${3:-mds}
logs=$(mktemp -d /tmp/codedge-demo-train.XXXXXX)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT INT TERM
"$BUILD/server/edge-server" train --listen=127.0.0.1:0 --insecure --workers="$n" --max_batches="$batches" --test_limit=2000 \
  --strategy="$strategy" > "$logs/train.log" 2>&1 &
train=$!
pids+=("$train")
port=""
for _ in $(seq 200); do
  port=$(sed -n 's/.*waiting for .* worker(s) on port \([0-9]*\).*/\1/p' "$logs/train.log" | head -1)
  [ -n "$port" ] && break
  kill -0 "$train" 2>/dev/null || { cat "$logs/train.log" >&2; exit 1; }
  sleep 0.1
done
[ -n "$port" ] || { echo "demo-train: the trainer did not start; see $logs/train.log" >&2; exit 1; }
for i in $(seq 0 $((n - 1))); do
  "$BUILD/worker/edge-worker" --server="127.0.0.1:$port" --name="w$i" --seed=$((i + 1)) --threads=1 --insecure \
    --delay="exp:$(awk "BEGIN { print 0.002 * ($i + 1) }")" --log_level=warn > "$logs/worker-$i.log" 2>&1 &
  pids+=("$!")
done
tail -n +1 -f "$logs/train.log" --pid="$train" | grep --line-buffered -E "training|batch|done|error" || true
wait "$train"
