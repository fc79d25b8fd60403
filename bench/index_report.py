"""Tables of bench/index_e2e.sh: per run (wall time, per-stage durations from the summary, counts,
CPU, peak RSS), then side by side against the peer with the ratios and the goals of issue 6, and
for the scale corpora (`scale-N`) how time and peak RSS grow with the file count (issue 15).

    python3 bench/index_report.py RESULTS.tsv PEER_NAME WORK_DIR
"""

import json
import re
import sys
from collections import defaultdict
from pathlib import Path

STAGES = ["clone", "parse", "persist_metadata", "persist_graph", "cleanup_stale", "cleanup_repo", "total"]
GOALS = {"embedded": 10.0, "neo4j": 20.0}


def main() -> None:
    results, peer_name, work = Path(sys.argv[1]), sys.argv[2], Path(sys.argv[3])
    rows = []
    for line in results.read_text().splitlines():
        corpus, store, run, wall, cpu, db_cpu, detail, rss = line.split("\t")
        rows.append(dict(corpus=corpus, store=store, run=int(run), wall=float(wall),
                         cpu=float(cpu), db_cpu=float(db_cpu), detail=detail,
                         rss_mib=int(rss or 0) / 1024))

    ours = [r for r in rows if r["store"] != "peer"]
    if ours:
        print("worker-host, per run (run 1 = empty graph, run 2 = re-index of the same commit);"
              " stages in seconds, from the summary's durations_ms")
        head = ["corpus", "store", "run", "wall_s"] + STAGES + ["files", "nodes", "rels", "stale_del", "host_cpu_s", "db_cpu_s", "peak_rss_mib"]
        print_table(head, [our_row(r) for r in ours])
        print()

    peers = [r for r in rows if r["store"] == "peer"]
    if peers:
        print(f"peer: {peer_name}, per run (run 1 = init from nothing, run 2 = full re-index)")
        print_table(["corpus", "run", "wall_s", "cpu_s", "peak_rss_mib", "own report"], [
            [r["corpus"], r["run"], f"{r['wall']:.2f}", f"{r['cpu']:.2f}", f"{r['rss_mib']:.0f}",
             peer_report(r["detail"])]
            for r in peers])
        print()

    by = defaultdict(dict)
    for r in rows:
        by[(r["corpus"], r["store"])][r["run"]] = r["wall"]
    print(f"side by side: wall seconds, command start -> summary; ratio = {peer_name} / worker-host"
          " (> 1: worker-host is faster)")
    table = []
    for corpus in dict.fromkeys(r["corpus"] for r in rows):
        peer = by.get((corpus, "peer"), {})
        for store in ["embedded", "neo4j"]:
            runs = by.get((corpus, store))
            if not runs:
                continue
            for run, wall in sorted(runs.items()):
                p = peer.get(run)
                ratio = f"{p / wall:.2f}x" if p else "-"
                goal = GOALS[store]
                table.append([corpus, store, run, f"{wall:.2f}", f"{p:.2f}" if p else "-", ratio,
                              f"< {goal:.0f} s: {'met' if wall < goal else 'NOT met'}",
                              "-" if p is None else ("yes" if wall < p else "NO")])
    print_table(["corpus", "store", "run", "worker-host_s", "peer_s", "ratio", "goal", "ahead of peer"], table)
    scale_table(rows, peer_name)
    for f in sorted(work.glob("graph-*.size")):
        text = f.read_text().split("\n")
        if text[0].startswith("-"):  # `ls -l` of the SQLite files (embedded)
            mib = sum(int(line.split()[4]) for line in text if line.strip()) // 1048576
        else:  # `du -sm` of the Neo4j data directory
            mib = int(text[0] or 0)
        print(f"{f.stem[len('graph-'):]}: {mib} MiB on disk after the last run")


def our_row(r):
    s = json.loads(Path(r["detail"]).read_text())
    d = s.get("durations_ms", {})
    stages = [f"{d[k] / 1000:.2f}" if k in d else "-" for k in STAGES]
    written, stale = s.get("written", {}), s.get("stale_deleted", {})
    return [r["corpus"], r["store"], r["run"], f"{r['wall']:.2f}", *stages, s.get("files"),
            written.get("nodes"), written.get("relationships"),
            f"{stale.get('nodes', 0)}/{stale.get('relationships', 0)}",
            f"{r['cpu']:.2f}", f"{r['db_cpu']:.2f}" if r["store"] == "neo4j" else "-", f"{r['rss_mib']:.0f}"]


def scale_table(rows, peer_name):
    """Run 1 of each `scale-N` corpus: time and peak RSS per size, per 1,000 files, and the ratio."""
    first = {(r["corpus"], r["store"]): r for r in rows if r["run"] == 1 and r["corpus"].startswith("scale-")}
    sizes = sorted({int(c.split("-")[1]) for c, _ in first})
    if not sizes:
        return
    print()
    print(f"scale: run 1 per size; s/1k = wall seconds per 1,000 files, s/100MiB = per 100 MiB of source parsed "
          f"(the corpora's files grow with their size; flat = linear); ratio = {peer_name} / worker-host")
    table = []
    for store in ["embedded", "neo4j"]:
        for n in sizes:
            ours, peer = first.get((f"scale-{n}", store)), first.get((f"scale-{n}", "peer"))
            if not ours:
                continue
            languages = json.loads(Path(ours["detail"]).read_text()).get("languages", {})
            mib = sum(stats.get("bytes", 0) for stats in languages.values()) / 1048576
            per_100mib = f"{ours['wall'] / mib * 100:.2f}" if mib else "-"
            table.append([store, n, f"{mib:.0f}", f"{ours['wall']:.2f}", f"{ours['wall'] / n * 1000:.3f}", per_100mib,
                          f"{ours['rss_mib']:.0f}",
                          f"{peer['wall']:.2f}" if peer else "-", f"{peer['wall'] / n * 1000:.3f}" if peer else "-",
                          f"{peer['rss_mib']:.0f}" if peer else "-",
                          f"{peer['wall'] / ours['wall']:.2f}x" if peer else "-",
                          "-" if peer is None else ("yes" if ours["wall"] < peer["wall"] else "NO")])
    print_table(["store", "files", "parsed_mib", "ours_s", "ours_s/1k", "ours_s/100MiB", "ours_rss_mib", "peer_s", "peer_s/1k", "peer_rss_mib",
                 "ratio", "ahead"], table)


def peer_report(log_path: str) -> str:
    """What the peer says about itself (codegraph: 'Indexed N files', 'N nodes, M edges in Ts')."""
    try:
        text = Path(log_path).read_text(errors="replace")
    except OSError:
        return ""
    found = re.findall(r"Indexed [\d,]+ files|[\d,]+ nodes, [\d,]+ edges in [\d.]+s", text)
    return "; ".join(found) or text.strip().splitlines()[-1][:80] if text.strip() else ""


def print_table(head, rows):
    cells = [[str(c) for c in head]] + [[str(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(head))]
    for i, row in enumerate(cells):
        print("  ".join(c.rjust(w) if j >= 2 and i else c.ljust(w) for j, (c, w) in enumerate(zip(row, widths))))


if __name__ == "__main__":
    main()
