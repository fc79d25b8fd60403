"""Times one command line: 3 untimed warm-ups, then REPS runs, each a new process with its
output captured; prints `side question p50_ms p99_ms rows` (tab-separated), where rows is the
length of the answer's longest JSON list. A failing run stops the benchmark.

    python3 bench/graph_query_time.py REPS SIDE QUESTION CMD...
"""

import json
import subprocess
import sys
import time


def rows(text: str) -> int:
    def longest(value) -> int:
        if isinstance(value, list):
            return max([len(value)] + [longest(v) for v in value])
        if isinstance(value, dict):
            return max([0] + [longest(v) for v in value.values()])
        return 0

    try:
        return longest(json.loads(text))
    except ValueError:
        return -1


def main() -> None:
    reps, side, question, cmd = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4:]
    times, out = [], ""
    for i in range(reps + 3):
        start = time.perf_counter()
        done = subprocess.run(cmd, capture_output=True, text=True)
        elapsed = (time.perf_counter() - start) * 1000
        if done.returncode != 0:
            sys.exit(f"{side} {question}: {' '.join(cmd)} failed ({done.returncode}): {done.stderr}")
        if i >= 3:
            times.append(elapsed)
        out = done.stdout
    times.sort()
    p50 = times[len(times) // 2]
    p99 = times[min(len(times) - 1, round(0.99 * (len(times) - 1)))]
    print(f"{side}\t{question}\t{p50:.2f}\t{p99:.2f}\t{rows(out)}")


if __name__ == "__main__":
    main()
