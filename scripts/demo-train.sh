#!/usr/bin/env bash
# A short CNN training on a local straggling cluster: edge-server train plus
# N edge-workers (each with its own delay), then everything is stopped.
#   scripts/demo-train.sh [N=10] [BATCHES=30] [STRATEGY=mds]
# BATCHES=0 trains one full epoch. Environment: DELAY_MS (mean straggler
# delay of worker i is DELAY_MS * (i + 1) ms, default 2; 0: no delay),
# TEST_LIMIT (test images evaluated, default 2000; 0: all), TRAIN_ARGS
# (more edge-server train flags).
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
"$BUILD/server/edge-server" train --listen=127.0.0.1:0 --insecure --workers="$n" --max_batches="$batches" \
  --test_limit="${TEST_LIMIT:-2000}" --strategy="$strategy" ${TRAIN_ARGS:-} > "$logs/train.log" 2>&1 &
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
delay_ms=${DELAY_MS:-2}
for i in $(seq 0 $((n - 1))); do
  delay=()
  if [ "$delay_ms" != 0 ]; then delay=(--delay="exp:$(awk "BEGIN { print 0.001 * $delay_ms * ($i + 1) }")"); fi
  "$BUILD/worker/edge-worker" --server="127.0.0.1:$port" --name="w$i" --seed=$((i + 1)) --threads=1 --insecure \
    "${delay[@]}" --log_level=warn > "$logs/worker-$i.log" 2>&1 &
  pids+=("$!")
done
tail -n +1 -f "$logs/train.log" --pid="$train" | grep --line-buffered -E "training|batch|done|error" || true
wait "$train"
