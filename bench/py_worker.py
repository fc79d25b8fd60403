"""A Python `temporalio` worker for one task queue, with the benchmark's limits, until SIGTERM.

    python3 bench/py_worker.py --address 127.0.0.1:7233 --task-queue q
"""

import argparse
import asyncio
import os
import signal
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from temporalio.client import Client  # noqa: E402
from temporalio.service import GrpcCompression  # noqa: E402
from temporalio.worker import Worker  # noqa: E402

from py_noop import NoopWorkflow, noop  # noqa: E402


async def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--address", required=True)
    p.add_argument("--namespace", default="default")
    p.add_argument("--task-queue", required=True)
    p.add_argument("--max-concurrent-activities", type=int, default=100)
    p.add_argument("--max-concurrent-workflow-tasks", type=int, default=100)
    p.add_argument("--grpc-compression", choices=["default", "gzip", "none"], default="default",
                   help="gRPC compression of the client connection (default: the SDK's, gzip)")
    args = p.parse_args()

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for s in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(s, stop.set)

    connect_options = {}
    if args.grpc_compression != "default":
        connect_options["grpc_compression"] = (
            GrpcCompression.NONE if args.grpc_compression == "none" else GrpcCompression.GZIP
        )
    client = await Client.connect(args.address, namespace=args.namespace, **connect_options)
    # Everything else (pollers: 5 + 5, sticky cache: 1000, sandboxed workflow runner) is the
    # SDK's default, as a user would run it.
    worker = Worker(
        client,
        task_queue=args.task_queue,
        workflows=[NoopWorkflow],
        activities=[noop],
        max_concurrent_activities=args.max_concurrent_activities,
        max_concurrent_workflow_tasks=args.max_concurrent_workflow_tasks,
    )
    async with worker:
        await stop.wait()


if __name__ == "__main__":
    asyncio.run(main())
    # The worker has shut down; skip interpreter finalization, which can abort while the SDK's
    # native threads are still winding down ("PyGILState_Release").
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)
