//! SIGTERM drains: in-flight activities finish within the grace period and the host exits 0;
//! past the grace period they are cancelled and the exit code says so. A second SIGTERM ends
//! the process at once, with the dev server it started, whatever still runs.

mod common;

use common::*;
use nix::sys::signal::Signal;
use serde_json::json;
use std::time::{Duration, Instant};

fn config(queue: &str, grace: &str) -> String {
    sleepers(&config_header(grace), &[("sleepers", queue, 100)])
}

/// A host running one `millis` long activity on a new queue: the host, the workflow id, the
/// client.
async fn host_running_a_sleep(
    grace: &str,
    millis: u64,
) -> (Host, String, temporalio_client::Client) {
    let queue = unique("drain");
    let host = Host::start("custom_host", &config(&queue, grace));
    let client = client().await;
    let id = unique("drain-wf");
    start_sleep(&client, &queue, &id, millis).await;
    host.wait_for_running_activity(&queue);
    (host, id, client)
}

/// SIGTERM `host` and wait for its exit: the exit code and the log, which must name the
/// activity of workflow `id` in its drain report.
fn sigterm(host: &mut Host, id: &str) -> (Option<i32>, String) {
    host.signal(Signal::SIGTERM);
    let status = host.wait_exit(Duration::from_secs(30));
    let log = host.log();
    assert!(
        log.contains(&format!("sleep (activity 1 of workflow {id})")),
        "{log}"
    );
    (status.code(), log)
}

#[tokio::test]
async fn sigterm_lets_the_running_activity_finish_then_exits_zero() {
    let (mut host, id, client) = host_running_a_sleep("30s", 3000).await;
    let (code, log) = sigterm(&mut host, &id);
    assert_eq!(code, Some(0), "{log}");
    assert!(log.contains("drained=1"), "{log}");

    // The activity's completion was recorded; a host started again finishes the workflow
    // without running the activity a second time.
    let _again = Host::start_in("custom_host", host.take_dir());
    let report = result_within(&client, &id, Duration::from_secs(30))
        .await
        .unwrap();
    assert_eq!(report["attempt"], json!(1), "{report}");
    assert!(report["ended_ms"].as_u64() > report["started_ms"].as_u64());
}

#[tokio::test]
async fn a_grace_period_shorter_than_the_activity_cancels_it_and_says_so() {
    let (mut host, id, _client) = host_running_a_sleep("1s", 60000).await;
    let (code, log) = sigterm(&mut host, &id);
    assert_eq!(code, Some(3), "{log}");
    assert!(log.contains("grace period ran out"), "{log}");
    assert!(
        log.contains("exiting after cancelling in-flight work"),
        "{log}"
    );
}

#[tokio::test]
async fn a_second_sigterm_exits_at_once_and_takes_the_dev_server_along() {
    let address = format!("127.0.0.1:{}", free_port());
    let queue = unique("second");
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("workers.toml"), config(&queue, "60s")).unwrap();
    let mut host = Host::start_at("custom_host", dir, &address, &["--dev"]);
    let client = client_of(&address).await;
    let id = unique("blocking");
    let input = json!({ "millis": 60_000, "blocking": true });
    start(&client, "SleepWorkflow", &queue, &id, input).await;
    host.wait_for_running_activity(&queue);

    host.signal(Signal::SIGTERM);
    let report = host.wait_ready("the drain under way", Duration::from_secs(10), |r| {
        r["reason"]
            .as_str()
            .is_some_and(|why| why.contains("stopping"))
    });
    assert_eq!(report["ready"], json!(false), "{report}");
    let second = Instant::now();
    host.signal(Signal::SIGTERM);
    let status = host.wait_exit(Duration::from_secs(2));
    assert!(second.elapsed() < Duration::from_secs(2));
    assert_eq!(status.code(), Some(3), "{}", host.log());
    wait_until(
        "the dev server gone",
        Duration::from_secs(2),
        || match std::net::TcpStream::connect(&address) {
            Err(_) => Ok(()),
            Ok(_) => Err(format!("something still listens at {address}")),
        },
    );
}
