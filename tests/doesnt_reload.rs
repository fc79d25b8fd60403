//! Edits that are not applied: an invalid file, or a change of `[temporal]`. The running config
//! stays and keeps processing work; a fixed file is then applied.

mod common;

use common::*;
use std::time::Duration;

#[tokio::test]
async fn an_invalid_edit_keeps_the_running_config_until_fixed() {
    let queue = unique("keep");
    let header = config_header("30s");
    let host = Host::start(
        "custom_host",
        &format!("{header}{}", sleep_entry("work", &queue, 2)),
    );
    let broken = format!("{header}{}", sleep_entry("work", &queue, 2)).replace(
        "max_concurrent_activities = 2",
        "max_concurrent_activities = 0",
    );
    host.edit_config(&broken);
    host.wait_for_log(
        "config rejected; the running config stays",
        Duration::from_secs(10),
    );
    assert!(
        host.log().contains(
            ".toml:14:29: workers[0].max_concurrent_activities: must be a whole number from 1"
        ),
        "the rejection names the line: {}",
        host.log()
    );

    let client = client().await;
    let id = unique("keep-wf");
    start_sleep(&client, &queue, &id, 1).await;
    result_within(&client, &id, Duration::from_secs(20))
        .await
        .expect("the old config still processes work");

    host.edit_config(&format!("{header}{}", sleep_entry("work", &queue, 4)));
    host.wait_for_generation(2, Duration::from_secs(10));
    let id = unique("keep-wf2");
    start_sleep(&client, &queue, &id, 1).await;
    result_within(&client, &id, Duration::from_secs(20))
        .await
        .unwrap();
}

#[tokio::test]
async fn a_change_of_temporal_settings_is_refused_with_a_reason() {
    let queue = unique("ns");
    let header = config_header("30s");
    let host = Host::start(
        "custom_host",
        &format!("{header}{}", sleep_entry("work", &queue, 2)),
    );
    let moved = format!(
        "{}{}",
        header.replace("namespace = \"default\"", "namespace = \"elsewhere\""),
        sleep_entry("work", &queue, 3)
    );
    host.edit_config(&moved);
    host.wait_for_log(
        "[temporal] changed: a new connection needs a restart",
        Duration::from_secs(10),
    );
    assert!(!host.log().contains("generation=2"), "nothing was applied");

    let client = client().await;
    let id = unique("ns-wf");
    start_sleep(&client, &queue, &id, 1).await;
    result_within(&client, &id, Duration::from_secs(20))
        .await
        .unwrap();
}

#[tokio::test]
async fn with_reload_off_only_sighup_applies_an_edit() {
    let queue = unique("hup");
    let header = config_header("30s").replace("[host]\n", "[host]\nreload = false\n");
    let host = Host::start(
        "custom_host",
        &format!("{header}{}", sleep_entry("work", &queue, 2)),
    );
    host.edit_config(&format!("{header}{}", sleep_entry("work", &queue, 3)));
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(
        !host.log().contains("generation=2"),
        "a save alone does not reload"
    );
    host.signal(nix::sys::signal::Signal::SIGHUP);
    host.wait_for_generation(2, Duration::from_secs(10));
    assert!(
        host.log().contains("trigger=Some(Sighup)"),
        "{}",
        host.log()
    );
}
