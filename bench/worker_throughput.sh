#!/usr/bin/env bash
# Worker throughput and idle memory: worker-host (examples/custom_host, release build) vs. the
# Python `temporalio` SDK, side by side on one Temporal dev server started here.
#
#   bench/worker_throughput.sh            # no arguments needed; ~5-10 minutes on 2 cores
#
# 1. Throughput: BENCH_COUNT (2000) NoopWorkflow executions per side, one no-op activity each,
#    started by the same Python client (at most BENCH_CONCURRENCY=200 in flight) against a Python
#    worker and against one worker-host entry, both with 100 activity slots and 100 workflow-task
#    slots. Both workers run throughout; each is warmed up with BENCH_WARMUP (50) workflows, then
#    the count is run in BENCH_ROUNDS (2) batches per side, one side at a time, the order
#    alternating (Python, worker-host, worker-host, Python) so that drift in the machine's load
#    hits both. CPU time is utime+stime of each worker's own process and of the dev server, from
#    /proc, before and after each batch.
# 2. Idle memory: VmRSS of one worker-host process with 8 entries vs. 8 Python worker processes
#    (one per queue), after BENCH_IDLE_SECS (10) seconds of idling.
#
# Knobs (environment): BENCH_COUNT, BENCH_ROUNDS, BENCH_WARMUP, BENCH_CONCURRENCY, BENCH_IDLE_SECS,
# BENCH_HOST_CONFIG (worker-host config of the throughput run, default bench/host-throughput.toml),
# BENCH_PY_COMPRESSION (gRPC compression of the Python workers: default = the SDK's, gzip; or none
# to match worker-host's default `[temporal] compression = "none"`),
# BENCH_SKIP_BUILD=1 (use the existing binary), BENCH_KEEP=1 (keep the work directory and logs),
# CARGO_TARGET_DIR (default /root/.cache/worker-host/target), TEMPORAL_BIN, PYTHON.
set -euo pipefail

BENCH_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$BENCH_DIR/.." && pwd)"
COUNT="${BENCH_COUNT:-2000}"
WARMUP="${BENCH_WARMUP:-50}"
CONCURRENCY="${BENCH_CONCURRENCY:-200}"
ROUNDS="${BENCH_ROUNDS:-2}"
IDLE_SECS="${BENCH_IDLE_SECS:-10}"
PY_COMPRESSION="${BENCH_PY_COMPRESSION:-default}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/root/.cache/worker-host/target}"
HOST_BIN="$CARGO_TARGET_DIR/release/examples/custom_host"
PY="${PYTHON:-$(python3 -c 'import sys; print(sys.executable)')}"
# The real binary, not a pyenv shim, so that the pid we hold is the server itself.
TEMPORAL_BIN="${TEMPORAL_BIN:-$(pyenv which temporal 2>/dev/null || command -v temporal)}"

# worker-host configs; their task queues are read from them.
WH_TP_CONFIG="${BENCH_HOST_CONFIG:-$BENCH_DIR/host-throughput.toml}"
WH_IDLE_CONFIG="$BENCH_DIR/host-idle8.toml"
queues_of() {  # config -> its entries' task queues, one a line
    "$PY" -c 'import sys, tomllib
for w in tomllib.load(open(sys.argv[1], "rb"))["workers"]: print(w["task_queue"])' "$1"
}
WH_TP_QUEUE="$(queues_of "$WH_TP_CONFIG" | head -n 1)"
mapfile -t WH_IDLE_QUEUES < <(queues_of "$WH_IDLE_CONFIG")
PY_TP_QUEUE="bench-py-noop"
PY_IDLE_QUEUES=()
for i in $(seq 1 "${#WH_IDLE_QUEUES[@]}"); do PY_IDLE_QUEUES+=("bench-py-idle-$i"); done

log() { printf '[%s] %s\n' "$(date +%T)" "$*" >&2; }

WORK="$(mktemp -d /tmp/worker-host-bench.XXXXXX)"
STARTED=()   # pids of every process this script started
ok=0
cleanup() {
    local pid
    for pid in "${STARTED[@]+"${STARTED[@]}"}"; do
        kill -TERM "$pid" 2>/dev/null || true
    done
    for pid in "${STARTED[@]+"${STARTED[@]}"}"; do
        wait "$pid" 2>/dev/null || true
    done
    if [[ "$ok" == 1 && -z "${BENCH_KEEP:-}" ]]; then
        rm -rf "$WORK"
    else
        log "logs and results kept in $WORK"
    fi
}
trap cleanup EXIT

free_port() {
    "$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Stop one process we started with SIGTERM and wait for it; its exit code goes to STOP_RC.
stop() {
    local pid="$1" p kept=()
    STOP_RC=0
    kill -TERM "$pid"
    wait "$pid" || STOP_RC=$?
    for p in "${STARTED[@]+"${STARTED[@]}"}"; do [[ "$p" != "$pid" ]] && kept+=("$p"); done
    STARTED=("${kept[@]+"${kept[@]}"}")
}

start_py_worker() {  # queue logfile
    "$PY" "$BENCH_DIR/py_worker.py" --address "$ADDRESS" --task-queue "$1" \
        --max-concurrent-activities 100 --max-concurrent-workflow-tasks 100 \
        --grpc-compression "$PY_COMPRESSION" >"$2" 2>&1 &
    STARTED+=("$!")
    LAST_PID=$!
}

start_host() {  # config logfile
    TEMPORAL_ADDRESS="$ADDRESS" TEMPORAL_NAMESPACE=default \
        WORKER_HOST_HOST__LISTEN="127.0.0.1:$(free_port)" \
        WORKER_HOST_HOST__DATA_DIR="$WORK/host-data" \
        RUST_LOG="${RUST_LOG:-info}" \
        "$HOST_BIN" run --config "$1" >"$2" 2>&1 &
    STARTED+=("$!")
    LAST_PID=$!
}

# --- build --------------------------------------------------------------------------------------
if [[ -z "${BENCH_SKIP_BUILD:-}" ]]; then
    log "building custom_host (release) into $CARGO_TARGET_DIR"
    (cd "$ROOT" && cargo build --release --example custom_host)
fi
[[ -x "$HOST_BIN" ]] || { echo "missing $HOST_BIN (build it or unset BENCH_SKIP_BUILD)" >&2; exit 1; }
"$PY" -c 'import temporalio' 2>/dev/null || "$PY" -m pip install --quiet temporalio
"$HOST_BIN" validate --config "$WH_TP_CONFIG" >"$WORK/validate.txt"
"$HOST_BIN" validate --config "$WH_IDLE_CONFIG" >>"$WORK/validate.txt"

# --- Temporal dev server ------------------------------------------------------------------------
PORT="$(free_port)"
ADDRESS="127.0.0.1:$PORT"
log "starting the Temporal dev server on $ADDRESS"
"$TEMPORAL_BIN" server start-dev --headless --ip 127.0.0.1 --port "$PORT" \
    --db-filename "$WORK/temporal.sqlite" --log-level error >"$WORK/server.log" 2>&1 &
SERVER_PID=$!
STARTED+=("$SERVER_PID")
for _ in $(seq 1 150); do
    "$TEMPORAL_BIN" operator cluster health --address "$ADDRESS" >/dev/null 2>&1 && break
    kill -0 "$SERVER_PID" 2>/dev/null || { cat "$WORK/server.log" >&2; exit 1; }
    sleep 0.2
done
"$TEMPORAL_BIN" operator cluster health --address "$ADDRESS" >/dev/null

echo "== worker throughput and memory: worker-host vs Python temporalio =="
echo "date:        $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "machine:     $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -sr)"
echo "load avg:    $(cut -d" " -f1-3 /proc/loadavg) (1/5/15 min, before the run; other work on the machine skews CPU and wall figures)"
echo "python:      $("$PY" -c 'import sys, temporalio; print(sys.version.split()[0], "temporalio", temporalio.__version__)'), gRPC compression: ${PY_COMPRESSION/default/SDK default (gzip)}"
echo "temporal:    $("$TEMPORAL_BIN" --version)"
echo "worker-host: $HOST_BIN (release), gRPC compression: $("$PY" -c 'import sys, tomllib
print(tomllib.load(open(sys.argv[1], "rb")).get("temporal", {}).get("compression", "none (default)"))' "$WH_TP_CONFIG")"
echo

# --- 1. throughput: both workers up, batches alternate between them ----------------------------
DRIVE=("$PY" "$BENCH_DIR/drive.py")
log "throughput: Python worker on $PY_TP_QUEUE, worker-host entry on $WH_TP_QUEUE"
start_py_worker "$PY_TP_QUEUE" "$WORK/py-worker.log"
PYW=$LAST_PID
start_host "$WH_TP_CONFIG" "$WORK/host-throughput.log"
WHP=$LAST_PID
"${DRIVE[@]}" wait-pollers --address "$ADDRESS" --task-queue "$PY_TP_QUEUE" "$WH_TP_QUEUE"
"${DRIVE[@]}" throughput --address "$ADDRESS" --server-pid "$SERVER_PID" \
    --count "$COUNT" --rounds "$ROUNDS" --warmup "$WARMUP" --concurrency "$CONCURRENCY" \
    --side "python:$PY_TP_QUEUE:$PYW" --side "worker-host:$WH_TP_QUEUE:$WHP" --out-dir "$WORK"
stop "$PYW"; [[ "$STOP_RC" == 0 ]] || log "Python worker exited with $STOP_RC"
stop "$WHP"
[[ "$STOP_RC" == 0 ]] || { log "worker-host exited with $STOP_RC"; tail -20 "$WORK/host-throughput.log" >&2; exit 1; }

# --- 2. idle memory: 1 host process with 8 entries vs 8 Python processes ------------------------
log "idle memory: 1 worker-host process (${#WH_IDLE_QUEUES[@]} entries) and ${#PY_IDLE_QUEUES[@]} Python processes"
start_host "$WH_IDLE_CONFIG" "$WORK/host-idle.log"
WH_IDLE_PID=$LAST_PID
PY_IDLE_PIDS=()
for q in "${PY_IDLE_QUEUES[@]}"; do
    start_py_worker "$q" "$WORK/py-idle-$q.log"
    PY_IDLE_PIDS+=("$LAST_PID")
done
"${DRIVE[@]}" wait-pollers --address "$ADDRESS" --task-queue "${WH_IDLE_QUEUES[@]}" "${PY_IDLE_QUEUES[@]}"
log "all $((${#WH_IDLE_QUEUES[@]} + ${#PY_IDLE_QUEUES[@]})) queues polled; idling ${IDLE_SECS}s"
sleep "$IDLE_SECS"
"${DRIVE[@]}" memory --label worker-host --pid "$WH_IDLE_PID" --out "$WORK/mem-worker-host.json"
"${DRIVE[@]}" memory --label python --pid "${PY_IDLE_PIDS[@]}" --out "$WORK/mem-python.json"
stop "$WH_IDLE_PID"; [[ "$STOP_RC" == 0 ]] || log "idle worker-host exited with $STOP_RC"
for pid in "${PY_IDLE_PIDS[@]}"; do stop "$pid"; done

# --- report -------------------------------------------------------------------------------------
echo
"$PY" "$BENCH_DIR/report.py" "$WORK"
ok=1
