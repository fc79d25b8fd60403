"""Client side of the hot-reload latency benchmark (bench/reload_latency.sh).

    reload_drive.py write-config --config F --task-queue Q --entry E --slots N
        Write the benchmark's worker-host config (one entry running SleepWorkflow + `sleep` on Q,
        `max_concurrent_activities = N`, `[host] reload = true`) the way editors save: a temp
        file in the same directory, then a rename over F.
    reload_drive.py run --address A --config F --log HOST_LOG --task-queue Q --entry E ...
        1. wait until the host's log shows the entry polling; run workflows at the measured pace
           for --warmup-secs (a fresh dev server is slower for its first ~20 s);
        2. baseline: --baseline-count SleepWorkflow(millis=0) executions, one started every
           --gap-ms, no edits: start -> result;
        3. reloads: --count times, every --gap-ms, save F with another `pollers`
           (so the entry is replaced) and measure
             (a) save -> the host's `worker polling` line of the new generation, and save ->
                 its `config applied generation=N` line (log timestamps);
             (b) save -> result of a SleepWorkflow(millis=0) started on Q right after the save;
             (c) save -> result of a second one, started as soon as the driver sees (a)'s
                 `worker polling` line, i.e. after the old worker was told to stop polling.
           The workflows run on while the next saves follow, so a slow one does not hold the
           schedule up. Every save must give exactly one new generation (the host merges saves
           within 150 ms, hence the gap). Afterwards it reads every measured workflow's history
           and counts the ones with a timed-out workflow task, and tells for (b) whether the old
           or the new worker ran the activity. Writes --out (JSON) and prints a table.

The host must log JSON (`custom_host --log-format json run`) so that lines parse exactly.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import sys
import time
import uuid
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from temporalio.api.enums.v1 import EventType  # noqa: E402
from temporalio.client import Client  # noqa: E402

import procstat  # noqa: E402

CONFIG = """\
# Written by bench/reload_drive.py (hot-reload latency benchmark); rewritten on every reload.
# bench/reload_latency.sh points the host at its dev server through TEMPORAL_ADDRESS and at a free
# port through WORKER_HOST_HOST__LISTEN.
[temporal]
address = "127.0.0.1:7233"
namespace = "default"

[host]
reload = true
shutdown_grace = "10s"

[[workers]]
name = "{entry}"
task_queue = "{task_queue}"
workflows = ["SleepWorkflow"]
activities = ["sleep"]
max_concurrent_activities = {slots}
pollers = {pollers}
"""


def save_config(path: Path, task_queue: str, entry: str, slots: int,
                pollers: int = 4) -> tuple[float, float]:
    """Save like an editor (write a temp file, fsync, rename over); (wall, perf) time of the
    rename's return. A change of `slots` (max_concurrent_activities) is applied in place; a
    change of `pollers` replaces the entry's worker."""
    tmp = path.with_name(f".{path.name}.bench-tmp")
    with open(tmp, "w") as f:
        f.write(CONFIG.format(entry=entry, task_queue=task_queue, slots=slots, pollers=pollers))
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    return time.time(), time.perf_counter()


def parse_ts(s: str) -> float:
    """RFC 3339 timestamp of a tracing-subscriber JSON line -> Unix seconds."""
    s = s.replace("Z", "+00:00")
    if "." in s:  # at most microseconds for fromisoformat
        head, rest = s.split(".", 1)
        digits = "".join(c for c in rest if c.isdigit())
        tz = rest[len(digits):]
        s = f"{head}.{digits[:6].ljust(6, '0')}{tz}"
    return datetime.fromisoformat(s).timestamp()


class HostLog:
    """Reads the host's JSON log as it grows; keeps the events this benchmark needs."""

    def __init__(self, path: Path, entry: str):
        self.path, self.entry = path, entry
        self.offset, self.partial = 0, ""
        self.applied: dict[int, dict] = {}  # generation -> {ts, replaced, ...}
        self.polling: list[float] = []      # timestamps of `worker polling` of the entry
        self.polling_gen: dict[int, float] = {}  # generation -> its first `worker polling`
        self.last_gen = 0
        self.other: list[str] = []          # warnings, errors, unchanged / rejected reloads

    def read(self) -> None:
        with open(self.path, "rb") as f:
            f.seek(self.offset)
            data = f.read()
        self.offset += len(data)
        text = self.partial + data.decode("utf-8", "replace")
        lines = text.split("\n")
        self.partial = lines.pop()
        for line in lines:
            if not line.startswith("{"):
                continue
            try:
                ev = json.loads(line)
            except ValueError:
                continue
            fields = ev.get("fields", {})
            msg = fields.get("message", "")
            ts = parse_ts(ev["timestamp"])
            if msg == "config applied":
                gen = int(fields["generation"])
                self.applied[gen] = {"ts": ts, "replaced": fields.get("replaced"),
                                     "tuned": fields.get("tuned"), "started": fields.get("started")}
                self.last_gen = gen
            elif msg == "worker polling" and fields.get("entry") == self.entry:
                self.polling.append(ts)
                # The supervisor logs `config applied` and then runs the new worker, which logs
                # `worker polling`: the first such line after generation N's belongs to N.
                self.polling_gen.setdefault(self.last_gen, ts)
            elif msg.startswith("config unchanged") or msg.startswith("config rejected") or ev.get("level") in ("WARN", "ERROR"):
                self.other.append(f"{ev.get('level')} {msg} {json.dumps(fields)}"[:300])

    async def wait_polling(self, gen: int, timeout: float) -> float:
        deadline = time.monotonic() + timeout
        while True:
            self.read()
            if gen in self.polling_gen:
                return self.polling_gen[gen]
            if time.monotonic() > deadline:
                raise TimeoutError(f"no `worker polling` for generation {gen} within {timeout}s "
                                   f"(last generation {self.last_gen}; other lines: {self.other[-3:]})")
            await asyncio.sleep(0.005)


class CpuMeter:
    """CPU seconds of the host, of the dev server and of the rest of the machine over a phase,
    plus the machine's iowait: other work on the machine skews latencies (a busy disk stalls the
    dev server's SQLite)."""

    def __init__(self, host_pid: int | None, server_pid: int | None):
        self.host_pid, self.server_pid = host_pid, server_pid

    def read(self) -> dict:
        with open("/proc/stat") as f:
            iowait = int(f.readline().split()[5]) / procstat.CLK_TCK
        return {
            "t": time.perf_counter(),
            "host": procstat.cpu_seconds(self.host_pid) if self.host_pid else 0.0,
            "server": procstat.tree_cpu_seconds(self.server_pid) if self.server_pid else 0.0,
            "client": time.process_time(),
            "machine": procstat.machine_busy_seconds(),
            "iowait": iowait,
        }

    @staticmethod
    def diff(a: dict, b: dict) -> dict:
        d = {k: b[k] - a[k] for k in a}
        d["wall"] = d.pop("t")
        d["other"] = d["machine"] - d["host"] - d["server"] - d["client"]
        return d


def pct(values: list[float], p: float) -> float:
    """Nearest-rank percentile (p in 0..100)."""
    v = sorted(values)
    return v[max(0, math.ceil(p / 100 * len(v)) - 1)]


def stats(values: list[float]) -> dict:
    if not values:
        return {"n": 0}
    return {
        "n": len(values),
        "min": min(values),
        "p50": pct(values, 50),
        "p90": pct(values, 90),
        "p99": pct(values, 99),
        "max": max(values),
        "mean": sum(values) / len(values),
    }


async def probe(client: Client, queue: str, wf_id: str, t_ref: float, delay: float = 0) -> dict:
    """At `t_ref + delay` (perf_counter), start one SleepWorkflow(millis=0) and wait for its
    result; seconds from `t_ref` and from the start call to the result."""
    await asyncio.sleep(max(0.0, t_ref + delay - time.perf_counter()))
    t_start = time.perf_counter()
    handle = await client.start_workflow("SleepWorkflow", {"millis": 0}, id=wf_id, task_queue=queue)
    result = await handle.result()
    t_end = time.perf_counter()
    if not isinstance(result, dict) or "attempt" not in result:
        raise RuntimeError(f"workflow {wf_id} returned {result!r}")
    # attempt > 1: the first attempt's task went to a worker that never ran it (retried after
    # its start-to-close timeout); counted in the report.
    return {"id": wf_id, "from_ref": t_end - t_ref, "from_start": t_end - t_start,
            "start_delay": t_start - t_ref, "activity_started": result["started_ms"] / 1000,
            "attempt": result["attempt"], "t_start": t_start}


async def lost_tasks(client: Client, wf_id: str) -> int:
    """Workflow tasks of one run that timed out (handed to a worker that never completed them)."""
    n = 0
    async for ev in client.get_workflow_handle(wf_id).fetch_history_events():
        if ev.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_TIMED_OUT:
            n += 1
    return n


async def run(args) -> None:
    cfg = Path(args.config)
    log = HostLog(Path(args.log), args.entry)
    client = await Client.connect(args.address, namespace=args.namespace)
    run_id = uuid.uuid4().hex[:8]
    gap = args.gap_ms / 1000

    # The host's first apply is generation 1.
    await log.wait_polling(1, 60)
    # Warm-up at the measured pace: a fresh dev server answers slower for its first ~20 s.
    t_end, i = time.perf_counter() + args.warmup_secs, 0
    while time.perf_counter() < t_end:
        t0 = time.perf_counter()
        await probe(client, args.task_queue, f"warm-{run_id}-{i}", t0)
        i += 1
        await asyncio.sleep(max(0.0, t0 + gap - time.perf_counter()))

    cpu = CpuMeter(args.host_pid, args.server_pid)
    # 1. Baseline: the same workflow at the same pace, no edits.
    c0 = cpu.read()
    tasks = []
    for i in range(args.baseline_count):
        t0 = time.perf_counter()
        tasks.append(asyncio.create_task(probe(client, args.task_queue, f"base-{run_id}-{i}", t0)))
        await asyncio.sleep(max(0.0, t0 + gap - time.perf_counter()))
    baseline = await asyncio.gather(*tasks)
    cpu_baseline = CpuMeter.diff(c0, cpu.read())
    print(f"baseline: {len(baseline)} workflows, p50 {pct([b['from_start'] for b in baseline], 50) * 1000:.0f} ms",
          flush=True)

    # 2. Reloads: save; (b) start a workflow at once; (a) wait for the new generation's
    # `worker polling` line; (c) start another workflow then. The workflows run on while the
    # next saves follow, every `gap`, so that a slow one does not hold the schedule up.
    log.read()
    gen = log.last_gen
    pending = []
    c0 = cpu.read()
    for i in range(args.count):
        slots = args.slots
        pollers = 5 + i % 2  # the initial config has 4: always differs from the running value
        gen += 1
        wall_save, perf_save = save_config(cfg, args.task_queue, args.entry, slots, pollers)
        b = asyncio.create_task(probe(client, args.task_queue, f"reload-b-{run_id}-{i}", perf_save))
        d = None
        if args.swap_probe_ms:
            d = asyncio.create_task(probe(client, args.task_queue, f"reload-d-{run_id}-{i}", perf_save,
                                          args.swap_probe_ms / 1000))
        polling_ts = await log.wait_polling(gen, args.timeout)
        c = asyncio.create_task(probe(client, args.task_queue, f"reload-c-{run_id}-{i}", perf_save))
        pending.append((i, gen, slots, wall_save, polling_ts, b, c, d))
        if args.verbose:
            print(f"  reload {i}: generation {gen}, new worker polling "
                  f"{(polling_ts - wall_save) * 1000:.0f} ms after the save", flush=True)
        await asyncio.sleep(max(0.0, perf_save + gap - time.perf_counter()))

    cpu_reloads = CpuMeter.diff(c0, cpu.read())  # the saves only, not the stragglers below
    rows = []
    for i, gen, slots, wall_save, polling_ts, b, c, d in pending:
        b, c = await b, await c
        d = await d if d is not None else None
        applied = log.applied.get(gen)
        if applied is None or args.entry not in str(applied["replaced"]):
            raise RuntimeError(f"reload {i}: generation {gen} did not replace {args.entry}: {applied}")
        rows.append({
            "i": i,
            "generation": gen,
            "slots": slots,
            "save_to_applied": applied["ts"] - wall_save,
            "save_to_polling": polling_ts - wall_save,
            # (b): which worker ran its activity (eagerly, so the worker that ran its first
            # workflow task): the old one if it started before the host applied the reload.
            "b": {**b, "ran_on": "old" if b["activity_started"] < applied["ts"] else "new"},
            "c": {**c, "ran_on": "old" if c["activity_started"] < applied["ts"] else "new"},
            # (d): a workflow started shortly before the host applies the reload, so that its
            # first workflow task reaches the workers around the moment of the swap.
            "d": d and {**d, "ran_on": "old" if d["activity_started"] < applied["ts"] else "new"},
        })

    # Every save must have made exactly one generation.
    await asyncio.sleep(0.5)
    log.read()
    if log.last_gen != gen:
        raise RuntimeError(f"expected generation {gen} after {args.count} reloads, the host is at {log.last_gen}")

    # Workflow tasks that timed out, per workflow (from the histories, after the measurement).
    ds = [r["d"] for r in rows if r["d"]]
    for group in (baseline, [r["b"] for r in rows], [r["c"] for r in rows], ds):
        counts = await asyncio.gather(*(lost_tasks(client, w["id"]) for w in group))
        for w, n in zip(group, counts):
            w["wft_timeouts"] = n

    bs = [r["b"] for r in rows]
    cs = [r["c"] for r in rows]
    out = {
        "count": args.count,
        "baseline_count": args.baseline_count,
        "gap_ms": args.gap_ms,
        "stats": {
            "save_to_applied": stats([r["save_to_applied"] for r in rows]),
            "save_to_polling": stats([r["save_to_polling"] for r in rows]),
            "b_save_to_result": stats([w["from_ref"] for w in bs]),
            "b_old_worker": stats([w["from_ref"] for w in bs if w["ran_on"] == "old"]),
            "b_new_worker": stats([w["from_ref"] for w in bs if w["ran_on"] == "new"]),
            "c_save_to_result": stats([w["from_ref"] for w in cs]),
            "c_start_to_result": stats([w["from_start"] for w in cs]),
            "d_save_to_result": stats([w["from_ref"] for w in ds]),
            "d_start_to_result": stats([w["from_start"] for w in ds]),
            "baseline": stats([w["from_start"] for w in baseline]),
        },
        "swap_probe_ms": args.swap_probe_ms,
        "d_ran_on_old": sum(w["ran_on"] == "old" for w in ds),
        "b_ran_on_old": sum(w["ran_on"] == "old" for w in bs),
        "c_ran_on_old": sum(w["ran_on"] == "old" for w in cs),
        "wft_timeouts": {
            "baseline": sum(w["wft_timeouts"] > 0 for w in baseline),
            "b": sum(w["wft_timeouts"] > 0 for w in bs),
            "c": sum(w["wft_timeouts"] > 0 for w in cs),
            "d": sum(w["wft_timeouts"] > 0 for w in ds),
        },
        "cpu": {"baseline": cpu_baseline, "reloads": cpu_reloads},
        "polling_lines": len(log.polling),
        "host_warnings": log.other,
        "reloads": rows,
        "baseline": baseline,
    }
    Path(args.out).write_text(json.dumps(out, indent=2))
    report(out)


async def stream(args) -> None:
    """One steady stream of SleepWorkflow(millis=0), --rate a second, through three phases:
    (a) no edits, (b) --limit-edits saves of max_concurrent_activities (10 <-> 11) --limit-gap-ms
    apart, applied in place, (c) --structural-edits saves of `pollers` (4 <-> 5)
    --structural-gap-ms apart, each replacing the worker. Each workflow belongs to the phase in
    which it started; start -> result per phase, workflows over 2 s, attempts > 1 and timed-out
    workflow tasks; save -> `config applied` (the limit is in force when the host logs it)."""
    cfg = Path(args.config)
    log = HostLog(Path(args.log), args.entry)
    client = await Client.connect(args.address, namespace=args.namespace)
    run_id = uuid.uuid4().hex[:8]
    await log.wait_polling(1, 60)
    gap = 1 / args.rate
    stop = asyncio.Event()
    runs: list[asyncio.Task] = []

    async def feed() -> None:
        t0, i = time.perf_counter(), 0
        while not stop.is_set():
            runs.append(asyncio.create_task(
                probe(client, args.task_queue, f"stream-{run_id}-{i}", time.perf_counter())))
            i += 1
            await asyncio.sleep(max(0.0, t0 + i * gap - time.perf_counter()))

    feeder = asyncio.create_task(feed())
    phases: dict[str, tuple[float, float]] = {}
    saves: list[dict] = []
    await asyncio.sleep(args.warmup_secs)

    t = time.perf_counter()
    await asyncio.sleep(args.phase_secs)
    phases["a"] = (t, time.perf_counter())

    async def edits(phase: str, n: int, gap_ms: int, values) -> None:
        t = time.perf_counter()
        for i in range(n):
            slots, pollers = values(i)
            log.read()
            wall, perf = save_config(cfg, args.task_queue, args.entry, slots, pollers)
            saves.append({"phase": phase, "wall": wall, "gen": log.last_gen + 1})
            await asyncio.sleep(max(0.0, perf + gap_ms / 1000 - time.perf_counter()))
        phases[phase] = (t, time.perf_counter())

    # The initial config has max_concurrent_activities = --slots (10) and pollers = 4.
    await edits("b", args.limit_edits, args.limit_gap_ms, lambda i: (args.slots + 1 - i % 2, 4))
    await asyncio.sleep(args.settle_secs)
    await edits("c", args.structural_edits, args.structural_gap_ms, lambda i: (args.slots, 5 - i % 2))
    stop.set()
    await feeder
    done = await asyncio.gather(*runs)
    await asyncio.sleep(0.5)
    log.read()

    for w in done:
        w["wft_timeouts"] = await lost_tasks(client, w["id"])
    by_phase = {p: [w for w in done if lo <= w["t_start"] < hi] for p, (lo, hi) in phases.items()}
    applied = []
    for sv in saves:
        a = log.applied.get(sv["gen"])
        applied.append({**sv, "applied": a, "save_to_applied": a and a["ts"] - sv["wall"]})
    out = {"rate": args.rate, "phases": {}, "saves": applied}
    for p, ws in by_phase.items():
        lat = [w["from_start"] for w in ws]
        out["phases"][p] = {
            "stats": stats(lat),
            "over_2s": sum(x > 2 for x in lat),
            "retried_activities": sum(w["attempt"] > 1 for w in ws),
            "wft_timeouts": sum(w["wft_timeouts"] > 0 for w in ws),
        }
    for p, effect in (("b", "tuned"), ("c", "replaced")):
        ss = [a for a in applied if a["phase"] == p]
        ok = [a for a in ss if a["applied"] and args.entry in str(a["applied"][effect])]
        out["phases"][p]["edits"] = len(ss)
        out["phases"][p][f"edits_{effect}"] = len(ok)
        out["phases"][p]["save_to_applied"] = stats([a["save_to_applied"] for a in ok])
    Path(args.out).write_text(json.dumps(out, indent=2))

    ms = lambda s: f"{s * 1000:.0f}"  # noqa: E731
    names = {"a": "(a) no edits", "b": f"(b) {args.limit_edits} limit edits {args.limit_gap_ms} ms apart",
             "c": f"(c) {args.structural_edits} structural edits {args.structural_gap_ms} ms apart"}
    print(f"steady stream: {args.rate:g} workflows/s on one entry; start -> result (ms), nearest-rank percentiles")
    print(f"{'phase':44}  {'n':>4}  {'p50':>6}  {'p99':>6}  {'max':>6}  {'>2s':>4}  {'retried':>7}  {'wft t/o':>7}")
    for p in ("a", "b", "c"):
        r = out["phases"][p]
        st = r["stats"]
        print(f"{names[p]:44}  {st['n']:>4}  {ms(st['p50']):>6}  {ms(st['p99']):>6}  {ms(st['max']):>6}  "
              f"{r['over_2s']:>4}  {r['retried_activities']:>7}  {r['wft_timeouts']:>7}")
    for p, effect in (("b", "tuned"), ("c", "replaced")):
        r = out["phases"][p]
        st = r["save_to_applied"]
        line = f"{names[p]}: {r[f'edits_{effect}']}/{r['edits']} {effect}"
        if st["n"]:
            line += f"; save -> applied p50 {ms(st['p50'])} ms, max {ms(st['max'])} ms"
        print(line)
    a, b = out["phases"]["a"]["stats"], out["phases"]["b"]["stats"]
    print(f"goal: 0 over 2 s in (b) and (c): {'met' if out['phases']['b']['over_2s'] + out['phases']['c']['over_2s'] == 0 else 'NOT met'}; "
          f"p99 (b) <= 1.5 x p99 (a): {'met' if b['p99'] <= 1.5 * a['p99'] else 'NOT met'} "
          f"({ms(b['p99'])} vs {ms(a['p99'])} ms); limit in force within 200 ms of the save (p50): "
          f"{'met' if out['phases']['b']['save_to_applied']['n'] and out['phases']['b']['save_to_applied']['p50'] < 0.2 else 'NOT met'}")


def report(out: dict) -> None:
    ms = lambda s: f"{s * 1000:.0f}"  # noqa: E731
    st, n, lost = out["stats"], out["count"], out["wft_timeouts"]
    rows = [
        ("(a) save -> `config applied generation=N` (log)", st["save_to_applied"]),
        ("(a) save -> new worker's `worker polling` (log)", st["save_to_polling"]),
        ("(b) save -> result, workflow started at the save", st["b_save_to_result"]),
        ("      ... activity run by the old worker", st["b_old_worker"]),
        ("      ... activity run by the new worker", st["b_new_worker"]),
        ("(c) save -> result, workflow started at `worker polling`", st["c_save_to_result"]),
        ("      same, from the workflow's start", st["c_start_to_result"]),
        ("baseline: start -> result, no reload", st["baseline"]),
    ]
    if out["swap_probe_ms"]:
        rows[-1:-1] = [
            (f"(d) start -> result, workflow started {out['swap_probe_ms']} ms after the save",
             st["d_start_to_result"]),
        ]
    w = max(len(r[0]) for r in rows)
    print(f"{'latency (ms)':{w}}  {'n':>4}  {'p50':>6}  {'p90':>6}  {'p99':>6}  {'max':>6}  {'mean':>6}")
    for label, s in rows:
        if s["n"] == 0:
            print(f"{label:{w}}  {0:>4}")
            continue
        print(f"{label:{w}}  {s['n']:>4}  {ms(s['p50']):>6}  {ms(s['p90']):>6}  {ms(s['p99']):>6}  "
              f"{ms(s['max']):>6}  {ms(s['mean']):>6}")
    p50 = st["save_to_polling"]["p50"]
    print(f"goal: p50 save -> new worker polling < 1 s: {'met' if p50 < 1 else 'NOT met'} ({ms(p50)} ms)")
    print(f"{n} reloads, one generation each, saves every >= {out['gap_ms']} ms; "
          f"{out['baseline_count']} baseline workflows at the same pace; nearest-rank percentiles")
    print(f"(b) workflows whose activity the old worker ran (started before the reload applied): "
          f"{out['b_ran_on_old']}/{n}; (c): {out['c_ran_on_old']}/{n}")
    print(f"workflows with a timed-out workflow task (a task handed to a worker that never completed "
          f"it; retried after the 10 s task timeout): (b) {lost['b']}/{n}, (c) {lost['c']}/{n}, "
          + (f"(d) {lost['d']}/{n}, " if out["swap_probe_ms"] else "")
          + f"baseline {lost['baseline']}/{out['baseline_count']}")
    if out["swap_probe_ms"]:
        print(f"(d) workflows whose activity the old worker ran: {out['d_ran_on_old']}/{n}")
    for phase, c in out["cpu"].items():
        print(f"CPU during the {phase} ({c['wall']:.0f} s): host {c['host']:.1f} s, dev server "
              f"{c['server']:.1f} s, this client {c['client']:.1f} s, rest of the machine {c['other']:.1f} s; "
              f"iowait {c['iowait']:.1f} s")
    if out["host_warnings"]:
        print(f"host warnings/errors during the run ({len(out['host_warnings'])}):")
        for line in out["host_warnings"][:10]:
            print(f"  {line}")


def main() -> None:
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)

    w = sub.add_parser("write-config")
    w.add_argument("--config", required=True)
    w.add_argument("--task-queue", required=True)
    w.add_argument("--entry", required=True)
    w.add_argument("--slots", type=int, default=10)

    def with_host(name: str) -> argparse.ArgumentParser:
        """A subcommand that drives a running host: where it is, its config, log and entry."""
        sp = sub.add_parser(name)
        sp.add_argument("--address", required=True)
        sp.add_argument("--namespace", default="default")
        sp.add_argument("--config", required=True)
        sp.add_argument("--log", required=True, help="the host's stderr (JSON lines)")
        sp.add_argument("--task-queue", required=True)
        sp.add_argument("--entry", required=True)
        sp.add_argument("--slots", type=int, default=10,
                        help="max_concurrent_activities of the initial config")
        sp.add_argument("--out", required=True)
        return sp

    r = with_host("run")
    r.add_argument("--count", type=int, default=100, help="reloads")
    r.add_argument("--baseline-count", type=int, default=100)
    r.add_argument("--warmup-secs", type=float, default=20, help="warm-up workflows, at the same pace")
    r.add_argument("--gap-ms", type=int, default=300, help="minimum time between saves")
    r.add_argument("--timeout", type=float, default=30, help="per reload, for the log lines")
    r.add_argument("--swap-probe-ms", type=int, default=0,
                   help="(d): also start a workflow this long after each save, i.e. just before "
                        "the host swaps the workers (0: off)")
    r.add_argument("--host-pid", type=int, help="for the CPU figures")
    r.add_argument("--server-pid", type=int, help="for the CPU figures")
    r.add_argument("--verbose", action="store_true")

    st = with_host("stream")
    st.add_argument("--rate", type=float, default=5, help="workflows started per second")
    st.add_argument("--warmup-secs", type=float, default=20)
    st.add_argument("--phase-secs", type=float, default=20, help="length of (a)")
    st.add_argument("--limit-edits", type=int, default=30)
    st.add_argument("--limit-gap-ms", type=int, default=500)
    st.add_argument("--settle-secs", type=float, default=3, help="pause between (b) and (c)")
    st.add_argument("--structural-edits", type=int, default=10)
    st.add_argument("--structural-gap-ms", type=int, default=3000)

    args = p.parse_args()
    if args.cmd == "write-config":
        save_config(Path(args.config), args.task_queue, args.entry, args.slots)
    elif args.cmd == "stream":
        asyncio.run(stream(args))
    else:
        asyncio.run(run(args))


if __name__ == "__main__":
    # As in drive.py: leave without interpreter finalization while SDK threads may still run.
    code = 0
    try:
        main()
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else (1 if e.code else 0)
        if isinstance(e.code, str):
            print(e.code, file=sys.stderr)
    except BaseException:
        import traceback

        traceback.print_exc()
        code = 1
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
