#!/usr/bin/env bash
# Soak: one host for SOAK_MINUTES (20) of steady work, watching for leaks and failures.
#
#   bench/soak.sh                 # ~20 minutes once built; not part of the test suite
#
# One worker-host process (examples/custom_host: the built-in registry plus NoopWorkflow) on a
# Temporal dev server started here, the embedded graph store, `[host] reload = true`. The driver
# (bench/soak_drive.py)
#   - starts NoopWorkflow executions at a steady SOAK_RATE per second (default 5) and waits for
#     each result;
#   - indexes a repository (a copy of part of CPython's standard library, a few hundred .py
#     files, committed to a scratch git repository) every SOAK_INDEX_EVERY seconds (60), always
#     the same repo_id, so every run after the first is incremental;
#   - edits workers.toml every SOAK_EDIT_EVERY seconds (30) like an editor (temp file + rename),
#     changing the no-op entry's max_concurrent_activities, so that entry is replaced each time;
#   - samples every 10 s the host's RSS, its open file descriptors and the files under its
#     data_dir.
# It prints failed workflows (goal 0), RSS at minute 5 and at the end (goal: within 10 %), and
# open fds and data_dir files over time (goal: flat), and writes everything to soak.json.
#
# Knobs (environment): SOAK_MINUTES (20), SOAK_RATE (5), SOAK_INDEX_EVERY (60),
# SOAK_EDIT_EVERY (30), SOAK_PROFILE (release, or debug when no release build exists; debug
# binaries are ~20x slower to start workflows), BENCH_SKIP_BUILD=1 (use the existing binary),
# BENCH_KEEP=1 (keep the work directory), CARGO_TARGET_DIR (default
# /root/.cache/worker-host/target), TEMPORAL_CLI, PYTHON.
set -euo pipefail

BENCH_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$BENCH_DIR/.." && pwd)"
MINUTES="${SOAK_MINUTES:-20}"
RATE="${SOAK_RATE:-5}"
INDEX_EVERY="${SOAK_INDEX_EVERY:-60}"
EDIT_EVERY="${SOAK_EDIT_EVERY:-30}"
PROFILE="${SOAK_PROFILE:-release}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/root/.cache/worker-host/target}"
HOST_BIN="$CARGO_TARGET_DIR/$PROFILE/examples/custom_host"
PY="${PYTHON:-$(python3 -c 'import sys; print(sys.executable)')}"

# shellcheck source=../scripts/services.sh
source "$ROOT/scripts/services.sh"
export TEMPORAL_CLI="${TEMPORAL_CLI:-$(pyenv which temporal 2>/dev/null || command -v temporal || echo temporal)}"

log() { printf '[%s] %s\n' "$(date +%T)" "$*" >&2; }

WORK="$(mktemp -d /tmp/worker-host-soak.XXXXXX)"
CONFIG="$WORK/workers.toml"
DATA="$WORK/host-data"
TEMPORAL_PID=""
HOST_PID=""
ok=0
cleanup() {
    [[ -n "$HOST_PID" ]] && stop_pid "$HOST_PID"
    [[ -n "$TEMPORAL_PID" ]] && stop_pid "$TEMPORAL_PID"
    if [[ "$ok" == 1 && -z "${BENCH_KEEP:-}" ]]; then
        rm -rf "$WORK"
    else
        log "logs and results kept in $WORK"
    fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if [[ -z "${BENCH_SKIP_BUILD:-}" ]]; then
    flag=()
    [[ "$PROFILE" == release ]] && flag=(--release)
    log "building custom_host ($PROFILE) into $CARGO_TARGET_DIR"
    (cd "$ROOT" && cargo build "${flag[@]}" --example custom_host)
fi
[[ -x "$HOST_BIN" ]] || { echo "missing $HOST_BIN (build it or unset BENCH_SKIP_BUILD)" >&2; exit 1; }
"$PY" -c 'import temporalio' 2>/dev/null || "$PY" -m pip install --quiet temporalio
ensure_temporal_cli

# A repository to index: part of the machine's Python standard library, committed.
REPO="$WORK/repo"
STDLIB="$("$PY" -c 'import sysconfig; print(sysconfig.get_paths()["stdlib"])')"
mkdir -p "$REPO"
for pkg in json email http logging asyncio; do cp -r "$STDLIB/$pkg" "$REPO/"; done
find "$REPO" -name __pycache__ -prune -exec rm -rf {} +
git -C "$REPO" init -q -b main
git -C "$REPO" add -A
git -C "$REPO" -c user.name=soak -c user.email=soak@localhost commit -q -m soak

log "starting the Temporal dev server"
start_temporal "$WORK"
ADDRESS="127.0.0.1:$TEMPORAL_PORT"
LISTEN="127.0.0.1:$(free_port)"

DRIVE=("$PY" "$BENCH_DIR/soak_drive.py")
"${DRIVE[@]}" write-config --config "$CONFIG" --listen "$LISTEN" --slots 8
"$HOST_BIN" validate --config "$CONFIG" >"$WORK/validate.txt"

echo "== soak: ${MINUTES} min, ${RATE} no-op workflows/s, an index run every ${INDEX_EVERY} s, a config edit every ${EDIT_EVERY} s =="
echo "date:        $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "machine:     $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), load $(cut -d" " -f1-3 /proc/loadavg)"
echo "temporal:    $("$TEMPORAL_CLI" --version) on $ADDRESS"
echo "worker-host: $HOST_BIN ($PROFILE)"
echo "repository:  $(find "$REPO" -name '*.py' | wc -l) .py files"
echo

TEMPORAL_ADDRESS="$ADDRESS" TEMPORAL_NAMESPACE=default \
    WORKER_HOST_HOST__DATA_DIR="$DATA" \
    RUST_LOG="${RUST_LOG:-info,temporalio_sdk_core=warn}" \
    "$HOST_BIN" --log-format json run --config "$CONFIG" >"$WORK/host.log" 2>&1 &
HOST_PID=$!

rc=0
"${DRIVE[@]}" run --address "$ADDRESS" --config "$CONFIG" --listen "$LISTEN" \
    --host-pid "$HOST_PID" --data-dir "$DATA" --repo "$REPO" \
    --minutes "$MINUTES" --rate "$RATE" --index-every "$INDEX_EVERY" --edit-every "$EDIT_EVERY" \
    --out "$WORK/soak.json" || rc=$?

kill -TERM "$HOST_PID"
wait "$HOST_PID" || true
HOST_PID=""
[[ "$rc" == 0 ]] && ok=1
exit "$rc"
