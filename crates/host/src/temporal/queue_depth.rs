//! Queue depth: the server's approximate backlog (count and age of the oldest task) of every
//! task queue of the running config, per task type, read with `DescribeTaskQueue`
//! (`report_stats`) every few seconds and right after each config apply, for `/metrics`
//! (`worker_host_task_queue_backlog*`) and `/readyz`.
//!
//! The numbers are the server's approximation: on the dev server they follow new and drained
//! tasks within about a second.

use crate::status::{Backlog, HostStatus};
use std::time::Duration;
use temporalio_client::Client;
use temporalio_common::protos::temporal::api::{
    enums::v1::{TaskQueueKind, TaskQueueType},
    taskqueue::v1::TaskQueue,
    workflowservice::v1::DescribeTaskQueueRequest,
};

/// Time between two reads of every queue.
const INTERVAL: Duration = Duration::from_secs(5);
/// How long one read may take.
const TIMEOUT: Duration = Duration::from_secs(5);
/// The task types read, with their label.
const TASK_TYPES: [(TaskQueueType, &str); 2] = [
    (TaskQueueType::Workflow, "workflow"),
    (TaskQueueType::Activity, "activity"),
];

/// Read the backlogs of `status`'s task queues in `namespace` now, every [`INTERVAL`] and after
/// each config apply, in the background. A failed read keeps the last values and is logged at
/// debug level (an unreachable server is reported by the reachability check).
pub fn watch(client: Client, namespace: String, status: HostStatus) {
    tokio::spawn(async move {
        loop {
            let queues = status.task_queues();
            status.retain_backlogs(&queues);
            for queue in &queues {
                for (task_type, label) in TASK_TYPES {
                    match read(&client, &namespace, queue, task_type).await {
                        Ok(backlog) => status.backlog_read(queue, label, backlog),
                        Err(e) => tracing::debug!(
                            task_queue = %queue,
                            task_type = label,
                            error = format!("{e:#}"),
                            "cannot read the task queue's backlog"
                        ),
                    }
                }
            }
            tokio::select! {
                _ = tokio::time::sleep(INTERVAL) => {}
                _ = status.config_applied() => {}
            }
        }
    });
}

async fn read(
    client: &Client,
    namespace: &str,
    queue: &str,
    task_type: TaskQueueType,
) -> anyhow::Result<Backlog> {
    let mut service = client.connection().workflow_service();
    let call = service.describe_task_queue(super::without_retries(DescribeTaskQueueRequest {
        namespace: namespace.to_owned(),
        task_queue: Some(TaskQueue {
            name: queue.to_owned(),
            kind: TaskQueueKind::Normal as i32,
            ..Default::default()
        }),
        task_queue_type: task_type as i32,
        report_stats: true,
        ..Default::default()
    }));
    let response = tokio::time::timeout(TIMEOUT, call)
        .await
        .map_err(|_| anyhow::anyhow!("no answer within {TIMEOUT:?}"))??
        .into_inner();
    let stats = response.stats.unwrap_or_default();
    let age = stats.approximate_backlog_age.unwrap_or_default();
    Ok(Backlog {
        count: u64::try_from(stats.approximate_backlog_count).unwrap_or(0),
        age_seconds: age.seconds as f64 + f64::from(age.nanos) / 1e9,
    })
}
