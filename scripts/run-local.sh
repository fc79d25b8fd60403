#!/usr/bin/env bash
# The main job on embedded defaults, on a fresh machine: install the Temporal CLI if missing,
# build, start the host on the shipped workers.toml with its own dev server, send a canary
# workflow through it, print the result, and stop everything again.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/services.sh

ensure_temporal_cli
cargo build --release --bin worker-host
bin=${CARGO_TARGET_DIR:-target}/release/worker-host

port=$(free_port)
export TEMPORAL_ADDRESS="127.0.0.1:$port"
log=$(mktemp -t worker-host-run.XXXXXX.log)
"$bin" run --config workers.toml --dev 2>"$log" &
host=$!
trap 'stop_pid $host; wait $host 2>/dev/null || true' EXIT

for _ in $(seq 1 300); do
  grep -q "worker polling" "$log" && break
  kill -0 "$host" 2>/dev/null || { cat "$log" >&2; exit 1; }
  sleep 0.2
done
grep -q "worker polling" "$log" || { echo "error: the host did not start; its log:" >&2; cat "$log" >&2; exit 1; }

echo "host running on Temporal $TEMPORAL_ADDRESS; sending a canary through queue worker-host-canary"
temporal workflow execute --address "$TEMPORAL_ADDRESS" --type HostCanaryWorkflow \
  --task-queue worker-host-canary --workflow-id "canary-$(date +%s)" --input '"hello from run-local"'
