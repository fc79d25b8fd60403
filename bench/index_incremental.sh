#!/usr/bin/env bash
# Incremental re-indexing on a real corpus: CPython's standard library (this machine's python3,
# without test/ and site-packages) in a scratch git repository, indexed through the workflow by
# the release host on a real dev server into the embedded store:
#
#   full        the first index of the commit (everything parsed and written);
#   same        the same commit again (nothing to parse, write or delete);
#   one-file    after a commit that changes one file (a function added to json/encoder.py);
#   full again  `index --full` of that commit, for the ratio;
#
# and, side by side on the same tree, a peer's update when BENCH_PEER_CMD is set (run in the
# corpus after the same change), after BENCH_PEER_INIT (its full index, timed too), e.g.
#   BENCH_PEER_INIT='codegraph init --yes .' BENCH_PEER_CMD='codegraph sync'
#
#   bench/index_incremental.sh      # ~2 minutes after the release build
#
# Wall time is measured around `worker-host index` (client start → summary); the summary's
# own durations per stage are printed too. Knobs: BENCH_ROUNDS (3: one-file changes, each a new
# commit), BENCH_KEEP=1, CARGO_TARGET_DIR (default /root/.cache/worker-host/target), BENCH_BIN
# (an existing worker-host binary: no build, e.g. another branch's release build for a before/after).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ROUNDS="${BENCH_ROUNDS:-3}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/root/.cache/worker-host/target}"
cd "$ROOT"
. scripts/services.sh
ensure_temporal_cli
if [ -n "${BENCH_BIN:-}" ]; then
  BIN="$BENCH_BIN"
else
  cargo build --release --bin worker-host >&2
  BIN="$CARGO_TARGET_DIR/release/worker-host"
fi

WORK="$(mktemp -d /tmp/index-incremental.XXXXXX)"
HOST_PID=
cleanup() {
  [ -n "$HOST_PID" ] && stop_pid "$HOST_PID"
  [ -n "${TEMPORAL_PID:-}" ] && stop_pid "$TEMPORAL_PID"
  [ "${BENCH_KEEP:-}" = 1 ] && echo "kept $WORK" >&2 || rm -rf "$WORK"
}
trap cleanup EXIT

CORPUS="$WORK/corpus"
SOURCE="$(python3 -c 'import sysconfig; print(sysconfig.get_paths()["stdlib"])')"
mkdir -p "$CORPUS"
(cd "$SOURCE" && tar --exclude=./site-packages --exclude=./test --exclude='__pycache__' -cf - .) | tar -C "$CORPUS" -xf -
git_c() { git -C "$CORPUS" -c gc.auto=0 -c user.name=bench -c user.email=bench@localhost "$@"; }
git_c init -q && git_c add -A && git_c commit -qm corpus
echo "corpus: $(find "$CORPUS" -name '*.py' -not -path '*/.git/*' | wc -l) .py files" >&2

start_temporal "$WORK"
export TEMPORAL_ADDRESS="127.0.0.1:$TEMPORAL_PORT"
mkdir -p "$WORK/host"
sed -e 's/^allow_local_repos = false/allow_local_repos = true/' \
    -e "s/^listen = .*/listen = \"127.0.0.1:$(free_port)\"/" \
    -e 's/^dev_server = true/dev_server = false/' workers.toml > "$WORK/host/workers.toml"
(cd "$WORK/host" && exec "$BIN" run --config workers.toml) 2> "$WORK/host.log" &
HOST_PID=$!
for _ in $(seq 1 300); do grep -q "worker polling entry=repo-parsing" "$WORK/host.log" && break; sleep 0.1; done

# index NAME [ARGS...]: one timed run; prints "NAME wall_s mode files_parsed nodes rels deleted stages"
index() {
  local name=$1; shift
  local start end
  start=$(date +%s.%N)
  "$BIN" index "$CORPUS" --repo-id cpython-stdlib --config "$WORK/host/workers.toml" --json "$@" > "$WORK/$name.json"
  end=$(date +%s.%N)
  python3 - "$name" "$start" "$end" "$WORK/$name.json" <<'PY'
import json, sys
name, start, end, path = sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), sys.argv[4]
s = json.load(open(path))
stages = " ".join(f"{k}={v}" for k, v in sorted(s["durations_ms"].items()))
print(f"{name:<12} {end - start:7.2f} {s['mode']:<11} {s['files_parsed']:>6} {s['written']['nodes']:>7} "
      f"{s['written']['relationships']:>7} {s['stale_deleted']['nodes'] + s['stale_deleted']['relationships']:>7}  {stages}")
PY
}

printf '%-12s %7s %-11s %6s %7s %7s %7s  %s\n' run wall_s mode parsed nodes rels deleted "stages (ms)"
# peer NAME CMD: one timed run of a peer's command in the corpus.
peer() {
  local start end
  start=$(date +%s.%N)
  (cd "$CORPUS" && eval "$2") > "$WORK/peer.$1.log" 2>&1 || { echo "peer failed:" >&2; tail -5 "$WORK/peer.$1.log" >&2; }
  end=$(date +%s.%N)
  printf '%-12s %7.2f %s\n' "peer-$1" "$(echo "$end - $start" | bc)" "$2"
}

index full
index same
[ -n "${BENCH_PEER_INIT:-}" ] && peer full "$BENCH_PEER_INIT"
for round in $(seq "$ROUNDS"); do
  printf '\ndef bench_added_%s(value):\n    return encode_basestring(str(value))\n' "$round" >> "$CORPUS/json/encoder.py"
  git_c commit -qam "change $round"
  index "one-file-$round"
  [ -n "${BENCH_PEER_CMD:-}" ] && peer "$round" "$BENCH_PEER_CMD"
done
index full-again --full
