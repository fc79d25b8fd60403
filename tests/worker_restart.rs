//! A worker that fails is built again after a delay that doubles (1 s, 2 s, 4 s: the host's
//! default `RestartBackoff`), while the other entries of the same host go on serving. The
//! failures are real SDK workers stopped by the test-only fault hook (`WORKER_HOST_FAULTS`,
//! cargo feature `fault-injection`, absent from a normal build).

mod common;

use common::*;
use std::{
    sync::Arc,
    time::{Duration, Instant},
};

/// What the host's default backoff waits before each rebuild of a failed worker.
const BACKOFF: [Duration; 3] = [
    Duration::from_secs(1),
    Duration::from_secs(2),
    Duration::from_secs(4),
];

/// How much a spell seen through `/readyz` polling may look shorter than it was.
const POLL_SLACK: Duration = Duration::from_millis(300);

#[tokio::test(flavor = "multi_thread")]
async fn a_failing_worker_is_restarted_with_backoff_while_the_others_serve() {
    let (steady, flaky) = (unique("steady"), unique("flaky"));
    let dir = tempfile::tempdir().expect("tempdir");
    let config = sleepers(
        &config_header("5s"),
        &[("steady", &steady, 2), ("flaky", &flaky, 2)],
    );
    std::fs::write(dir.path().join("workers.toml"), config).expect("write config");
    let faults = [("WORKER_HOST_FAULTS", "flaky:3")];
    let host = Arc::new(Host::start_with_env(
        "custom_host",
        dir,
        &temporal_address(),
        &[],
        &faults,
    ));

    // Watch `flaky` through /readyz (on a thread of its own) until it runs after 3 restarts;
    // meanwhile keep `steady` busy.
    let watched = host.clone();
    let watch = tokio::task::spawn_blocking(move || restarting_spells(&watched, "flaky", 3));
    let client = client().await;
    let mut served = 0;
    while !watch.is_finished() {
        let id = unique("steady-wf");
        start_sleep(&client, &steady, &id, 100).await;
        result_within(&client, &id, Duration::from_secs(20))
            .await
            .unwrap_or_else(|e| panic!("`steady` stopped serving: {e}\n{}", host.log()));
        served += 1;
    }
    let spells = watch.await.expect("watcher");
    eprintln!("restart spells of `flaky`: {spells:?}; `steady` served {served} meanwhile");

    assert_eq!(spells.len(), 3, "{spells:?}");
    for (spell, backoff) in spells.iter().zip(BACKOFF) {
        assert!(
            *spell + POLL_SLACK >= backoff,
            "each rebuild waits its backoff (1 s, 2 s, 4 s): {spells:?}"
        );
    }
    assert!(
        spells[2] < BACKOFF[2] + Duration::from_secs(10),
        "the last rebuild came on time: {spells:?}"
    );
    assert!(
        served >= 3,
        "`steady` served while `flaky` restarted ({served} workflows in {:?})",
        spells.iter().sum::<Duration>()
    );
    assert_eq!(host.log().matches("injected fault").count(), 3);

    let report = host.ready().expect("readyz");
    let entry = |name: &str| {
        report["entries"]
            .as_array()
            .and_then(|a| a.iter().find(|e| e["name"] == name))
            .cloned()
            .unwrap_or_else(|| panic!("no entry {name} in {report}"))
    };
    assert_eq!(entry("steady")["restarts"], 0, "{report}");
    assert_eq!(entry("steady")["state"], "running", "{report}");
    assert_eq!(entry("flaky")["restarts"], 3, "{report}");

    // The rebuilt worker serves its queue.
    let id = unique("flaky-wf");
    start_sleep(&client, &flaky, &id, 100).await;
    result_within(&client, &id, Duration::from_secs(20))
        .await
        .unwrap_or_else(|e| panic!("the restarted `flaky` does not serve: {e}\n{}", host.log()));
    assert_eq!(
        host.wait_ready("ready", Duration::from_secs(10), |r| r["ready"] == true)["entries"]
            .as_array()
            .map(Vec::len),
        Some(2)
    );
}

/// Poll `/readyz` until `entry` runs after `restarts` restarts; the length of each spell it
/// spent restarting (failed, waiting for its next build).
fn restarting_spells(host: &Host, entry: &str, restarts: u64) -> Vec<Duration> {
    let mut spells = Vec::new();
    let mut since: Option<Instant> = None;
    wait_until(
        &format!("`{entry}` running after {restarts} restarts"),
        Duration::from_secs(60),
        || {
            let report = host.ready()?;
            let found = report["entries"]
                .as_array()
                .and_then(|a| a.iter().find(|e| e["name"] == entry))
                .cloned()
                .ok_or_else(|| report.to_string())?;
            let restarting = found["state"] == "restarting";
            match (restarting, since) {
                (true, None) => since = Some(Instant::now()),
                (false, Some(start)) => {
                    spells.push(start.elapsed());
                    since = None;
                }
                _ => {}
            }
            if found["state"] == "running" && found["restarts"].as_u64() == Some(restarts) {
                Ok(())
            } else {
                Err(found.to_string())
            }
        },
    );
    spells
}
