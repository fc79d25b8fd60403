//! Embedding worker-host: a program adds its own workflows and activities to the registry and
//! gets the whole `worker-host` command line (`run`, `validate`) for them.
//!
//! ```text
//! cargo run --example custom_host -- validate --config examples/custom_host.toml
//! cargo run --example custom_host -- run --config examples/custom_host.toml --dev
//! ```
//!
//! The integration tests and the throughput benchmark drive this program: its definitions are
//! for demonstration and measurement, so they stay out of the production registry.

use serde::{Deserialize, Serialize};
use std::{
    sync::Arc,
    time::{Duration, SystemTime, UNIX_EPOCH},
};
use temporalio_macros::{activities, workflow, workflow_methods};
use temporalio_sdk::{
    ActivityOptions, WorkflowContext, WorkflowResult,
    activities::{ActivityContext, ActivityError},
};
use worker_host::Registry;

/// Input of [`SleepWorkflow`]: how long its one activity sleeps.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SleepInput {
    /// Sleep time in milliseconds.
    pub millis: u64,
    /// Sleep on a blocking thread, deaf to cancellation, as CPU-bound work does. Default false.
    #[serde(default)]
    pub blocking: bool,
}

/// What one activity attempt did, so a client can check concurrency and exactly-once runs.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SleepReport {
    /// Activity id.
    pub activity_id: String,
    /// Workflow the activity ran for.
    pub workflow_id: Option<String>,
    /// Attempt number (1 when it ran once).
    pub attempt: u32,
    /// Task queue it ran on.
    pub task_queue: String,
    /// Start, milliseconds since the Unix epoch.
    pub started_ms: u64,
    /// End, milliseconds since the Unix epoch.
    pub ended_ms: u64,
    /// Process that ran it.
    pub pid: u32,
}

/// Runs one `sleep` activity and returns its report.
#[workflow]
#[derive(Default)]
pub struct SleepWorkflow;

#[workflow_methods]
impl SleepWorkflow {
    /// Run the activity.
    #[run]
    pub async fn run(
        ctx: &mut WorkflowContext<Self>,
        input: SleepInput,
    ) -> WorkflowResult<SleepReport> {
        let timeout = Duration::from_millis(input.millis) + Duration::from_secs(15);
        // Naming the workflow's own queue lets the server hand the activity straight back in
        // the workflow task's reply (eager execution) instead of through another poll.
        let options = ActivityOptions::with_start_to_close_timeout(timeout)
            .task_queue(ctx.task_queue().to_owned())
            .build();
        Ok(ctx
            .execute_activity(DemoActivities::sleep, input, options)
            .await?)
    }
}

/// Runs one `noop` activity: the unit of the throughput benchmark.
#[workflow]
#[derive(Default)]
pub struct NoopWorkflow;

#[workflow_methods]
impl NoopWorkflow {
    /// Run the activity.
    #[run]
    pub async fn run(ctx: &mut WorkflowContext<Self>, input: String) -> WorkflowResult<String> {
        let options = ActivityOptions::with_start_to_close_timeout(Duration::from_secs(30))
            .task_queue(ctx.task_queue().to_owned())
            .build();
        Ok(ctx
            .execute_activity(DemoActivities::noop, input, options)
            .await?)
    }
}

/// The example's activities.
pub struct DemoActivities;

#[activities]
impl DemoActivities {
    /// Sleep for `millis` unless cancelled first (as on a shutdown past its grace period).
    #[activity(name = "sleep")]
    pub async fn sleep(
        ctx: ActivityContext,
        input: SleepInput,
    ) -> Result<SleepReport, ActivityError> {
        let started_ms = now_ms();
        // The host's activity span adds the workflow id, run id and activity type to this line.
        tracing::info!(millis = input.millis, "sleeping");
        let pause = Duration::from_millis(input.millis);
        if input.blocking {
            tokio::task::spawn_blocking(move || std::thread::sleep(pause))
                .await
                .map_err(anyhow::Error::from)?;
        } else {
            tokio::select! {
                _ = tokio::time::sleep(pause) => {}
                _ = ctx.cancelled() => return Err(ActivityError::cancelled()),
            }
        }
        let info = ctx.info();
        Ok(SleepReport {
            activity_id: info.activity_id.clone(),
            workflow_id: info.workflow_id.clone(),
            attempt: info.attempt,
            task_queue: info.task_queue.clone(),
            started_ms,
            ended_ms: now_ms(),
            pid: std::process::id(),
        })
    }

    /// Return the input unchanged.
    #[activity(name = "noop")]
    pub async fn noop(_ctx: ActivityContext, input: String) -> Result<String, ActivityError> {
        Ok(input)
    }
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// The built-in registry plus this example's definitions.
fn registry() -> Registry {
    let demo = Arc::new(DemoActivities);
    worker_host::builtin()
        .workflow::<SleepWorkflow>()
        .workflow::<NoopWorkflow>()
        .activity(DemoActivities::sleep, demo.clone())
        .activity(DemoActivities::noop, demo)
        .activity_set("demo", ["sleep", "noop"])
}

fn main() -> std::process::ExitCode {
    worker_host::cli::main(registry())
}
