"""Print the side-by-side table of one benchmark run from the JSON files drive.py wrote.

    report.py DIR      (DIR holds tp-python.json, tp-worker-host.json, mem-python.json,
                        mem-worker-host.json)
"""

import json
import sys
from pathlib import Path


def load(d: Path, name: str) -> dict:
    return json.loads((d / name).read_text())


def main() -> None:
    d = Path(sys.argv[1])
    tp_py, tp_wh = load(d, "tp-python.json"), load(d, "tp-worker-host.json")
    mem_py, mem_wh = load(d, "mem-python.json"), load(d, "mem-worker-host.json")
    mib = lambda kib: kib / 1024  # noqa: E731

    rows = [
        # label, worker-host, python, format, goal text, goal met?
        ("throughput (workflows/s)", tp_wh["workflows_per_second"], tp_py["workflows_per_second"],
         "{:.1f}", ">= 1x", lambda r: r >= 1.0),
        ("worker CPU per workflow (ms)", tp_wh["worker_cpu_ms_per_workflow"], tp_py["worker_cpu_ms_per_workflow"],
         "{:.2f}", "<= 0.2x", lambda r: r <= 0.2),
        ("server CPU per workflow (ms)", tp_wh["server_cpu_ms_per_workflow"], tp_py["server_cpu_ms_per_workflow"],
         "{:.2f}", "", None),
        ("client CPU per workflow (ms)", tp_wh["client_cpu_ms_per_workflow"], tp_py["client_cpu_ms_per_workflow"],
         "{:.2f}", "", None),
        ("wall time, measured batches (s)", tp_wh["wall_seconds"], tp_py["wall_seconds"], "{:.1f}", "", None),
        ("other CPU on the machine meanwhile (s)", tp_wh["other_cpu_seconds"], tp_py["other_cpu_seconds"],
         "{:.1f}", "", None),
        ("worker RSS after the batch (MiB)", mib(tp_wh["worker_memory_after"]["rss_kib"]),
         mib(tp_py["worker_memory_after"]["rss_kib"]), "{:.1f}", "", None),
        ("worker peak RSS (MiB)", mib(tp_wh["worker_memory_after"]["hwm_kib"]),
         mib(tp_py["worker_memory_after"]["hwm_kib"]), "{:.1f}", "", None),
        (f"idle RSS, {len(mem_py['processes'])} queues: 1 vs {len(mem_py['processes'])} processes (MiB)", mib(mem_wh["rss_kib"]),
         mib(mem_py["rss_kib"]), "{:.1f}", "<= 0.2x", lambda r: r <= 0.2),
        ("idle PSS, same processes (MiB)", mib(mem_wh["pss_kib"]), mib(mem_py["pss_kib"]), "{:.1f}", "", None),
    ]
    w = max(len(r[0]) for r in rows)
    print(f"{'':{w}}  {'worker-host':>12}  {'Python':>10}  {'wh/Python':>9}  goal")
    for label, wh, py, fmt, goal, ok in rows:
        ratio = wh / py if py else float("nan")
        verdict = "" if ok is None else ("met" if ok(ratio) else "NOT met")
        print(f"{label:{w}}  {fmt.format(wh):>12}  {fmt.format(py):>10}  {ratio:>8.3f}x  {goal} {verdict}".rstrip())
    print()
    print(f"{tp_wh['count']} workflows per side after {tp_wh['warmup']} warm-up workflows, "
          f"at most {tp_wh['concurrency']} in flight; one no-op activity each; "
          f"{len(tp_wh['rounds'])} alternating batches per side:")
    for side in (tp_py, tp_wh):
        print(f"  {side['label']:>11}: " + "; ".join(
            f"round {r['round']} {r['count'] / r['wall_seconds']:.1f}/s, "
            f"worker {r['worker_cpu_seconds'] * 1000 / r['count']:.2f} ms/wf, "
            f"server {r['server_cpu_seconds'] * 1000 / r['count']:.1f} ms/wf"
            for r in side["rounds"]))
    print("Python idle RSS per process (MiB): "
          + ", ".join(f"{mib(p['rss_kib']):.1f}" for p in mem_py["processes"]))
    print(f"worker-host idle: 1 process, {mem_wh['processes'][0]['threads']} threads; "
          f"Python: {mem_py['processes'][0]['threads']} threads per process")


if __name__ == "__main__":
    main()
