#!/usr/bin/env bash
# The one-command worker set-up (scripts/codedge-setup-worker) against a real
# mutual-TLS edge-server on loopback: bad invocations are refused clearly,
# the configuration it writes starts an edge-worker that connects, and
# SIGTERM drains that worker to exit 0. Bounded: every wait times out.
#   setup_worker_test.sh BUILD_DIR SOURCE_DIR
set -euo pipefail
build=$1
src=$2
tmp=$(mktemp -d /tmp/codedge-setup-test.XXXXXX)
pids=()
cleanup() { for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done; rm -rf "$tmp"; }
trap cleanup EXIT
setup="$src/scripts/codedge-setup-worker"
fail() { echo "FAIL: $*" >&2; exit 1; }

"$src/scripts/make-dev-certs.sh" "$tmp/certs" -- pi-1 >/dev/null 2>&1
export CODEDGE_ETC="$tmp/etc"

# Refusals: exit 2 and a message naming the problem; nothing written.
expect_refusal() {
  local want=$1
  shift
  local out rc=0
  out=$("$setup" "$@" --no-start 2>&1) || rc=$?
  [ "$rc" = 2 ] || fail "'$*' exited $rc, expected 2"
  grep -q -- "$want" <<<"$out" || fail "'$*' said '$out', expected '$want'"
}
expect_refusal "--server HOST:PORT is required" --insecure
expect_refusal "must be HOST:PORT" --server nohost --insecure
expect_refusal "choose the transport security" --server h:1
expect_refusal "--cert and --key go together" --server h:1 --ca "$tmp/certs/ca.pem" --cert "$tmp/certs/pi-1.pem"
expect_refusal "cannot read" --server h:1 --ca "$tmp/certs/missing.pem" --token_file "$tmp/certs/token"
expect_refusal "--insecure excludes" --server h:1 --insecure --ca "$tmp/certs/ca.pem"
expect_refusal "unknown option" --server h:1 --insecure --colour blue
[ ! -e "$tmp/etc/worker.flags" ] || fail "a refused invocation wrote worker.flags"

# A mutual-TLS server on loopback, port 0.
"$build/server/edge-server" --listen=127.0.0.1:0 --tls_cert="$tmp/certs/server.pem" --tls_key="$tmp/certs/server.key" \
  --tls_client_ca="$tmp/certs/ca.pem" >"$tmp/server.log" 2>&1 &
pids+=($!)
disown $!  # killed at exit: no job-control notice
port=""
for _ in $(seq 200); do
  port=$(sed -n 's/.*listening on port \([0-9]*\).*/\1/p' "$tmp/server.log" | head -1)
  [ -n "$port" ] && break
  sleep 0.05
done
[ -n "$port" ] || fail "the server did not start: $(cat "$tmp/server.log")"

"$setup" --server "127.0.0.1:$port" --ca "$tmp/certs/ca.pem" --cert "$tmp/certs/pi-1.pem" --key "$tmp/certs/pi-1.key" \
  --name pi-1 --threads 1 --no-start >/dev/null
grep -qx -- "--server=127.0.0.1:$port" "$tmp/etc/worker.flags" || fail "worker.flags lacks the server"
grep -qx -- "--tls_cert=$tmp/etc/certs/worker.pem" "$tmp/etc/worker.flags" || fail "worker.flags lacks the certificate"
[ "$(stat -c %a "$tmp/etc/certs/worker.key")" = 640 ] || fail "the key is not mode 0640"

# What systemd would run: the worker connects with that configuration ...
"$build/worker/edge-worker" --flagfile="$tmp/etc/worker.flags" >"$tmp/worker.log" 2>&1 &
worker=$!
pids+=($worker)
for _ in $(seq 400); do
  grep -q "connected to" "$tmp/worker.log" && break
  sleep 0.05
done
grep -q "connected to 127.0.0.1:$port" "$tmp/worker.log" || fail "the worker did not connect: $(cat "$tmp/worker.log")"
grep -q "(pi-1, 1 threads" "$tmp/server.log" || fail "the server did not see pi-1: $(cat "$tmp/server.log")"

# ... and `systemctl stop` (SIGTERM) drains it to exit 0.
kill -TERM "$worker"
rc=""
for _ in $(seq 200); do
  if ! kill -0 "$worker" 2>/dev/null; then
    wait "$worker" && rc=0 || rc=$?
    break
  fi
  sleep 0.05
done
[ "$rc" = 0 ] || fail "the worker did not exit 0 after SIGTERM (rc '$rc'): $(cat "$tmp/worker.log")"

# A second run keeps the previous configuration as worker.flags.bak.
"$setup" --server "127.0.0.1:$port" --insecure --no-start >/dev/null
grep -qx -- "--insecure" "$tmp/etc/worker.flags" || fail "the second run did not write --insecure"
grep -q -- "--tls_cert" "$tmp/etc/worker.flags.bak" || fail "the previous configuration was not kept"
echo "setup_worker_test: ok"
