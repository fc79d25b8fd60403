"""Client side of the benchmark: the same code drives every worker; only the task queue differs.

    drive.py wait-pollers --address A --task-queue Q [Q ...]
        Return once every queue has a workflow poller and an activity poller.
    drive.py throughput --address A --side LABEL:QUEUE:PID [--side ...] --server-pid S --out-dir D
        Warm each worker up, then per side start --count NoopWorkflow executions (in --rounds
        batches, the sides' order alternating) with at most --concurrency in flight, wait for
        every result, and record wall time plus the CPU time of the worker process and of the
        server (read from /proc before and after each batch, outside this client process).
    drive.py memory --label L --pid P [P ...] --out F.json
        Record VmRSS / VmHWM / Pss of the given processes.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from temporalio.api.enums.v1 import TaskQueueType  # noqa: E402
from temporalio.api.taskqueue.v1 import TaskQueue  # noqa: E402
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest  # noqa: E402
from temporalio.client import Client  # noqa: E402

import procstat  # noqa: E402


async def wait_pollers(args) -> None:
    client = await Client.connect(args.address, namespace=args.namespace)
    deadline = time.monotonic() + args.timeout
    pending = set(args.task_queue)
    while pending:
        for q in sorted(pending):
            kinds = []
            for kind in (TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW, TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY):
                resp = await client.workflow_service.describe_task_queue(
                    DescribeTaskQueueRequest(
                        namespace=args.namespace, task_queue=TaskQueue(name=q), task_queue_type=kind
                    )
                )
                kinds.append(len(resp.pollers) > 0)
            if all(kinds):
                pending.discard(q)
        if not pending:
            break
        if time.monotonic() > deadline:
            sys.exit(f"no pollers after {args.timeout}s on: {', '.join(sorted(pending))}")
        await asyncio.sleep(0.2)


async def run_batch(client: Client, queue: str, prefix: str, count: int, concurrency: int) -> float:
    """Start `count` workflows (at most `concurrency` open at once), wait for all; wall seconds."""
    sem = asyncio.Semaphore(concurrency)

    async def one(i: int) -> None:
        payload = f"{prefix}-{i}"
        async with sem:
            result = await client.execute_workflow(
                "NoopWorkflow", payload, id=payload, task_queue=queue, result_type=str
            )
        if result != payload:
            raise RuntimeError(f"workflow {payload} returned {result!r}")

    t0 = time.perf_counter()
    await asyncio.gather(*(one(i) for i in range(count)))
    return time.perf_counter() - t0


def _side(spec: str) -> tuple[str, str, int]:
    label, queue, pid = spec.split(":")
    return label, queue, int(pid)


async def throughput(args) -> None:
    """Warm every side up, then run `rounds` batches per side, alternating the order each round
    (A B, B A, ...) so that drift in the machine's load or the server's state hits both sides."""
    sides = [_side(s) for s in args.side]
    client = await Client.connect(args.address, namespace=args.namespace)
    run = uuid.uuid4().hex[:8]
    per_round = [args.count // args.rounds + (1 if r < args.count % args.rounds else 0) for r in range(args.rounds)]
    results = {label: {"label": label, "task_queue": q, "rounds": []} for label, q, _ in sides}

    for label, queue, _ in sides:
        results[label]["warmup_seconds"] = await run_batch(
            client, queue, f"warm-{label}-{run}", args.warmup, args.concurrency
        )
    for r, n in enumerate(per_round):
        order = sides if r % 2 == 0 else sides[::-1]
        for label, queue, pid in order:
            await asyncio.sleep(1.0)  # let the previous batch's last tasks settle
            w0, s0 = procstat.cpu_seconds(pid), procstat.tree_cpu_seconds(args.server_pid)
            c0, m0 = time.process_time(), procstat.machine_busy_seconds()
            wall = await run_batch(client, queue, f"wf-{label}-{run}-r{r}", n, args.concurrency)
            w1, s1 = procstat.cpu_seconds(pid), procstat.tree_cpu_seconds(args.server_pid)
            c1, m1 = time.process_time(), procstat.machine_busy_seconds()
            rnd = {
                "round": r + 1,
                "count": n,
                "wall_seconds": wall,
                "worker_cpu_seconds": w1 - w0,
                "server_cpu_seconds": s1 - s0,
                "client_cpu_seconds": c1 - c0,
                # Everything else the machine did meanwhile (the idle other worker, other users).
                "other_cpu_seconds": (m1 - m0) - (w1 - w0) - (s1 - s0) - (c1 - c0),
            }
            results[label]["rounds"].append(rnd)
            print(
                f"  round {r + 1} {label}: {n} workflows in {wall:.2f}s = {n / wall:.1f}/s; worker CPU "
                f"{rnd['worker_cpu_seconds'] * 1000 / n:.2f} ms/wf, server CPU "
                f"{rnd['server_cpu_seconds'] * 1000 / n:.2f} ms/wf, other CPU {rnd['other_cpu_seconds']:.1f}s",
                flush=True,
            )

    for label, _, pid in sides:
        res = results[label]
        rounds = res["rounds"]
        total = lambda k: sum(x[k] for x in rounds)  # noqa: E731
        res.update(
            count=args.count,
            warmup=args.warmup,
            concurrency=args.concurrency,
            wall_seconds=total("wall_seconds"),
            workflows_per_second=args.count / total("wall_seconds"),
            worker_cpu_seconds=total("worker_cpu_seconds"),
            worker_cpu_ms_per_workflow=total("worker_cpu_seconds") * 1000 / args.count,
            server_cpu_seconds=total("server_cpu_seconds"),
            server_cpu_ms_per_workflow=total("server_cpu_seconds") * 1000 / args.count,
            client_cpu_ms_per_workflow=total("client_cpu_seconds") * 1000 / args.count,
            other_cpu_seconds=total("other_cpu_seconds"),
            worker_memory_after=procstat.memory(pid),
        )
        Path(args.out_dir, f"tp-{label}.json").write_text(json.dumps(res, indent=2))
        print(
            f"{label}: {args.count} workflows in {res['wall_seconds']:.2f}s = {res['workflows_per_second']:.1f}/s; "
            f"worker CPU {res['worker_cpu_ms_per_workflow']:.2f} ms/wf, "
            f"server CPU {res['server_cpu_ms_per_workflow']:.2f} ms/wf"
        )


def memory(args) -> None:
    procs = [procstat.memory(p) for p in args.pid]
    out = {
        "label": args.label,
        "processes": procs,
        "rss_kib": sum(p["rss_kib"] for p in procs),
        "pss_kib": sum(p["pss_kib"] or 0 for p in procs),
    }
    Path(args.out).write_text(json.dumps(out, indent=2))
    print(f"{args.label}: {len(procs)} process(es), RSS {out['rss_kib'] / 1024:.1f} MiB, PSS {out['pss_kib'] / 1024:.1f} MiB")


def main() -> None:
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)

    w = sub.add_parser("wait-pollers")
    w.add_argument("--address", required=True)
    w.add_argument("--namespace", default="default")
    w.add_argument("--task-queue", nargs="+", required=True)
    w.add_argument("--timeout", type=float, default=90)

    t = sub.add_parser("throughput")
    t.add_argument("--address", required=True)
    t.add_argument("--namespace", default="default")
    t.add_argument("--side", action="append", required=True, metavar="LABEL:QUEUE:WORKER_PID",
                   help="a worker to drive (repeat); its CPU is read from /proc/WORKER_PID")
    t.add_argument("--server-pid", type=int, required=True)
    t.add_argument("--count", type=int, default=2000, help="measured workflows per side")
    t.add_argument("--rounds", type=int, default=2, help="batches per side, order alternating")
    t.add_argument("--warmup", type=int, default=50)
    t.add_argument("--concurrency", type=int, default=200)
    t.add_argument("--out-dir", required=True, help="writes tp-LABEL.json there")

    m = sub.add_parser("memory")
    m.add_argument("--label", required=True)
    m.add_argument("--pid", type=int, nargs="+", required=True)
    m.add_argument("--out", required=True)

    args = p.parse_args()
    if args.cmd == "wait-pollers":
        asyncio.run(wait_pollers(args))
    elif args.cmd == "throughput":
        asyncio.run(throughput(args))
    else:
        memory(args)


if __name__ == "__main__":
    # Leave without interpreter finalization: the SDK's native threads may still be running,
    # and finalizing under them aborts the process now and then ("PyGILState_Release").
    code = 0
    try:
        main()
    except SystemExit as e:
        if isinstance(e.code, str):
            print(e.code, file=sys.stderr)
            code = 1
        else:
            code = e.code or 0
    except BaseException:
        import traceback

        traceback.print_exc()
        code = 1
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
