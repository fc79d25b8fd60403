//! Two hosts run the same entries (their own data folders and ports) for one Temporal server
//! and one Neo4j. The host holding a run (it cloned the repository; the parse and the writes
//! are routed to its host-local queues) is SIGKILLed during the parse, or during the graph
//! writes: the run starts over on the other host once `host_seconds` pass, completes, and the
//! graph equals a clean index — nothing missing, nothing twice.

mod common;

use common::indexer::{
    Indexer, Store, big_repo, config, progress, slow, small_transactions, start_indexing,
    wait_for_progress,
};
use common::{client, own_listen, temporal_address, unique};
use nix::sys::signal::Signal;
use serde_json::Value as Json;
use std::time::{Duration, Instant};

/// The run's `host_seconds`: how long work routed to the lost host waits for it.
const HOST_SECONDS: u64 = 20;
/// The run's `heartbeat_seconds`: how soon a started activity of the lost host times out.
const HEARTBEAT_SECONDS: u64 = 3;
/// Rows per graph write transaction: over a thousand transactions, so the graph write lasts
/// long enough to kill its host in the middle of it.
const ROWS_PER_TRANSACTION: usize = 25;

#[tokio::test(flavor = "multi_thread")]
async fn the_run_moves_to_the_other_host_when_its_host_dies_during_parse() {
    // The parse stage as a whole: its first progress report can come after most of a parse of
    // these small files, so waiting for one missed the stage now and then.
    a_lost_host_hands_the_run_over(|p| p["stage"] == "parsing").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_run_moves_to_the_other_host_when_its_host_dies_during_persist() {
    a_lost_host_hands_the_run_over(|p| {
        p["stage"] == "persisting_graph" && p["elements_written"].as_u64() > Some(0)
    })
    .await;
}

/// Start a run on two hosts, SIGKILL the one that cloned it once its progress satisfies
/// `moment`, and check the hand-over.
async fn a_lost_host_hands_the_run_over(moment: impl Fn(&Json) -> bool) {
    let repo = big_repo();
    let queue = unique("lost");
    let text = small_transactions(&slow(&config(&queue, Store::Neo4j)), ROWS_PER_TRANSACTION);
    let address = temporal_address();
    let mut hosts = [text.clone(), own_listen(&text)].map(|text| {
        let dir = tempfile::tempdir().expect("tempdir");
        Some(Indexer::start_with(
            dir,
            &queue,
            &text,
            Store::Neo4j,
            &address,
        ))
    });

    let client = client().await;
    let (repo_id, workflow_id) = start_indexing(
        &client,
        &queue,
        repo.path(),
        "lost",
        (HEARTBEAT_SECONDS, HOST_SECONDS),
    )
    .await;
    let at_kill = wait_for_progress(
        &address,
        &workflow_id,
        "the moment to kill the holding host",
        Duration::from_secs(90),
        &moment,
    );

    // The holder is the host with the run's folder (its clone).
    let holder = hosts
        .iter()
        .position(|h| h.as_ref().is_some_and(|h| h.workspace_entries() > 0))
        .unwrap_or_else(|| panic!("no host holds the run at {at_kill}"));
    let mut lost = hosts[holder].take().expect("holder");
    let survivor = hosts[1 - holder].take().expect("survivor");
    lost.host.signal(Signal::SIGKILL);
    let killed = Instant::now();
    lost.host.wait_exit(Duration::from_secs(10));

    let moved = wait_for_progress(
        &address,
        &workflow_id,
        "the run starting over on the other host",
        Duration::from_secs(HOST_SECONDS + 60),
        |p| p["attempt"].as_u64() >= Some(2),
    );
    let held = killed.elapsed();
    eprintln!("killed at {at_kill}; the run started over {held:?} later");
    assert!(
        held <= Duration::from_secs(HOST_SECONDS + 30),
        "the dead host's queues held the run {held:?} (host_seconds {HOST_SECONDS}): {moved}"
    );

    let summary = common::result_within(&client, &workflow_id, Duration::from_secs(180))
        .await
        .unwrap_or_else(|e| {
            let now = progress(&address, &workflow_id);
            panic!(
                "{e}\nprogress: {now:?}\nsurvivor log:\n{}",
                survivor.host.log()
            )
        });
    eprintln!("completed {:?} after the kill", killed.elapsed());
    assert_eq!(summary["attempts"], 2, "{summary:#}");
    assert_eq!(summary["files"], 3001, "{summary:#}");
    assert!(
        survivor.workspace_entries() == 0,
        "the survivor removed its run folder"
    );

    let fresh = unique("clean");
    survivor.index_ok(repo.path(), &fresh);
    assert_eq!(
        survivor.dump(&repo_id).await,
        survivor.dump(&fresh).await,
        "the graph equals a clean index: no duplicate, nothing missing"
    );
    drop(lost);
}
