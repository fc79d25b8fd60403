#!/usr/bin/env bash
# Hostile nesting (issue 14 item 4): time and peak RSS of parsing ONE JavaScript file of LEVELS
# nested named functions, each calling itself (`function f0() { f0();` ... `}`: ~27 bytes a
# level, as in the issue's 262 KB file of 10,000 levels), side by side:
#
#   bounded    the default limits (max_nesting 128, max_name_bytes 1 KiB, max_facts 100,000,
#              file_timeout 10 s; max_file_bytes lifted so 50,000 levels fit): the file is
#              skipped as soon as it crosses a limit;
#   unbounded  every limit lifted: the file is indexed, every qualified name spelled out in full
#              (what the parser did before the limits, minus its extra copies per scope).
#
#   bench/parse_nesting.sh        # seconds after the release build
#
# For each run: wall seconds, peak RSS (VmHWM), RSS after the output is dropped, outcome, and
# against the run before it the growth of bytes, time and peak RSS. `linear` says whether time
# and the RSS above the process's baseline grow no faster than 1.5x the file. Knobs:
# BENCH_LEVELS (1000 10000 50000), BENCH_UNBOUNDED_LEVELS (1000 5000 10000: beyond that the
# unbounded run needs GBs), BENCH_BIN (a built parse_bench binary; otherwise it is built with
# `cargo build --release -p worker-host-indexing --example parse_bench`), CARGO_TARGET_DIR
# (default /root/.cache/worker-host/target).
set -euo pipefail

BENCH_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$BENCH_DIR/.." && pwd)"
LEVELS="${BENCH_LEVELS:-1000 10000 50000}"
UNBOUNDED_LEVELS="${BENCH_UNBOUNDED_LEVELS:-1000 5000 10000}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/root/.cache/worker-host/target}"

BIN="${BENCH_BIN:-}"
if [ -z "$BIN" ]; then
    (cd "$ROOT" && cargo build --release -p worker-host-indexing --example parse_bench)
    BIN="$CARGO_TARGET_DIR/release/examples/parse_bench"
fi

# series LIMITS LEVELS...: one row a run; growth against the row before (the RSS the process
# had before reading the file is subtracted).
series() {
    local limits="$1"; shift
    local prev=""
    printf '\n%-9s %7s %9s %8s %9s %9s  %-32s %s\n' limits levels bytes secs peak_MiB after_MiB outcome growth
    for levels in "$@"; do
        local json extra=()
        [ "$limits" = unbounded ] && extra=(unbounded)
        json="$("$BIN" nested "$levels" 1 "${extra[@]}")"
        python3 - "$limits" "$json" "$prev" <<'EOF'
import json, sys
limits, now, prev = sys.argv[1], json.loads(sys.argv[2]), sys.argv[3]
mib = lambda kib: kib / 1024
growth = ""
if prev:
    p = json.loads(prev)
    size = now["bytes"] / p["bytes"]
    time = max(now["secs"], 0.001) / max(p["secs"], 0.001)
    base = lambda r: max(r["peak_rss_kib"] - r["rss_before_kib"], 1)
    rss = base(now) / base(p)
    linear = time <= 1.5 * size and rss <= 1.5 * size
    growth = f"x{size:.1f} bytes, x{time:.1f} time, x{rss:.1f} RSS: {'linear' if linear else 'NOT linear'}"
print(f"{limits:<9} {now['levels']:>7} {now['bytes']:>9} {now['secs']:>8.3f} {mib(now['peak_rss_kib']):>9.1f} "
      f"{mib(now['rss_after_kib']):>9.1f}  {now['outcome']:<32} {growth}")
EOF
        prev="$json"
    done
}

# shellcheck disable=SC2086
series bounded $LEVELS
# shellcheck disable=SC2086
series unbounded $UNBOUNDED_LEVELS
