#!/usr/bin/env bash
# The whole test suite against real services: a Temporal dev server on free loopback ports,
# then `cargo test` (arguments are passed on), then everything stopped again.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/services.sh

ensure_temporal_cli
work=$(mktemp -d -t worker-host-test.XXXXXX)
cleanup() {
  [ -n "${TEMPORAL_PID:-}" ] && stop_pid "$TEMPORAL_PID"
  rm -rf "$work"
}
trap cleanup EXIT

start_temporal "$work"
echo "Temporal dev server on 127.0.0.1:$TEMPORAL_PORT" >&2
export TEST_TEMPORAL_ADDRESS="127.0.0.1:$TEMPORAL_PORT"
cargo test "$@"
