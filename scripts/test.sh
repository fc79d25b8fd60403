#!/usr/bin/env bash
# The whole test suite against real services: a Temporal dev server and a Neo4j 5 Community
# (scripts/neo4j.sh, fresh data directory) on free loopback ports, then `cargo test` (arguments
# are passed on), then everything stopped again.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/services.sh

ensure_temporal_cli
scripts/test-deps.sh
work=$(mktemp -d -t worker-host-test.XXXXXX)
export NEO4J_RUN_DIR="$work/neo4j-run"
export NEO4J_PASSWORD=${NEO4J_PASSWORD:-worker-host-test}
cleanup() {
  [ -n "${TEMPORAL_PID:-}" ] && stop_pid "$TEMPORAL_PID"
  [ -n "${TEST_NEO4J_URI:-}" ] && scripts/neo4j.sh stop --port "$NEO4J_PORT" >/dev/null 2>&1
  rm -rf "$work"
}
trap cleanup EXIT

start_temporal "$work"
echo "Temporal dev server on 127.0.0.1:$TEMPORAL_PORT" >&2
# Picked once Temporal listens: a port picked before could be picked again for Temporal.
NEO4J_PORT=$(free_port)
export TEST_TEMPORAL_ADDRESS="127.0.0.1:$TEMPORAL_PORT"
# Builds the launcher first when needed (Maven Central, cached in ~/.m2); fails loudly.
TEST_NEO4J_URI=$(scripts/neo4j.sh start --port "$NEO4J_PORT" --data "$work/neo4j-data")
export TEST_NEO4J_URI
echo "Neo4j on $TEST_NEO4J_URI" >&2
cargo test --workspace --no-fail-fast "$@"
