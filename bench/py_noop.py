"""The Python side of the throughput benchmark: the same workflow and activity as
`examples/custom_host.rs` (`NoopWorkflow` runs activity `noop`, which returns its input;
start-to-close 30 s)."""

from datetime import timedelta

from temporalio import activity, workflow


@activity.defn(name="noop")
async def noop(input: str) -> str:
    return input


@workflow.defn(name="NoopWorkflow")
class NoopWorkflow:
    @workflow.run
    async def run(self, input: str) -> str:
        return await workflow.execute_activity(
            "noop", input, start_to_close_timeout=timedelta(seconds=30)
        )
