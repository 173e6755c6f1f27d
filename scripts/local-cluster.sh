#!/usr/bin/env bash
# A local straggling cluster without Docker: one edge-server and N edge-workers
# in the background, each worker with its own latency.
#   scripts/local-cluster.sh up [N]     start (default N=10; PORT=50051, BUILD=build)
#   scripts/local-cluster.sh status     what runs (ClusterStatus needs a client: see the logs)
#   scripts/local-cluster.sh down       stop everything started by `up`
# Worker i waits a delay drawn per task from exp with mean 10*(i+1) ms, or
# from DIST (e.g. DIST=uniform:0.01,0.09 for all). Logs and pids live in
# STATE (default /tmp/codedge-local-cluster). edge-bench matmul launches
# its own cluster; point it at this one with --server 127.0.0.1:$PORT.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
PORT=${PORT:-50051}
STATE=${STATE:-/tmp/codedge-local-cluster}
cmd=${1:-}

stop_all() {
  [ -d "$STATE" ] || return 0
  for f in "$STATE"/*.pid; do
    [ -e "$f" ] || continue
    pid=$(cat "$f")
    kill "$pid" 2>/dev/null || true
  done
  sleep 0.5
  for f in "$STATE"/*.pid; do
    [ -e "$f" ] || continue
    pid=$(cat "$f")
    kill -9 "$pid" 2>/dev/null || true
    rm -f "$f"
  done
}

case "$cmd" in
  up)
    n=${2:-10}
    [[ "$n" =~ ^[0-9]+$ ]] && [ "$n" -ge 1 ] || { echo "local-cluster: N must be a positive integer, got '$n'" >&2; exit 2; }
    for b in server/edge-server worker/edge-worker; do
      [ -x "$BUILD/$b" ] || { echo "local-cluster: $BUILD/$b not built; run 'make build' first" >&2; exit 1; }
    done
    if [ -n "$(ls "$STATE"/*.pid 2>/dev/null)" ]; then
      echo "local-cluster: already up (pids in $STATE); run '$0 down' first" >&2; exit 1
    fi
    mkdir -p "$STATE"
    # If anything below fails, do not leave half a cluster behind.
    trap 'echo "local-cluster: start failed; stopping what started" >&2; stop_all' ERR INT TERM
    "$BUILD/server/edge-server" --listen="127.0.0.1:$PORT" --insecure > "$STATE/server.log" 2>&1 &
    echo $! > "$STATE/server.pid"
    for _ in $(seq 100); do grep -q "listening on port" "$STATE/server.log" && break; sleep 0.05; done
    grep -q "listening on port" "$STATE/server.log" || { cat "$STATE/server.log" >&2; false; }
    for i in $(seq 0 $((n - 1))); do
      delay=${DIST:-exp:$(awk "BEGIN { print 0.01 * ($i + 1) }")}
      "$BUILD/worker/edge-worker" --server="127.0.0.1:$PORT" --name="w$i" --seed=$((i + 1)) --threads=1 --insecure \
        --delay="$delay" > "$STATE/worker-$i.log" 2>&1 &
      echo $! > "$STATE/worker-$i.pid"
    done
    trap - ERR INT TERM
    echo "local-cluster: server on 127.0.0.1:$PORT and $n workers; logs in $STATE; stop with '$0 down'"
    ;;
  status)
    alive=0
    for f in "$STATE"/*.pid; do
      [ -e "$f" ] || continue
      if kill -0 "$(cat "$f")" 2>/dev/null; then alive=$((alive + 1)); else echo "$(basename "$f" .pid): not running"; fi
    done
    echo "local-cluster: $alive processes running (logs in $STATE)"
    ;;
  down)
    stop_all
    echo "local-cluster: stopped"
    ;;
  *)
    echo "usage: $0 up [N] | status | down" >&2
    exit 2
    ;;
esac
