#!/usr/bin/env bash
# Hot-reload latency: from saving workers.toml to the replacement worker polling, p50/p90/p99
# over many reloads, against a Temporal dev server started here. Goal: p50 under 1 s.
#
#   bench/reload_latency.sh            # no arguments needed; ~1.5 minutes once built
#
# One worker-host process (release build of examples/custom_host, `[host] reload = true`) runs
# one entry: SleepWorkflow + activity `sleep` on task queue RELOAD_QUEUE. bench/reload_drive.py
# then
#   1. starts RELOAD_BASELINE (default RELOAD_COUNT) SleepWorkflow(millis=0) executions, one every
#      RELOAD_GAP_MS, with no edits: the end-to-end latency of a workflow without any reload;
#   2. RELOAD_COUNT (100) times, every RELOAD_GAP_MS (300; the host merges saves within 150 ms),
#      saves the config like an editor (temp file + rename over) with another `pollers` (a
#      change of limits alone is applied in place; pollers need a new worker), so the entry is
#      replaced, and measures
#      (a) from the save to the host's `worker polling` log line of that generation (and to its
#          `config applied generation=N` line), from the log's timestamps (JSON log lines);
#      (b) end to end: from the save to the result of a SleepWorkflow(millis=0) started on the
#          queue by a Python client right after the save;
#      (c) the same for a workflow started as soon as the `worker polling` line appears, which
#          the new worker has to run.
#      (d) only with RELOAD_SWAP_PROBE_MS set (e.g. 140): the same for a workflow started that
#          long after the save, so that its first workflow task reaches the workers just as the
#          host swaps them (~150 ms after the save). Off by default: its lost tasks (below) come
#          back 10 s later at random moments and then skew (b) and (c).
#      Then it reads the measured workflows' histories and counts those with a timed-out
#      workflow task: a task handed to a worker that never completed it (Temporal retries it after
#      the 10 s workflow-task timeout).
# It prints p50/p90/p99/max of each, then stops everything it started.
#
# RELOAD_MODE=stream measures instead what an operator tuning under load sees: one steady stream
# of SleepWorkflow(millis=0), 5 a second, on the entry, with RELOAD_LOAD (2) busy processes
# spinning next to it, through (a) 20 s without edits, (b) 30 edits of max_concurrent_activities
# (10 <-> 11) 0.5 s apart, applied in place, and (c) 10 edits of `pollers` (4 <-> 5) 3 s apart,
# each replacing the worker: p50/p99/max start -> result per phase, workflows over 2 s, retried
# activities and timed-out workflow tasks, and save -> `config applied` (the limit in force).
#
# Knobs (environment): RELOAD_COUNT (100), RELOAD_BASELINE, RELOAD_GAP_MS (300), RELOAD_QUEUE,
# RELOAD_WARMUP_SECS (20: workflows at the same pace before the baseline; a fresh dev server is
# slower for its first ~20 s), RELOAD_SWAP_PROBE_MS (0 = off; 140 turns (d) on),
# RELOAD_VERBOSE=1 (a line per reload), BENCH_SKIP_BUILD=1 (use the existing binary),
# BENCH_KEEP=1 (keep the work directory: host log, config, results JSON), CARGO_TARGET_DIR
# (default /root/.cache/worker-host/target), TEMPORAL_CLI, PYTHON.
set -euo pipefail

BENCH_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$BENCH_DIR/.." && pwd)"
COUNT="${RELOAD_COUNT:-100}"
BASELINE="${RELOAD_BASELINE:-$COUNT}"
GAP_MS="${RELOAD_GAP_MS:-300}"
WARMUP_SECS="${RELOAD_WARMUP_SECS:-20}"
SWAP_PROBE_MS="${RELOAD_SWAP_PROBE_MS:-0}"
MODE="${RELOAD_MODE:-swap}"
LOAD="${RELOAD_LOAD:-2}"
LOAD_PIDS=()
QUEUE="${RELOAD_QUEUE:-bench-reload}"
ENTRY="reload-bench"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/root/.cache/worker-host/target}"
HOST_BIN="${HOST_BIN:-$CARGO_TARGET_DIR/release/examples/custom_host}"
PY="${PYTHON:-$(python3 -c 'import sys; print(sys.executable)')}"

# free_port, start_temporal (dev server with frontend.enableCancelWorkerPollsOnShutdown=true),
# ensure_temporal_cli. The real binary, not a pyenv shim, so that TEMPORAL_PID is the server.
# shellcheck source=../scripts/services.sh
source "$ROOT/scripts/services.sh"
export TEMPORAL_CLI="${TEMPORAL_CLI:-$(pyenv which temporal 2>/dev/null || command -v temporal || echo temporal)}"

log() { printf '[%s] %s\n' "$(date +%T)" "$*" >&2; }

WORK="$(mktemp -d /tmp/worker-host-reload.XXXXXX)"
CONFIG="$WORK/workers.toml"   # alone in its directory with the host's log and data
TEMPORAL_PID=""
HOST_PID=""
ok=0
cleanup() {
    [[ ${#LOAD_PIDS[@]} -gt 0 ]] && kill "${LOAD_PIDS[@]}" 2>/dev/null
    [[ -n "$HOST_PID" ]] && stop_pid "$HOST_PID"
    [[ -n "$TEMPORAL_PID" ]] && stop_pid "$TEMPORAL_PID"
    [[ -n "$HOST_PID" ]] && { wait "$HOST_PID" 2>/dev/null || true; }
    [[ -n "$TEMPORAL_PID" ]] && { wait "$TEMPORAL_PID" 2>/dev/null || true; }
    if [[ "$ok" == 1 && -z "${BENCH_KEEP:-}" ]]; then
        rm -rf "$WORK"
    else
        log "logs and results kept in $WORK"
    fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- build --------------------------------------------------------------------------------------
if [[ -z "${BENCH_SKIP_BUILD:-}" ]]; then
    log "building custom_host (release) into $CARGO_TARGET_DIR"
    (cd "$ROOT" && cargo build --release --example custom_host)
fi
[[ -x "$HOST_BIN" ]] || { echo "missing $HOST_BIN (build it or unset BENCH_SKIP_BUILD)" >&2; exit 1; }
"$PY" -c 'import temporalio' 2>/dev/null || "$PY" -m pip install --quiet temporalio
ensure_temporal_cli

DRIVE=("$PY" "$BENCH_DIR/reload_drive.py")
"${DRIVE[@]}" write-config --config "$CONFIG" --task-queue "$QUEUE" --entry "$ENTRY" --slots 10
"$HOST_BIN" validate --config "$CONFIG" >"$WORK/validate.txt"

# --- Temporal dev server and the host -----------------------------------------------------------
log "starting the Temporal dev server"
start_temporal "$WORK"
ADDRESS="127.0.0.1:$TEMPORAL_PORT"

echo "== hot-reload latency: save of the config -> replacement worker polling =="
echo "date:        $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "machine:     $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -sr)"
echo "load avg:    $(cut -d" " -f1-3 /proc/loadavg) (1/5/15 min, before the run)"
echo "python:      $("$PY" -c 'import sys, temporalio; print(sys.version.split()[0], "temporalio", temporalio.__version__)')"
echo "temporal:    $("$TEMPORAL_CLI" --version) on $ADDRESS"
echo "worker-host: $HOST_BIN (release)"
echo

log "starting worker-host on $CONFIG (reload = true)"
TEMPORAL_ADDRESS="$ADDRESS" TEMPORAL_NAMESPACE=default \
    WORKER_HOST_HOST__LISTEN="127.0.0.1:$(free_port)" \
    WORKER_HOST_HOST__DATA_DIR="$WORK/host-data" \
    RUST_LOG="${RUST_LOG:-info}" \
    "$HOST_BIN" --log-format json run --config "$CONFIG" >"$WORK/host.log" 2>&1 &
HOST_PID=$!

if [[ "$MODE" == stream ]]; then
    # Busy work next to the host (as a parallel build would be): RELOAD_LOAD processes spinning.
    for _ in $(seq 1 "$LOAD"); do
        nice -n 5 "$PY" -c 'while True: pass' &
        LOAD_PIDS+=("$!")
    done
    log "stream: ${LOAD} busy processes; warm-up ${WARMUP_SECS}s, then (a) no edits, (b) limit edits, (c) structural edits"
    "${DRIVE[@]}" stream --address "$ADDRESS" --config "$CONFIG" --log "$WORK/host.log" \
        --task-queue "$QUEUE" --entry "$ENTRY" --slots 10 --warmup-secs "$WARMUP_SECS" \
        --out "$WORK/stream.json"
    echo "load avg:    $(cut -d" " -f1-3 /proc/loadavg) (after the run)"
    kill "${LOAD_PIDS[@]}" 2>/dev/null || true
    LOAD_PIDS=()
    COUNT=$(grep -c '"replaced":"\[\\"'"$ENTRY" "$WORK/host.log" || true)
else
log "warm-up ${WARMUP_SECS}s, baseline ($BASELINE workflows), then $COUNT reloads ${GAP_MS} ms apart"
"${DRIVE[@]}" run --address "$ADDRESS" --config "$CONFIG" --log "$WORK/host.log" \
    --task-queue "$QUEUE" --entry "$ENTRY" --slots 10 \
    --count "$COUNT" --baseline-count "$BASELINE" --gap-ms "$GAP_MS" --warmup-secs "$WARMUP_SECS" \
    --swap-probe-ms "$SWAP_PROBE_MS" --host-pid "$HOST_PID" --server-pid "$TEMPORAL_PID" \
    --out "$WORK/reload.json" ${RELOAD_VERBOSE:+--verbose}
fi

# --- stop: the host must drain cleanly (exit 0) -------------------------------------------------
kill -TERM "$HOST_PID"
rc=0
wait "$HOST_PID" || rc=$?
HOST_PID=""
stopped=$(grep -c '"entry stopped; in-flight activities drained"' "$WORK/host.log" || true)
echo "host: exit code $rc on SIGTERM; $stopped replaced or stopped workers drained cleanly" \
    "(expected $((COUNT + 1)): $COUNT replaced + the last one)"
[[ "$rc" == 0 ]] || { tail -20 "$WORK/host.log" >&2; exit 1; }
ok=1
