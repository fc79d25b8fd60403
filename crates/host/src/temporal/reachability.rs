//! Whether Temporal answers, for `/readyz`: a cheap `GetSystemInfo` call every couple of seconds
//! with a short timeout. A host whose server is gone is not ready (its workers cannot get
//! tasks), with a reason naming the address and the error; it is ready again on the first
//! answer after the server returns.

use crate::status::HostStatus;
use std::time::Duration;
use temporalio_client::Client;
use temporalio_common::protos::temporal::api::workflowservice::v1::GetSystemInfoRequest;

/// Time between two checks.
const INTERVAL: Duration = Duration::from_secs(2);
/// How long a check waits for the answer.
const TIMEOUT: Duration = Duration::from_secs(2);

/// Check `address` through `client` now and every [`INTERVAL`] in the background, reporting
/// each result to `status` and logging each change.
pub fn watch(client: Client, address: String, status: HostStatus) {
    tokio::spawn(async move {
        let mut was_reachable = true;
        let mut ticks = tokio::time::interval(INTERVAL);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            let result = check(&client)
                .await
                .map_err(|e| format!("Temporal at {address} unreachable: {}", one_line(&e)));
            match (&result, was_reachable) {
                (Err(reason), true) => tracing::warn!("{reason}; not ready until it answers"),
                (Ok(()), false) => tracing::info!(%address, "Temporal answers again"),
                _ => {}
            }
            was_reachable = result.is_ok();
            status.temporal_checked(result);
        }
    });
}

async fn check(client: &Client) -> anyhow::Result<()> {
    let mut service = client.connection().workflow_service();
    let call = service.get_system_info(super::without_retries(GetSystemInfoRequest::default()));
    tokio::time::timeout(TIMEOUT, call)
        .await
        .map_err(|_| anyhow::anyhow!("no answer within {TIMEOUT:?}"))??;
    Ok(())
}

/// A gRPC status prints its details over several lines; keep the message on one.
fn one_line(e: &anyhow::Error) -> String {
    let text = match e.downcast_ref::<temporalio_client::tonic::Status>() {
        Some(status) => format!("{:?}: {}", status.code(), status.message()),
        None => format!("{e:#}"),
    };
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}
