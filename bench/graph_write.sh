#!/usr/bin/env bash
# Graph write throughput on a real corpus: CPython's standard library (this machine's python3,
# without test/ and site-packages) parsed once, its graph rows written into ONE fresh Neo4j
# (scripts/neo4j.sh, temp data directory) by:
#
#   (a) ours     GraphStore::persist_graph (crates/indexing/examples/graph_bench.rs, release build): UNWIND
#                batches of 10,000 rows, one transaction per batch (the defaults);
#   (b) unwind   the Python `neo4j` driver (bench/graph_load.py unwind): the same rows and
#                Cypher, UNWIND batches of 10,000, one auto-commit transaction per batch;
#   (c) per-row  the Python driver, one MERGE statement per row (bench/graph_load.py per-row),
#                on BENCH_PER_ROW (3000) rows spread over all groups; the total is extrapolated.
#
# After one discarded warm-up write, (a) and (b) run twice in the order b a a b, each into its own repo_id (so all writes are creates into
# a growing database, same schema). The embedded backend (SQLite) is timed on the same rows.
#
#   bench/graph_write.sh      # a few minutes after the release build
#
# Knobs: BENCH_CORPUS (a directory instead of the stdlib), BENCH_BIN (a built graph_bench),
# BENCH_PER_ROW, BENCH_KEEP=1, CARGO_TARGET_DIR (default /root/.cache/worker-host/target),
# NEO4J_PASSWORD (default worker-host-test), NEO4J_HEAP (default 1g).
set -euo pipefail

BENCH_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$BENCH_DIR/.." && pwd)"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/root/.cache/worker-host/target}"
export NEO4J_PASSWORD="${NEO4J_PASSWORD:-worker-host-test}"
. "$ROOT/scripts/services.sh"

python3 -c 'import neo4j' 2>/dev/null || python3 -m pip install --quiet neo4j >&2

BIN="${BENCH_BIN:-}"
if [ -z "$BIN" ]; then
    (cd "$ROOT" && cargo build --release -p worker-host-indexing --example graph_bench)
    BIN="$CARGO_TARGET_DIR/release/examples/graph_bench"
fi

WORK="$(mktemp -d /tmp/graph-bench.XXXXXX)"
PORT=$(free_port)
export NEO4J_RUN_DIR="$WORK/neo4j-run"
cleanup() {
    "$ROOT/scripts/neo4j.sh" stop --port "$PORT" >/dev/null 2>&1 || true
    [ "${BENCH_KEEP:-}" = 1 ] && echo "kept $WORK" >&2 || rm -rf "$WORK"
}
trap cleanup EXIT

CORPUS="$WORK/corpus"
SOURCE="${BENCH_CORPUS:-$(python3 -c 'import sysconfig; print(sysconfig.get_paths()["stdlib"])')}"
mkdir -p "$CORPUS"
(cd "$SOURCE" && tar --exclude=./site-packages --exclude=./test --exclude='__pycache__' -cf - .) | tar -C "$CORPUS" -xf -
echo "corpus: $SOURCE -> $CORPUS: $(find "$CORPUS" -name '*.py' | wc -l) .py files" >&2

URI=$("$ROOT/scripts/neo4j.sh" start --port "$PORT" --data "$WORK/neo4j-data")
echo "Neo4j at $URI" >&2

OUT="$WORK/results.jsonl"
"$BIN" "$CORPUS" --export "$WORK/rows.json" --embedded "$WORK/embedded" | tee -a "$OUT"
# Warm-up (JIT, page cache): each write into a fresh server ran faster than the one before, so
# one write is discarded and the measured ones run in the order A B B A.
"$BIN" "$CORPUS" --neo4j "$URI" --repo-id bench-warmup | grep '"write"' | sed 's/"write"/"warmup"/' | tee -a "$OUT"
python3 "$BENCH_DIR/graph_load.py" unwind "$WORK/rows.json" "$URI" bench-py-1 | tee -a "$OUT"
"$BIN" "$CORPUS" --neo4j "$URI" --repo-id bench-ours-1 | grep '"write"' | tee -a "$OUT"
"$BIN" "$CORPUS" --neo4j "$URI" --repo-id bench-ours-2 | grep '"write"' | tee -a "$OUT"
python3 "$BENCH_DIR/graph_load.py" unwind "$WORK/rows.json" "$URI" bench-py-2 | tee -a "$OUT"
python3 "$BENCH_DIR/graph_load.py" per-row "$WORK/rows.json" "$URI" bench-py-row "${BENCH_PER_ROW:-3000}" | tee -a "$OUT"

python3 - "$OUT" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
graph = next(r for r in rows if r["stage"] == "rows")
print(f"\ncorpus: {graph['files']} files -> {graph['nodes']} nodes + {graph['relationships']} relationships"
      f" (parse {graph['parse_s']:.2f} s, rows {graph['rows_s']:.2f} s)")
ours = [r for r in rows if r["stage"] == "write" and r["backend"] == "neo4j"]
emb = [r for r in rows if r["stage"] == "write" and r["backend"] == "embedded"]
unwind = [r for r in rows if r.get("mode") == "unwind"]
per_row = [r for r in rows if r.get("mode") == "per-row"]
print(f"{'writer':<34}{'seconds':>10}{'elements/s':>14}")
warm = next(r for r in rows if r["stage"] == "warmup")
for name, r in [("ours, Neo4j, warm-up (not counted)", warm), ("Python UNWIND 10k, run 1", unwind[0]),
                ("ours, Neo4j, run 1", ours[0]), ("ours, Neo4j, run 2", ours[1]),
                ("Python UNWIND 10k, run 2", unwind[1])]:
    print(f"{name:<34}{r['seconds']:>10.2f}{r['elements_per_s']:>14,.0f}")
r = per_row[0]
print(f"{'Python MERGE per row (extrapolated)':<34}{r['extrapolated_total_s']:>10.1f}{r['elements_per_s']:>14,.0f}"
      f"   ({r['elements']} rows measured)")
print(f"{'ours, embedded SQLite':<34}{emb[0]['seconds']:>10.2f}{emb[0]['elements_per_s']:>14,.0f}")
o = sum(r["elements_per_s"] for r in ours) / len(ours)
u = sum(r["elements_per_s"] for r in unwind) / len(unwind)
print(f"\nours / Python UNWIND: {o / u:.2f}x (mean of the runs); ours / per-row MERGE: {o / r['elements_per_s']:.0f}x")
PY
