//! The canary: a workflow with one activity that reports which host process served it. Start it
//! on any queue to check that the queue is served end to end (server → workflow task →
//! activity → completion) and by which version:
//! `temporal workflow execute --type HostCanaryWorkflow --task-queue Q --input '""'`.
//!
//! [`HostCanaryHoldWorkflow`] runs the activity twice with a `release` signal between: across a
//! rollout of a new build (Worker Versioning) its two reports show where a workflow that was
//! running went on — a pinned one stays on its build, an auto-upgrade one moves to the new one.

use serde::{Deserialize, Serialize};
use std::{sync::Arc, time::Duration};
use temporalio_macros::{activities, workflow, workflow_methods};
use temporalio_sdk::{
    ActivityOptions, SyncWorkflowContext, WorkflowContext, WorkflowResult,
    activities::{ActivityContext, ActivityError},
};

/// Workflow type name of the canary.
pub const WORKFLOW: &str = "HostCanaryWorkflow";
/// Workflow type name of the held canary.
pub const HOLD_WORKFLOW: &str = "HostCanaryHoldWorkflow";
/// The signal that lets a held canary finish.
pub const RELEASE_SIGNAL: &str = "release";
/// Activity (and activity-set) name of the canary.
pub const ACTIVITY: &str = "host_canary";

/// Who served a canary.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct CanaryReport {
    /// The text the canary was started with.
    pub echo: String,
    /// worker-host version of the serving process.
    pub version: String,
    /// Process id of the serving host.
    pub pid: u32,
    /// Task queue the activity ran on.
    pub task_queue: String,
}

/// Runs [`CanaryActivities::host_canary`] once and returns its report.
#[workflow]
#[derive(Default)]
pub struct HostCanaryWorkflow;

#[workflow_methods]
impl HostCanaryWorkflow {
    /// Run the canary activity.
    #[run]
    pub async fn run(
        ctx: &mut WorkflowContext<Self>,
        echo: String,
    ) -> WorkflowResult<CanaryReport> {
        Ok(ctx
            .execute_activity(CanaryActivities::host_canary, echo, on_own_queue(ctx))
            .await?)
    }
}

/// The canary activity's options: on the workflow's own queue.
fn on_own_queue<W>(ctx: &WorkflowContext<W>) -> ActivityOptions {
    ActivityOptions::with_start_to_close_timeout(Duration::from_secs(30))
        .task_queue(ctx.task_queue().to_owned())
        .build()
}

/// Runs [`CanaryActivities::host_canary`], waits for the `release` signal, runs it again, and
/// returns both reports.
#[workflow]
#[derive(Default)]
pub struct HostCanaryHoldWorkflow {
    released: bool,
}

#[workflow_methods]
impl HostCanaryHoldWorkflow {
    /// Run the canary activity on each side of the `release` signal.
    #[run]
    pub async fn run(
        ctx: &mut WorkflowContext<Self>,
        echo: String,
    ) -> WorkflowResult<Vec<CanaryReport>> {
        let before = ctx
            .execute_activity(
                CanaryActivities::host_canary,
                echo.clone(),
                on_own_queue(ctx),
            )
            .await?;
        ctx.wait_condition(|s| s.released).await?;
        let after = ctx
            .execute_activity(CanaryActivities::host_canary, echo, on_own_queue(ctx))
            .await?;
        Ok(vec![before, after])
    }

    /// Let the workflow run its second activity and finish.
    #[signal(name = "release")]
    pub fn release(&mut self, _ctx: &mut SyncWorkflowContext<Self>) {
        self.released = true;
    }
}

/// The canary's activity.
pub struct CanaryActivities;

#[activities]
impl CanaryActivities {
    /// Report the serving process.
    #[activity(name = "host_canary")]
    pub async fn host_canary(
        ctx: ActivityContext,
        echo: String,
    ) -> Result<CanaryReport, ActivityError> {
        Ok(CanaryReport {
            echo,
            version: env!("CARGO_PKG_VERSION").to_owned(),
            pid: std::process::id(),
            task_queue: ctx.info().task_queue.clone(),
        })
    }
}

/// Add the canary to `registry`.
pub fn register(registry: worker_host_core::Registry) -> worker_host_core::Registry {
    registry
        .workflow::<HostCanaryWorkflow>()
        .workflow::<HostCanaryHoldWorkflow>()
        .activity(CanaryActivities::host_canary, Arc::new(CanaryActivities))
}
