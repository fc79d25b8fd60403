//! Edits that are not applied: an invalid file, or a change of `[temporal]`. The running config
//! stays and keeps processing work; a fixed file is then applied. With `reload = false` only
//! SIGHUP applies an edit (that a save alone does not is shown in-process, in
//! crates/host/tests/reload_requests.rs).

mod common;

use common::*;
use serde_json::json;
use std::time::Duration;

const LIMIT: Duration = Duration::from_secs(10);

/// A host with one sleep entry on a new queue: the host and the queue.
fn host_with_one_entry(header: &str) -> (Host, String) {
    let queue = unique("keep");
    let host = Host::start("custom_host", &sleepers(header, &[("work", &queue, 2)]));
    (host, queue)
}

/// The old config still processes work on `queue`.
async fn still_serves(queue: &str) {
    let client = client().await;
    let id = unique("still");
    start_sleep(&client, queue, &id, 1).await;
    result_within(&client, &id, Duration::from_secs(20))
        .await
        .expect("the running config still processes work");
}

#[tokio::test]
async fn an_invalid_edit_keeps_the_running_config_until_fixed() {
    let header = config_header("30s");
    let (host, queue) = host_with_one_entry(&header);
    let broken = format!("{header}{}", sleep_entry("work", &queue, 2)).replace(
        "max_concurrent_activities = 2",
        "max_concurrent_activities = 0",
    );
    host.edit_config(&broken);
    let (error, report) = host.wait_for_rejection(LIMIT);
    assert!(
        error.contains(
            ".toml:14:29: workers[0].max_concurrent_activities: must be a whole number from 1"
        ),
        "the rejection names the line: {error}"
    );
    assert_eq!(report["config_generation"], json!(1));
    still_serves(&queue).await;

    host.edit_config(&format!("{header}{}", sleep_entry("work", &queue, 4)));
    let applied = host.wait_for_generation(2, LIMIT);
    assert_eq!(applied["tuned"], json!(["work"]), "{applied}");
    assert_eq!(
        host.ready().expect("/readyz")["last_reload_error"],
        json!(null)
    );
    still_serves(&queue).await;
}

#[tokio::test]
async fn a_change_of_temporal_settings_is_refused_with_a_reason() {
    let header = config_header("30s");
    let (host, queue) = host_with_one_entry(&header);
    let moved = format!(
        "{}{}",
        header.replace("namespace = \"default\"", "namespace = \"elsewhere\""),
        sleep_entry("work", &queue, 3)
    );
    host.edit_config(&moved);
    let (error, report) = host.wait_for_rejection(LIMIT);
    assert!(
        error.contains("[temporal] changed: a new connection needs a restart"),
        "{error}"
    );
    assert_eq!(report["config_generation"], json!(1), "nothing was applied");
    still_serves(&queue).await;
}

#[tokio::test]
async fn with_reload_off_sighup_applies_an_edit() {
    let header = config_header("30s").replace("[host]\n", "[host]\nreload = false\n");
    let (host, queue) = host_with_one_entry(&header);
    host.edit_config(&format!("{header}{}", sleep_entry("work", &queue, 3)));
    host.signal(nix::sys::signal::Signal::SIGHUP);
    let applied = host.wait_for_generation(2, LIMIT);
    assert_eq!(applied["trigger"], json!("sighup"), "{applied}");
    assert_eq!(applied["tuned"], json!(["work"]), "{applied}");
}
