//! The canary: a workflow with one activity that reports which host process served it. Start it
//! on any queue to check that the queue is served end to end (server → workflow task →
//! activity → completion) and by which version:
//! `temporal workflow execute --type HostCanaryWorkflow --task-queue Q --input '""'`.

use serde::{Deserialize, Serialize};
use std::{sync::Arc, time::Duration};
use temporalio_macros::{activities, workflow, workflow_methods};
use temporalio_sdk::{
    ActivityOptions, WorkflowContext, WorkflowResult,
    activities::{ActivityContext, ActivityError},
};

/// Workflow type name of the canary.
pub const WORKFLOW: &str = "HostCanaryWorkflow";
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
        let options = ActivityOptions::with_start_to_close_timeout(Duration::from_secs(30))
            .task_queue(ctx.task_queue().to_owned())
            .build();
        Ok(ctx
            .execute_activity(CanaryActivities::host_canary, echo, options)
            .await?)
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
        .activity(CanaryActivities::host_canary, Arc::new(CanaryActivities))
}
