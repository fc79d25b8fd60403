#!/usr/bin/env bash
# End-to-end indexing of CPython's standard library through a real Temporal dev server
# (issue 6): RepoIndexingWorkflow on the release `worker-host run`, started with
# `worker-host index <repo> --json`, into the embedded store and into a fresh Neo4j, next to a
# peer (@colbymchenry/codegraph from npm) on the same tree, timed with the same clock.
#
#   bench/index_e2e.sh        # ~3-5 minutes on 2 cores after the release build
#
# Corpus: this machine's stdlib (python3's sysconfig "stdlib" path) without site-packages,
# __pycache__ and the top-level test/ folder (~970 .py files), copied into a scratch git
# repository and committed. BENCH_FULL=1 adds a second corpus: the same with test/ (~1,790).
#
# Scale (issue 15 item 5): BENCH_SCALE="1000 10000 30000" replaces the stdlib by corpora of that
# many real source files (bench/scale_corpus.py: crates of this workspace's Cargo.lock from
# cargo's registry, Rust, and the whole Python stdlib with site-packages, package by package),
# with BENCH_RUNS=1 and BENCH_NEO4J=0 unless set. Peak RSS is reported for both sides: the
# host's VmHWM (a fresh host per corpus and store, read after its last run) and the peer's
# maximum resident size from /usr/bin/time.
#
# Per corpus and store: a fresh host (fresh data_dir; for Neo4j a fresh server from
# scripts/neo4j.sh on a free port) on a generated config (allow_local_repos = true, the three
# indexing entries of the shipped workers.toml, listen on a free port), then BENCH_RUNS (2)
# times `worker-host index <corpus> --json --full`: run 1 writes into an empty graph, run 2
# re-indexes the same commit in full (rewrites every node and relationship, then cleans stale
# ones; without --full it would be incremental and write nothing: see index_incremental.sh). Wall time is
# from the command's start to its summary on stdout (`date +%s.%N`); the per-stage durations
# come from the summary. CPU seconds of the host (and Neo4j) per run are read from /proc.
# The peer runs BENCH_RUNS times on the same tree (`codegraph init --yes`, then `codegraph
# index`: a full rebuild), timed the same way, after our runs, with everything of ours stopped.
#
# Knobs: BENCH_RUNS (2), BENCH_FULL=1, BENCH_NEO4J=0 (skip Neo4j), BENCH_OURS=0 (the peer only), BENCH_PEER (codegraph |
# cgc | none; default codegraph), BENCH_PEER_DIR (an existing npm prefix with the peer
# installed; default: installed into the work directory and deleted), BENCH_SKIP_BUILD=1,
# BENCH_KEEP=1 (keep the work directory: logs, summaries), CARGO_TARGET_DIR (default
# /root/.cache/worker-host/target), TEMPORAL_CLI, NEO4J_PASSWORD (default worker-host-test).
set -euo pipefail

BENCH_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$BENCH_DIR/.." && pwd)"
SCALE="${BENCH_SCALE:-}"
if [[ -n "$SCALE" ]]; then RUNS="${BENCH_RUNS:-1}"; BENCH_NEO4J="${BENCH_NEO4J:-0}"; else RUNS="${BENCH_RUNS:-2}"; fi
PEER="${BENCH_PEER:-codegraph}"
CODEGRAPH_VERSION="${BENCH_CODEGRAPH_VERSION:-1.6.1}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/root/.cache/worker-host/target}"
export NEO4J_PASSWORD="${NEO4J_PASSWORD:-worker-host-test}"
BIN="$CARGO_TARGET_DIR/release/worker-host"
# shellcheck source=../scripts/services.sh
. "$ROOT/scripts/services.sh"

log() { printf '[%s] %s\n' "$(date +%T)" "$*" >&2; }
now() { date +%s.%N; }
# cpu_of PID: utime+stime in seconds (0 when the process is gone).
cpu_of() {
    awk -v hz="$(getconf CLK_TCK)" '{ sub(/^.*\) /, ""); print ($12 + $13) / hz }' \
        "/proc/$1/stat" 2>/dev/null || echo 0
}

WORK="$(mktemp -d /tmp/index-e2e.XXXXXX)"
RESULTS="$WORK/results.tsv"   # one line per run: corpus store run wall_s host_cpu_s db_cpu_s summary.json peak_rss_kib
: >"$RESULTS"
HOST_PID=""
TEMPORAL_PID=""
NEO4J_PORT=""
ok=0
# stop_neo4j NAME: stop our Neo4j; keep its log in the work directory, drop its run directory.
stop_neo4j() {
    local rd="${NEO4J_RUN_DIR:-${TMPDIR:-/tmp}/worker-host-neo4j}/$NEO4J_PORT"
    "$ROOT/scripts/neo4j.sh" stop --port "$NEO4J_PORT" >/dev/null 2>&1 || true
    mv "$rd/neo4j.log" "$WORK/neo4j-$1.log" 2>/dev/null || true
    rm -rf "$rd"
    NEO4J_PORT=""
}
cleanup() {
    set +e
    [[ -n "$HOST_PID" ]] && { stop_pid "$HOST_PID"; wait "$HOST_PID" 2>/dev/null; }
    [[ -n "$NEO4J_PORT" ]] && stop_neo4j failed
    [[ -n "$TEMPORAL_PID" ]] && { stop_pid "$TEMPORAL_PID"; wait "$TEMPORAL_PID" 2>/dev/null; }
    if [[ "$ok" == 1 && -z "${BENCH_KEEP:-}" ]]; then
        rm -rf "$WORK"
    else
        log "work directory (logs, summaries) kept in $WORK"
        # The corpora and the peer's install are big and can be rebuilt: keep only the records.
        [[ -z "${BENCH_KEEP:-}" ]] && rm -rf "$WORK"/corpus-* "$WORK/peer-npm" "$WORK"/host-*/runs
    fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- build, tools -------------------------------------------------------------------------------
if [[ -z "${BENCH_SKIP_BUILD:-}" ]]; then
    log "building worker-host (release) into $CARGO_TARGET_DIR"
    (cd "$ROOT" && cargo build --release --bin worker-host)
fi
[[ -x "$BIN" ]] || { echo "missing $BIN (build it or unset BENCH_SKIP_BUILD)" >&2; exit 1; }
ensure_temporal_cli
[[ -x /usr/bin/time ]] || apt-get install -y time >/dev/null

# --- corpora ------------------------------------------------------------------------------------
# Committed with gc.auto=0: a commit of more than 6,700 loose objects (the 10k and 30k corpora)
# otherwise starts `git gc --auto` in the background, which took one of the two cores through
# the first ~25 s of the timed index.
STDLIB="$(python3 -c 'import sysconfig; print(sysconfig.get_paths()["stdlib"])')"
make_corpus() {  # name, extra tar excludes...
    local dir="$WORK/corpus-$1"; shift
    mkdir -p "$dir"
    (cd "$STDLIB" && tar --exclude=./site-packages --exclude='__pycache__' "$@" -cf - .) | tar -C "$dir" -xf -
    (cd "$dir" && git init -q && git add -A &&
        git -c gc.auto=0 -c user.name=bench -c user.email=bench@localhost commit -qm corpus)
}
if [[ -n "$SCALE" ]]; then
    (cd "$ROOT" && cargo fetch --locked >/dev/null)
    CORPORA=()
    for n in $SCALE; do
        CORPORA+=("scale-$n")
        d="$WORK/corpus-scale-$n"
        log "corpus scale-$n: $(python3 "$BENCH_DIR/scale_corpus.py" "$n" "$d"), $(du -sm "$d" | cut -f1) MiB"
        (cd "$d" && git init -q && git add -A &&
            git -c gc.auto=0 -c user.name=bench -c user.email=bench@localhost commit -qm corpus)
    done
else
    CORPORA=(stdlib)
    make_corpus stdlib --exclude=./test
    [[ "${BENCH_FULL:-}" == 1 ]] && { CORPORA+=(stdlib-full); make_corpus stdlib-full; }
    for c in "${CORPORA[@]}"; do
        d="$WORK/corpus-$c"
        log "corpus $c: $(find "$d" -name '*.py' -not -path '*/.git/*' | wc -l) .py files," \
            "$(( $(find "$d" -name '*.py' -not -path '*/.git/*' -printf '%s\n' | awk '{s+=$1} END {print s}') / 1048576 )) MiB of Python," \
            "$(du -sm --exclude=.git "$d" | cut -f1) MiB in all, commit $(git -C "$d" rev-parse --short HEAD)"
    done
fi

echo "== end-to-end indexing: worker-host (release) through a Temporal dev server, vs. $PEER =="
echo "date:        $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "machine:     $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -sr)"
echo "load avg:    $(cut -d' ' -f1-3 /proc/loadavg) (1/5/15 min, before the run; other work on the machine skews every figure)"
echo "worker-host: $BIN ($(git -C "$ROOT" rev-parse --short HEAD)$(git -C "$ROOT" diff --quiet HEAD -- src || echo '+changes'))"
echo "temporal:    $("${TEMPORAL_CLI:-temporal}" --version)"
echo "stdlib:      $STDLIB"
[[ "${BENCH_NEO4J:-1}" != 0 ]] && echo "neo4j:       scripts/neo4j.sh, heap ${NEO4J_HEAP:-1g}, page cache ${NEO4J_PAGECACHE:-128m} (NEO4J_HEAP, NEO4J_PAGECACHE)"
echo

# --- Temporal dev server ------------------------------------------------------------------------
start_temporal "$WORK"
ADDRESS="127.0.0.1:$TEMPORAL_PORT"
log "Temporal dev server on $ADDRESS (pid $TEMPORAL_PID)"

# write_config FILE DATA_DIR BACKEND [URI]: the three indexing entries of the shipped
# workers.toml on a generated config.
write_config() {
    local file=$1 data=$2 backend=$3 uri=${4:-}
    cat >"$file" <<EOF
[temporal]
address = "$ADDRESS"
namespace = "default"
dev_server = false

[host]
listen = "127.0.0.1:$(free_port)"
data_dir = "$data"
reload = false

[indexing]
allow_local_repos = true

[indexing.graph]
backend = "$backend"
EOF
    [[ -n "$uri" ]] && printf 'uri = "%s"\npassword_env = "NEO4J_PASSWORD"\n' "$uri" >>"$file"
    # The indexing entries, verbatim from the shipped config.
    python3 - "$ROOT/workers.toml" >>"$file" <<'PY'
import sys, tomllib
for w in tomllib.load(open(sys.argv[1], "rb"))["workers"]:
    if not w["name"].startswith("repo-"):
        continue
    print("\n[[workers]]")
    for k, v in w.items():
        if isinstance(v, bool):
            v = "true" if v else "false"
        elif isinstance(v, str):
            v = f'"{v}"'
        elif isinstance(v, list):
            v = "[" + ", ".join(f'"{x}"' for x in v) + "]"
        print(f"{k} = {v}")
PY
}

start_host() {  # config logfile
    : >"$2"
    RUST_LOG="${RUST_LOG:-info}" "$BIN" run --config "$1" 2>"$2" &
    HOST_PID=$!
    local entries i
    entries=$(grep -c '^\[\[workers\]\]' "$1")
    for i in $(seq 1 300); do
        [[ "$(grep -c 'worker polling' "$2")" -ge "$entries" ]] && return 0
        kill -0 "$HOST_PID" 2>/dev/null || { cat "$2" >&2; return 1; }
        sleep 0.1
    done
    echo "error: the host did not start its $entries entries; its log:" >&2
    tail -n 40 "$2" >&2
    return 1
}

stop_host() {
    stop_pid "$HOST_PID"
    wait "$HOST_PID" 2>/dev/null || true
    HOST_PID=""
}

# index_runs CORPUS STORE [DB_PID]: BENCH_RUNS runs of `worker-host index` on one host.
index_runs() {
    local corpus=$1 store=$2 db_pid=${3:-} run t0 t1 h0 h1 d0 d1 out
    for run in $(seq 1 "$RUNS"); do
        out="$WORK/summary-$corpus-$store-$run.json"
        h0=$(cpu_of "$HOST_PID"); d0=0; [[ -n "$db_pid" ]] && d0=$(cpu_of "$db_pid")
        t0=$(now)
        "$BIN" index "$WORK/corpus-$corpus" --config "$WORK/config-$corpus-$store.toml" --json --full \
            >"$out" 2>"$WORK/index-$corpus-$store-$run.log" || {
            echo "error: worker-host index failed ($corpus, $store, run $run):" >&2
            cat "$WORK/index-$corpus-$store-$run.log" >&2
            tail -n 30 "$WORK/host-$corpus-$store.log" >&2
            return 1
        }
        t1=$(now)
        h1=$(cpu_of "$HOST_PID"); d1=0; [[ -n "$db_pid" ]] && d1=$(cpu_of "$db_pid")
        printf '%s\t%s\t%s\t%.2f\t%.2f\t%.2f\t%s\t%s\n' "$corpus" "$store" "$run" \
            "$(echo "$t1 - $t0" | bc)" "$(echo "$h1 - $h0" | bc)" "$(echo "$d1 - $d0" | bc)" "$out" \
            "$(awk '/^VmHWM/ {print $2}' "/proc/$HOST_PID/status")" >>"$RESULTS"
        log "$corpus $store run $run: $(tail -n 1 "$RESULTS" | cut -f4) s"
    done
}

# --- worker-host: embedded store, then Neo4j ------------------------------------------------------
for corpus in "${CORPORA[@]}"; do
    [[ "${BENCH_OURS:-1}" == 0 ]] && break
    cfg="$WORK/config-$corpus-embedded.toml"
    write_config "$cfg" "$WORK/host-$corpus-embedded" embedded
    "$BIN" validate --config "$cfg" >/dev/null
    start_host "$cfg" "$WORK/host-$corpus-embedded.log"
    log "host on the embedded store (pid $HOST_PID); indexing $corpus"
    index_runs "$corpus" embedded
    stop_host
    # Each host writes a graph file of its own: a shared one would grow run after run.
    ls -l "$WORK/host-$corpus-embedded"/graph.sqlite* >"$WORK/graph-$corpus-embedded.size" 2>/dev/null ||
        { echo "index_e2e: no graph.sqlite in the host's data_dir $WORK/host-$corpus-embedded" >&2; exit 1; }
    rm -rf "$WORK/host-$corpus-embedded"   # the SQLite graph: tens of MB

    if [[ "${BENCH_NEO4J:-1}" != 0 ]]; then
        NEO4J_PORT=$(free_port)
        uri=$("$ROOT/scripts/neo4j.sh" start --port "$NEO4J_PORT" --data "$WORK/neo4j-$corpus" 2>"$WORK/neo4j-start-$corpus.log") || {
            cat "$WORK/neo4j-start-$corpus.log" >&2; exit 1; }
        neo4j_pid=$(cat "${NEO4J_RUN_DIR:-${TMPDIR:-/tmp}/worker-host-neo4j}/$NEO4J_PORT/neo4j.pid")
        cfg="$WORK/config-$corpus-neo4j.toml"
        write_config "$cfg" "$WORK/host-$corpus-neo4j" neo4j "$uri"
        start_host "$cfg" "$WORK/host-$corpus-neo4j.log"
        log "host on Neo4j $uri (pid $HOST_PID, Neo4j pid $neo4j_pid); indexing $corpus"
        index_runs "$corpus" neo4j "$neo4j_pid"
        stop_host
        stop_neo4j "$corpus"
        du -sm "$WORK/neo4j-$corpus" | cut -f1 >"$WORK/graph-$corpus-neo4j.size"
        rm -rf "$WORK/neo4j-$corpus"
    fi
done
stop_pid "$TEMPORAL_PID"; wait "$TEMPORAL_PID" 2>/dev/null || true; TEMPORAL_PID=""

# --- the peer, on the same trees, alone on the machine --------------------------------------------
# peer_runs CORPUS NAME CMD...: BENCH_RUNS timed runs; CMD's first run builds from nothing and
# the later ones rebuild; `{}` in CMD is replaced by the corpus and `{run}`-dependent verbs are
# chosen by the caller through PEER_FIRST / PEER_AGAIN.
peer_runs() {
    local corpus=$1 name=$2 run t0 t1 cmd
    local dir="$WORK/corpus-$corpus"
    for run in $(seq 1 "$RUNS"); do
        if [[ "$run" == 1 ]]; then cmd=("${PEER_FIRST[@]}"); else cmd=("${PEER_AGAIN[@]}"); fi
        cmd=("${cmd[@]//\{\}/$dir}")
        t0=$(now)
        /usr/bin/time -f '%e %U %S %M' -o "$WORK/peer-$corpus-$run.time" "${cmd[@]}" \
            >"$WORK/peer-$corpus-$run.log" 2>&1 </dev/null || {
            echo "error: $name failed on $corpus (run $run): ${cmd[*]}" >&2
            tail -n 30 "$WORK/peer-$corpus-$run.log" >&2
            return 1
        }
        t1=$(now)
        read -r _ user sys rss <"$WORK/peer-$corpus-$run.time"
        printf '%s\t%s\t%s\t%.2f\t%.2f\t0\t%s\t%s\n' "$corpus" "$name" "$run" \
            "$(echo "$t1 - $t0" | bc)" "$(echo "$user + $sys" | bc)" "$WORK/peer-$corpus-$run.log" "$rss" >>"$RESULTS"
        log "$corpus $name run $run: $(tail -n 1 "$RESULTS" | cut -f4) s (peak RSS $((rss / 1024)) MiB)"
    done
}

PEER_OK=1
case "$PEER" in
    codegraph)
        PEER_DIR="${BENCH_PEER_DIR:-$WORK/peer-npm}"
        cg="$PEER_DIR/node_modules/.bin/codegraph"
        if [[ ! -x "$cg" ]]; then
            log "installing @colbymchenry/codegraph@$CODEGRAPH_VERSION into $PEER_DIR (npm)"
            mkdir -p "$PEER_DIR"
            (cd "$PEER_DIR" && npm install --no-audit --no-fund --loglevel=error \
                "@colbymchenry/codegraph@$CODEGRAPH_VERSION" >"$WORK/peer-install.log" 2>&1) || {
                PEER_OK=0; log "peer install failed: $(tail -n 5 "$WORK/peer-install.log")"; }
        fi
        # No telemetry, no download fallback (the bundle comes from npm), no agent wiring.
        export CODEGRAPH_TELEMETRY=0 DO_NOT_TRACK=1 CODEGRAPH_NO_DOWNLOAD=1
        PEER_NAME="codegraph $("$cg" --version 2>/dev/null || echo '?')"
        PEER_FIRST=("$cg" init --yes "{}")
        PEER_AGAIN=("$cg" index "{}")
        ;;
    cgc)
        PEER_DIR="${BENCH_PEER_DIR:-$WORK/peer-venv}"
        [[ -x "$PEER_DIR/bin/cgc" ]] || {
            python3 -m venv "$PEER_DIR" && "$PEER_DIR/bin/pip" install --quiet codegraphcontext \
                >"$WORK/peer-install.log" 2>&1 || { PEER_OK=0; log "peer install failed"; }; }
        PEER_NAME="CodeGraphContext"
        PEER_FIRST=("$PEER_DIR/bin/cgc" index "{}")
        PEER_AGAIN=("$PEER_DIR/bin/cgc" index --force "{}")
        ;;
    none) PEER_OK=0 ;;
    *) echo "unknown BENCH_PEER=$PEER" >&2; exit 2 ;;
esac
if [[ "$PEER_OK" == 1 ]]; then
    for corpus in "${CORPORA[@]}"; do
        peer_runs "$corpus" peer || PEER_OK=0
        # The peer writes its index into the tree (untracked; our runs clone the commit).
        rm -rf "$WORK/corpus-$corpus/.codegraph"
    done
fi

# --- report -------------------------------------------------------------------------------------
echo
python3 "$BENCH_DIR/index_report.py" "$RESULTS" "${PEER_NAME:-peer}" "$WORK"
ok=1
