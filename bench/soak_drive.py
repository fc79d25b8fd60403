"""Client side of bench/soak.sh: steady no-op workflows, an index run every minute, a config edit
every 30 s, and samples of the host's RSS, open file descriptors and data_dir files.

    soak_drive.py write-config --config F --listen ADDR --slots N
    soak_drive.py run --address A --config F --listen ADDR --host-pid P --data-dir D --repo R
                      --minutes M --rate R --index-every S --edit-every S --out F.json
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
import uuid
from datetime import timedelta
from pathlib import Path

from temporalio.client import Client

NOOP_QUEUE = "soak-noop"
INDEX_QUEUE = "soak-index"
SAMPLE_EVERY = 10.0


def config_text(listen: str, slots: int) -> str:
    return f"""[temporal]
address = "127.0.0.1:7233"
namespace = "default"

[host]
listen = "{listen}"
reload = true
shutdown_grace = "10s"

[indexing]
allow_local_repos = true

[indexing.graph]
backend = "embedded"

[[workers]]
name = "noop"
task_queue = "{NOOP_QUEUE}"
workflows = ["NoopWorkflow"]
activities = ["noop"]
max_concurrent_activities = {slots}

[[workers]]
name = "indexing"
task_queue = "{INDEX_QUEUE}"
workflows = ["RepoIndexingWorkflow"]
activities = ["clone_repo_activity", "persist_metadata_activity", "cleanup_repo_activity"]

[[workers]]
name = "indexing-local"
task_queue = "{INDEX_QUEUE}"
host_local = true
activities = ["persist_metadata_activity", "persist_kg_activity", "cleanup_stale_kg_nodes_activity", "cleanup_repo_activity"]

[[workers]]
name = "parsing"
task_queue = "{INDEX_QUEUE}-parse"
host_local = true
activities = ["parse_repo_activity"]
max_concurrent_activities = 1
"""


def write_config(path: Path, listen: str, slots: int) -> None:
    """Save like an editor: a new file renamed over the old one."""
    tmp = path.with_name(".workers.toml.swp")
    tmp.write_text(config_text(listen, slots))
    os.replace(tmp, path)


def rss_kb(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def files_under(root: str) -> int:
    return sum(len(files) for _, _, files in os.walk(root))


class Soak:
    def __init__(self, args: argparse.Namespace, client: Client):
        self.args = args
        self.client = client
        self.t0 = time.monotonic()
        self.end = self.t0 + args.minutes * 60
        self.noop_ok = 0
        self.noop_failed: list[str] = []
        self.index_runs: list[dict] = []
        self.index_failed: list[str] = []
        self.index_skipped = 0
        self.edits = 0
        self.samples: list[dict] = []
        self.pending: set[asyncio.Task] = set()

    def elapsed(self) -> float:
        return time.monotonic() - self.t0

    async def noop(self) -> None:
        try:
            handle = await self.client.start_workflow(
                "NoopWorkflow", "soak", id=f"soak-noop-{uuid.uuid4()}", task_queue=NOOP_QUEUE
            )
            await asyncio.wait_for(handle.result(), timeout=120)
            self.noop_ok += 1
        except Exception as e:  # noqa: BLE001 — every failure is counted, with its reason
            self.noop_failed.append(f"{self.elapsed():.0f}s {type(e).__name__}: {e}")

    async def noops(self) -> None:
        gap = 1.0 / self.args.rate
        next_at = time.monotonic()
        while time.monotonic() < self.end:
            task = asyncio.create_task(self.noop())
            self.pending.add(task)
            task.add_done_callback(self.pending.discard)
            next_at += gap
            await asyncio.sleep(max(0.0, next_at - time.monotonic()))

    async def indexes(self) -> None:
        n = 0
        while time.monotonic() < self.end:
            started = time.monotonic()
            n += 1
            try:
                handle = await self.client.start_workflow(
                    "RepoIndexingWorkflow",
                    {"repo_url": self.args.repo, "repo_id": "soak"},
                    id=f"soak-index-{n}-{uuid.uuid4()}",
                    task_queue=INDEX_QUEUE,
                )
                result = await asyncio.wait_for(handle.result(), timeout=600)
                self.index_runs.append(
                    {
                        "at_s": round(started - self.t0),
                        "seconds": round(time.monotonic() - started, 1),
                        "mode": result.get("mode"),
                        "files": result.get("files"),
                    }
                )
            except Exception as e:  # noqa: BLE001
                self.index_failed.append(f"{self.elapsed():.0f}s {type(e).__name__}: {e}")
            # The next run starts on the minute; a run longer than the period delays it.
            wait = self.args.index_every - (time.monotonic() - started)
            if wait < 0:
                self.index_skipped += 1
            await asyncio.sleep(max(0.0, min(wait, self.end - time.monotonic())))

    async def edits_loop(self) -> None:
        slots = self.args.slots
        while True:
            await asyncio.sleep(self.args.edit_every)
            if time.monotonic() >= self.end:
                return
            slots = 9 if slots == 8 else 8
            write_config(Path(self.args.config), self.args.listen, slots)
            self.edits += 1

    async def sampler(self) -> None:
        pid = self.args.host_pid
        while True:
            self.samples.append(
                {
                    "t_s": round(self.elapsed()),
                    "rss_kb": rss_kb(pid),
                    "fds": len(os.listdir(f"/proc/{pid}/fd")),
                    "data_files": files_under(self.args.data_dir),
                    "noop_ok": self.noop_ok,
                    "noop_failed": len(self.noop_failed),
                    "index_ok": len(self.index_runs),
                }
            )
            if time.monotonic() >= self.end:
                return
            await asyncio.sleep(SAMPLE_EVERY)

    async def run(self) -> dict:
        await asyncio.gather(self.noops(), self.indexes(), self.edits_loop(), self.sampler())
        if self.pending:
            await asyncio.wait(self.pending, timeout=180)
        return self.report()

    def at(self, minute: float) -> dict:
        return min(self.samples, key=lambda s: abs(s["t_s"] - minute * 60))

    def report(self) -> dict:
        m5, last = self.at(5), self.samples[-1]
        after_warmup = [s for s in self.samples if s["t_s"] >= 300] or self.samples
        return {
            "minutes": self.args.minutes,
            "noop": {"ok": self.noop_ok, "failed": len(self.noop_failed), "failures": self.noop_failed[:20]},
            "index": {
                "ok": len(self.index_runs),
                "failed": len(self.index_failed),
                "failures": self.index_failed[:20],
                "late_starts": self.index_skipped,
                "runs": self.index_runs,
            },
            "config_edits": self.edits,
            "rss_kb": {"minute_5": m5["rss_kb"], "end": last["rss_kb"],
                       "change_pct": round(100.0 * (last["rss_kb"] - m5["rss_kb"]) / max(1, m5["rss_kb"]), 1)},
            "fds_after_minute_5": {"min": min(s["fds"] for s in after_warmup), "max": max(s["fds"] for s in after_warmup)},
            "data_files_after_minute_5": {"min": min(s["data_files"] for s in after_warmup),
                                          "max": max(s["data_files"] for s in after_warmup)},
            "samples": self.samples,
        }


def print_report(r: dict) -> None:
    print(f"no-op workflows: {r['noop']['ok']} ok, {r['noop']['failed']} failed (goal 0)")
    for f in r["noop"]["failures"]:
        print(f"  {f}")
    idx = r["index"]
    secs = [x["seconds"] for x in idx["runs"]]
    print(f"index runs:      {idx['ok']} ok, {idx['failed']} failed (goal 0); "
          f"{min(secs, default=0)}–{max(secs, default=0)} s each; {idx['late_starts']} started late")
    for f in idx["failures"]:
        print(f"  {f}")
    print(f"config edits:    {r['config_edits']}")
    rss = r["rss_kb"]
    print(f"RSS:             minute 5 {rss['minute_5'] / 1024:.1f} MiB, end {rss['end'] / 1024:.1f} MiB "
          f"({rss['change_pct']:+.1f} %; goal within 10 %)")
    fds, files = r["fds_after_minute_5"], r["data_files_after_minute_5"]
    print(f"open fds:        {fds['min']}–{fds['max']} after minute 5 (goal: flat)")
    print(f"data_dir files:  {files['min']}–{files['max']} after minute 5 (goal: flat)")
    print("\n minute   RSS MiB   fds   data files   no-op ok   index ok")
    shown = set()
    for s in r["samples"]:
        minute = s["t_s"] // 60
        if minute in shown:
            continue
        shown.add(minute)
        print(f" {minute:6d}   {s['rss_kb'] / 1024:7.1f}   {s['fds']:3d}   {s['data_files']:10d}"
              f"   {s['noop_ok']:8d}   {s['index_ok']:8d}")


async def wait_for_pollers(client: Client, limit: float = 120) -> None:
    """The host is up once a no-op workflow completes."""
    end = time.monotonic() + limit
    while True:
        try:
            handle = await client.start_workflow(
                "NoopWorkflow", "warm", id=f"soak-warm-{uuid.uuid4()}", task_queue=NOOP_QUEUE,
                execution_timeout=timedelta(seconds=30),
            )
            await asyncio.wait_for(handle.result(), timeout=30)
            return
        except Exception:  # noqa: BLE001
            if time.monotonic() > end:
                raise
            await asyncio.sleep(1)


async def run(args: argparse.Namespace) -> int:
    client = await Client.connect(args.address, namespace="default")
    await wait_for_pollers(client)
    soak = Soak(args, client)
    report = await soak.run()
    Path(args.out).write_text(json.dumps(report, indent=2))
    print_report(report)
    return 0 if report["noop"]["failed"] == 0 and report["index"]["failed"] == 0 else 1


def main() -> int:
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    w = sub.add_parser("write-config")
    w.add_argument("--config", required=True)
    w.add_argument("--listen", required=True)
    w.add_argument("--slots", type=int, default=8)
    r = sub.add_parser("run")
    r.add_argument("--address", required=True)
    r.add_argument("--config", required=True)
    r.add_argument("--listen", required=True)
    r.add_argument("--host-pid", type=int, required=True)
    r.add_argument("--data-dir", required=True)
    r.add_argument("--repo", required=True)
    r.add_argument("--minutes", type=float, default=20)
    r.add_argument("--rate", type=float, default=5)
    r.add_argument("--index-every", type=float, default=60)
    r.add_argument("--edit-every", type=float, default=30)
    r.add_argument("--slots", type=int, default=8)
    r.add_argument("--out", required=True)
    args = p.parse_args()
    if args.cmd == "write-config":
        write_config(Path(args.config), args.listen, args.slots)
        return 0
    return asyncio.run(run(args))


if __name__ == "__main__":
    sys.exit(main())
