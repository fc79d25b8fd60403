#!/usr/bin/env bash
# Parsing throughput on a real corpus: CPython's standard library (this machine's python3, without
# site-packages) copied into a scratch git repository, indexed three ways on the same files:
#
#   (a) bare   tree-sitter parse of every file the walk accepts, BENCH_THREADS (2) threads, no
#              queries, no resolution (crates/indexing/examples/parse_bench.rs `bare`): the floor;
#   (b) ctags  `ctags -R --languages=Python` (universal-ctags, one thread): definitions only;
#   (c) full   worker_host::parse::parse_repository end to end (walk, parse, queries, resolution)
#              on BENCH_THREADS threads, plus write_output (crates/indexing/examples/parse_bench.rs `full`).
#
#   bench/parse_throughput.sh        # ~2 minutes on 2 cores after the release build
#
# Each is run BENCH_ROUNDS (3) times; the table shows the median wall time, and CPU seconds and
# peak RSS of that run (/usr/bin/time). Knobs: BENCH_ROUNDS, BENCH_THREADS, BENCH_CORPUS (a
# directory to use instead of the stdlib), BENCH_BIN (a built parse_bench binary; otherwise it
# is built with `cargo build --release -p worker-host-indexing --example parse_bench`), BENCH_KEEP=1 (keep the work
# directory), CARGO_TARGET_DIR (default /root/.cache/worker-host/target).
set -euo pipefail

BENCH_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$BENCH_DIR/.." && pwd)"
ROUNDS="${BENCH_ROUNDS:-3}"
THREADS="${BENCH_THREADS:-2}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/root/.cache/worker-host/target}"

if ! command -v ctags >/dev/null || ! ctags --version | grep -q 'Universal Ctags'; then
    echo "installing universal-ctags" >&2
    apt-get install -y universal-ctags >/dev/null
fi
[ -x /usr/bin/time ] || apt-get install -y time >/dev/null

BIN="${BENCH_BIN:-}"
if [ -z "$BIN" ]; then
    (cd "$ROOT" && cargo build --release -p worker-host-indexing --example parse_bench)
    BIN="$CARGO_TARGET_DIR/release/examples/parse_bench"
fi

WORK="$(mktemp -d /tmp/parse-bench.XXXXXX)"
cleanup() { [ "${BENCH_KEEP:-}" = 1 ] && echo "kept $WORK" >&2 || rm -rf "$WORK"; }
trap cleanup EXIT

CORPUS="$WORK/corpus"
SOURCE="${BENCH_CORPUS:-$(python3 -c 'import sysconfig; print(sysconfig.get_paths()["stdlib"])')}"
mkdir -p "$CORPUS"
(cd "$SOURCE" && tar --exclude=./site-packages --exclude='__pycache__' -cf - .) | tar -C "$CORPUS" -xf -
(cd "$CORPUS" && git init -q && git add -A && git -c gc.auto=0 -c user.name=bench -c user.email=bench@localhost commit -qm corpus)
PY_FILES=$(find "$CORPUS" -name '*.py' -not -path '*/.git/*' | wc -l)
PY_BYTES=$(find "$CORPUS" -name '*.py' -not -path '*/.git/*' -printf '%s\n' | awk '{s+=$1} END {print s}')
echo "corpus: $SOURCE -> $CORPUS: $PY_FILES .py files, $((PY_BYTES / 1024 / 1024)) MiB" >&2

# run NAME CMD...: ROUNDS runs; one line per run: wall user sys maxrss_kb, then the command's stdout.
run() {
    local name="$1"; shift
    for round in $(seq "$ROUNDS"); do
        /usr/bin/time -f '%e %U %S %M' -o "$WORK/$name.$round.time" "$@" > "$WORK/$name.$round.out"
    done
}

run bare "$BIN" bare "$CORPUS" "$THREADS"
run ctags sh -c "cd '$CORPUS' && ctags -R --languages=Python -f '$WORK/tags' ."
run full "$BIN" full "$CORPUS" "$THREADS" "$WORK/output.jsonl"

# median NAME -> "round wall user sys rss" of the run with the median wall time
median() {
    for round in $(seq "$ROUNDS"); do echo "$round $(cat "$WORK/$1.$round.time")"; done \
        | sort -k2 -g | sed -n "$(( (ROUNDS + 1) / 2 ))p"
}

printf '\n%-6s %9s %9s %9s %9s  %s\n' run wall_s cpu_s rss_MiB MiB/s notes
for name in bare ctags full; do
    read -r round wall user sys rss <<<"$(median "$name")"
    cpu=$(awk -v u="$user" -v s="$sys" 'BEGIN {printf "%.2f", u + s}')
    rate=$(awk -v b="$PY_BYTES" -v w="$wall" 'BEGIN {printf "%.1f", b / 1048576 / w}')
    case "$name" in
        ctags) notes="$(wc -l < "$WORK/tags") tags" ;;
        *) notes="$(cat "$WORK/$name.$round.out")" ;;
    esac
    printf '%-6s %9s %9s %9s %9s  %s\n' "$name" "$wall" "$cpu" "$((rss / 1024))" "$rate" "$notes"
done
echo
echo "output file: $(du -h "$WORK/output.jsonl" | cut -f1) ($(wc -l < "$WORK/output.jsonl") records)"

# The goal's measure: CPU of the parse alone (getrusage around it, in parse_bench), so full's
# output write and read-back, which are the write stage's, are left out. Median over the rounds.
median_cpu() {
    for round in $(seq "$ROUNDS"); do
        python3 -c 'import json, sys; print(json.loads(open(sys.argv[1]).readline())["cpu_secs"])' "$WORK/$1.$round.out"
    done | sort -g | sed -n "$(( (ROUNDS + 1) / 2 ))p"
}
bare_cpu=$(median_cpu bare)
full_cpu=$(median_cpu full)
awk -v b="$bare_cpu" -v f="$full_cpu" -v n="$ROUNDS" 'BEGIN {
    printf "parse CPU alone (median of %d): bare %.2f s, full %.2f s: full / bare = %.2fx (goal at most 1.5x)\n", n, b, f, f / b }'
