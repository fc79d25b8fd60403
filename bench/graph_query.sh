#!/usr/bin/env bash
# Query latency of `worker-host graph` (issue 17) on CPython's standard library, on the embedded
# store and on Neo4j, side by side with the same questions asked of a peer indexer
# (@colbymchenry/codegraph from npm) on the same tree.
#
#   bench/graph_query.sh      # ~5 minutes on 2 cores after the release build
#
# Corpus: this machine's stdlib without site-packages, __pycache__ and test/ (as in
# bench/index_e2e.sh), committed to a scratch git repository. It is indexed once per store by
# the release `worker-host run` (the shipped workers.toml, settings from WORKER_HOST_*
# variables) on a Temporal dev server, as repository `stdlib`; the host is stopped before any
# question is timed. The peer indexes the same tree with `codegraph init`.
#
# Questions, each asked BENCH_REPS (40) times after 3 untimed warm-ups, one process per ask
# (what a user or an agent shelling out sees: start-up, opening the store, the query, printing
# JSON), timed by bench/graph_query_time.py:
#   callers  `graph callers os.path.join --repo stdlib --json --limit 200`
#            vs `codegraph callers join --json --limit 200`
#   find     `graph find get --repo stdlib --json --limit 200`
#            vs `codegraph query get --json --limit 200`
# The peer has no `os.path.join` node: its nearest question is the callers of the symbols
# named `join`. Both sides list at most 200 rows.
#
# Knobs: BENCH_REPS, BENCH_NEO4J=0 (skip Neo4j), BENCH_PEER_DIR (an npm prefix with the peer
# installed; default: installed into the work directory), BENCH_SKIP_BUILD=1, BENCH_KEEP=1,
# CARGO_TARGET_DIR (default /root/.cache/worker-host/target), NEO4J_PASSWORD.
set -euo pipefail

BENCH_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$BENCH_DIR/.." && pwd)"
REPS="${BENCH_REPS:-40}"
CODEGRAPH_VERSION="${BENCH_CODEGRAPH_VERSION:-1.6.1}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/root/.cache/worker-host/target}"
export NEO4J_PASSWORD="${NEO4J_PASSWORD:-worker-host-test}"
BIN="$CARGO_TARGET_DIR/release/worker-host"
# shellcheck source=../scripts/services.sh
. "$ROOT/scripts/services.sh"

log() { printf '[%s] %s\n' "$(date +%T)" "$*" >&2; }

WORK="$(mktemp -d /tmp/graph-query.XXXXXX)"
HOST_PID="" TEMPORAL_PID="" NEO4J_PORT="" ok=0
cleanup() {
    set +e
    [[ -n "$HOST_PID" ]] && { stop_pid "$HOST_PID"; wait "$HOST_PID" 2>/dev/null; }
    [[ -n "$NEO4J_PORT" ]] && "$ROOT/scripts/neo4j.sh" stop --port "$NEO4J_PORT" >/dev/null 2>&1
    [[ -n "$TEMPORAL_PID" ]] && { stop_pid "$TEMPORAL_PID"; wait "$TEMPORAL_PID" 2>/dev/null; }
    if [[ "$ok" == 1 && -z "${BENCH_KEEP:-}" ]]; then rm -rf "$WORK"; else log "work directory kept: $WORK"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

[[ -n "${BENCH_SKIP_BUILD:-}" ]] || (cd "$ROOT" && cargo build --release --bin worker-host >&2)
ensure_temporal_cli

STDLIB="$(python3 -c 'import sysconfig; print(sysconfig.get_paths()["stdlib"])')"
CORPUS="$WORK/stdlib"
mkdir -p "$CORPUS"
(cd "$STDLIB" && tar --exclude=./site-packages --exclude='__pycache__' --exclude=./test -cf - .) | tar -C "$CORPUS" -xf -
(cd "$CORPUS" && git init -q && git add -A && git -c gc.auto=0 -c user.name=bench -c user.email=bench@localhost commit -qm corpus)
log "corpus: $(find "$CORPUS" -name '*.py' -not -path '*/.git/*' | wc -l) .py files"

start_temporal "$WORK"
export TEMPORAL_ADDRESS="127.0.0.1:$TEMPORAL_PORT"
export WORKER_HOST_INDEXING__ALLOW_LOCAL_REPOS=true WORKER_HOST_HOST__RELOAD=false

# use_store NAME [URI]: the WORKER_HOST_* settings of one store, for the host and the queries.
use_store() {
    export WORKER_HOST_HOST__DATA_DIR="$WORK/data-$1"
    if [[ -n "${2:-}" ]]; then
        export WORKER_HOST_INDEXING__GRAPH__BACKEND=neo4j WORKER_HOST_INDEXING__GRAPH__URI="$2"
    else
        export WORKER_HOST_INDEXING__GRAPH__BACKEND=embedded
    fi
}

# index_corpus NAME: a host on the current store indexes the corpus as `stdlib`, then stops.
index_corpus() {
    export WORKER_HOST_HOST__LISTEN="127.0.0.1:$(free_port)"
    "$BIN" run --config "$ROOT/workers.toml" 2>"$WORK/host-$1.log" &
    HOST_PID=$!
    for _ in $(seq 1 300); do
        [[ "$(grep -c 'worker polling' "$WORK/host-$1.log")" -ge 3 ]] && break
        kill -0 "$HOST_PID" 2>/dev/null || { cat "$WORK/host-$1.log" >&2; exit 1; }
        sleep 0.1
    done
    "$BIN" index "$CORPUS" --repo-id stdlib --config "$ROOT/workers.toml" --json >"$WORK/summary-$1.json"
    log "$1: indexed; $(python3 -c 'import json,sys; s=json.load(open(sys.argv[1])); w=s.get("written") or {}; print(w.get("nodes"), "nodes,", w.get("relationships"), "relationships")' "$WORK/summary-$1.json" 2>/dev/null)"
    stop_pid "$HOST_PID"; wait "$HOST_PID" 2>/dev/null || true; HOST_PID=""
}

TIMES="$WORK/times.tsv"
: >"$TIMES"
# ask SIDE QUESTION CMD...: time CMD; one line per (side, question) in $TIMES.
ask() {
    local side=$1 question=$2; shift 2
    python3 "$BENCH_DIR/graph_query_time.py" "$REPS" "$side" "$question" "$@" >>"$TIMES"
}

ours() {
    ask "$1" callers "$BIN" graph --config "$ROOT/workers.toml" callers os.path.join --repo stdlib --json --limit 200
    ask "$1" find "$BIN" graph --config "$ROOT/workers.toml" find get --repo stdlib --json --limit 200
}

use_store embedded
index_corpus embedded
ours embedded

if [[ "${BENCH_NEO4J:-1}" != 0 ]]; then
    NEO4J_PORT=$(free_port)
    uri=$("$ROOT/scripts/neo4j.sh" start --port "$NEO4J_PORT" --data "$WORK/neo4j-data")
    use_store neo4j "$uri"
    index_corpus neo4j
    ours neo4j
    "$ROOT/scripts/neo4j.sh" stop --port "$NEO4J_PORT" >/dev/null 2>&1; NEO4J_PORT=""
fi

PEER_DIR="${BENCH_PEER_DIR:-$WORK/peer-npm}"
cg="$PEER_DIR/node_modules/.bin/codegraph"
if [[ ! -x "$cg" ]]; then
    log "installing @colbymchenry/codegraph@$CODEGRAPH_VERSION into $PEER_DIR (npm)"
    mkdir -p "$PEER_DIR"
    (cd "$PEER_DIR" && npm install --no-audit --no-fund --loglevel=error \
        "@colbymchenry/codegraph@$CODEGRAPH_VERSION" >"$WORK/peer-install.log" 2>&1)
fi
export CODEGRAPH_TELEMETRY=0 DO_NOT_TRACK=1 CODEGRAPH_NO_DOWNLOAD=1
PEER_NAME="codegraph $("$cg" --version 2>/dev/null || echo '?')"
"$cg" init --yes "$CORPUS" >"$WORK/peer-init.log" 2>&1
log "$PEER_NAME: indexed"
ask codegraph callers "$cg" callers join --path "$CORPUS" --json --limit 200
ask codegraph find "$cg" query get --path "$CORPUS" --json --limit 200

echo "== graph queries on CPython's stdlib: worker-host graph (release) vs. $PEER_NAME =="
echo "date:     $(date -u '+%Y-%m-%d %H:%M UTC'); $(nproc) cores; load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "worker-host: $(git -C "$ROOT" rev-parse --short HEAD); $REPS asks per line, one process each"
echo
python3 - "$TIMES" <<'PY'
import sys
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1]) if l.strip()]
by = {(r[0], r[1]): r for r in rows}
print(f"{'question':<9} {'side':<10} {'p50 ms':>8} {'p99 ms':>8} {'rows':>6}  {'p50 vs codegraph':>17}")
for q in ("callers", "find"):
    peer = by.get(("codegraph", q))
    for side in ("embedded", "neo4j", "codegraph"):
        r = by.get((side, q))
        if not r:
            continue
        ratio = f"{float(peer[2]) / float(r[2]):.1f}x faster" if peer and side != "codegraph" else ""
        print(f"{q:<9} {side:<10} {float(r[2]):>8.1f} {float(r[3]):>8.1f} {r[4]:>6}  {ratio:>17}")
PY
ok=1
