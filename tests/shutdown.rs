//! SIGTERM drains: in-flight activities finish within the grace period and the host exits 0;
//! past the grace period they are cancelled and the exit code says so.

mod common;

use common::*;
use nix::sys::signal::Signal;
use serde_json::json;
use std::time::Duration;

fn config(queue: &str, grace: &str) -> String {
    format!(
        "{}\n[[workers]]\nname = \"sleepers\"\ntask_queue = \"{queue}\"\nworkflows = [\"SleepWorkflow\"]\nactivities = [\"sleep\"]\n",
        config_header(grace)
    )
}

#[tokio::test]
async fn sigterm_lets_the_running_activity_finish_then_exits_zero() {
    let queue = unique("drain");
    let mut host = Host::start("custom_host", &config(&queue, "30s"));
    let client = client().await;
    let id = unique("drain-wf");
    start_sleep(&client, &queue, &id, 3000).await;
    host.wait_for_log("activity_type=sleep", Duration::from_secs(20));
    host.wait_for_log("worker polling", Duration::from_secs(5));
    // The activity is running: its span appears once the ledger has recorded it.
    tokio::time::sleep(Duration::from_millis(500)).await;
    host.signal(Signal::SIGTERM);
    let status = host.wait_exit(Duration::from_secs(30));
    let log = host.log();
    assert_eq!(status.code(), Some(0), "{log}");
    assert!(log.contains("drained=1"), "{log}");
    assert!(
        log.contains(&format!("sleep (activity 1 of workflow {id})")),
        "{log}"
    );

    // The activity's completion was recorded; a host started again finishes the workflow
    // without running the activity a second time.
    let dir = std::mem::replace(&mut host.dir, tempfile::tempdir().unwrap());
    let _again = Host::start_in("custom_host", dir);
    let report = result_within(&client, &id, Duration::from_secs(30))
        .await
        .unwrap();
    assert_eq!(report["attempt"], json!(1), "{report}");
    assert!(report["ended_ms"].as_u64() > report["started_ms"].as_u64());
}

#[tokio::test]
async fn a_grace_period_shorter_than_the_activity_cancels_it_and_says_so() {
    let queue = unique("cancel");
    let mut host = Host::start("custom_host", &config(&queue, "1s"));
    let client = client().await;
    let id = unique("cancel-wf");
    start_sleep(&client, &queue, &id, 60000).await;
    host.wait_for_log("activity_type=sleep", Duration::from_secs(20));
    tokio::time::sleep(Duration::from_millis(500)).await;
    host.signal(Signal::SIGTERM);
    let status = host.wait_exit(Duration::from_secs(30));
    let log = host.log();
    assert_eq!(status.code(), Some(3), "{log}");
    assert!(log.contains("grace period ran out"), "{log}");
    assert!(
        log.contains(&format!("sleep (activity 1 of workflow {id})")),
        "{log}"
    );
    assert!(
        log.contains("exiting after cancelling in-flight work"),
        "{log}"
    );
}
