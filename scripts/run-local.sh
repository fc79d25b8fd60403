#!/usr/bin/env bash
# The main job on embedded defaults, on a fresh machine: install the Temporal CLI if missing,
# build, start the host on the shipped workers.toml with its own dev server and the embedded
# graph store, index a repository (default: this project; or pass a URL or path), print the
# summary and how to ask the graph, and stop everything again.
#   scripts/run-local.sh [repository] [index options, e.g. --ref v1.0 --json]
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/services.sh

ensure_temporal_cli
cargo build --release --bin worker-host
bin=${CARGO_TARGET_DIR:-target}/release/worker-host

repo=${1:-$PWD}
[ $# -gt 0 ] && shift
port=$(free_port)
export TEMPORAL_ADDRESS="127.0.0.1:$port"
# The shipped config refuses local paths as repositories; this run indexes one.
export WORKER_HOST_INDEXING__ALLOW_LOCAL_REPOS=true
export WORKER_HOST_HOST__LISTEN="127.0.0.1:$(free_port)"
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

echo "host running on Temporal $TEMPORAL_ADDRESS (graph: embedded, .worker-host/graph.sqlite); indexing $repo" >&2
"$bin" index "$repo" --config workers.toml "$@"
# The graph stays in .worker-host/graph.sqlite after the host stops: ask it.
echo "ask the graph: $bin graph callers <function> (also repos, stats, find, callees, file; \
\`$bin mcp\` for coding agents)" >&2
