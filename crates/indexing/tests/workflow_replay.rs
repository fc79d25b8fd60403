//! Workflow histories replay against this version of `RepoIndexingWorkflow` without
//! nondeterminism: runs recorded before `CONCURRENT_WRITES` (one write at a time; a full run
//! and an incremental one, in `tests/histories/`) still replay, so runs in flight when a host
//! is upgraded finish. Runs recorded by this version are replayed by `tests/incremental.rs`.

use temporalio_client::WorkflowHistory;
use temporalio_sdk::workflow_replayer::{WorkflowReplayer, WorkflowReplayerOptions};
use worker_host_indexing::RepoIndexingWorkflow;

fn replayer() -> WorkflowReplayer {
    let options = WorkflowReplayerOptions::new()
        .register_workflow::<RepoIndexingWorkflow>()
        .expect("the workflow registers")
        .build();
    WorkflowReplayer::new(options).expect("a replayer")
}

fn recorded(name: &str) -> Vec<u8> {
    let path = format!("{}/tests/histories/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// Names of the activities the history scheduled, in order.
fn scheduled(json: &[u8]) -> Vec<String> {
    let history: serde_json::Value = serde_json::from_slice(json).expect("JSON");
    let events = history["events"].as_array().expect("events").iter();
    events
        .filter_map(|e| {
            e["attributes"]["ActivityTaskScheduledEventAttributes"]["activity_type"]["name"]
                .as_str()
        })
        .map(str::to_owned)
        .collect()
}

/// Whether the history records a marker (a patch is one).
fn has_markers(json: &[u8]) -> bool {
    let history: serde_json::Value = serde_json::from_slice(json).expect("JSON");
    let mut events = history["events"].as_array().expect("events").iter();
    events.any(|e| e["attributes"]["MarkerRecordedEventAttributes"].is_object())
}

#[tokio::test]
async fn runs_recorded_one_write_at_a_time_still_replay() {
    let replayer = replayer();
    for name in ["sequential-full.json", "sequential-incremental.json"] {
        let json = recorded(name);
        // The recorded order: each activity after the one before it completed.
        assert_eq!(
            scheduled(&json),
            [
                "clone_repo_activity",
                "parse_repo_activity",
                "persist_metadata_activity",
                "persist_kg_activity",
                "cleanup_stale_kg_nodes_activity",
                "cleanup_repo_activity",
                "persist_metadata_activity"
            ],
            "{name}"
        );
        assert!(!has_markers(&json), "{name} predates the patch markers");
        let history = WorkflowHistory::from_json(&json).expect("a history");
        replayer
            .replay_workflow(history)
            .await
            .unwrap_or_else(|e| panic!("{name} does not replay: {e}"));
    }
}

#[tokio::test]
async fn a_history_with_another_activity_in_a_step_does_not_replay() {
    // What makes the replay above a check: the recorded folder removal renamed into a graph
    // write is a history this workflow cannot have made.
    let json = String::from_utf8(recorded("sequential-incremental.json")).expect("UTF-8");
    let changed = json.replacen("\"cleanup_repo_activity\"", "\"persist_kg_activity\"", 1);
    assert_ne!(changed, json);
    let history = WorkflowHistory::from_json(changed.as_bytes()).expect("a history");
    let replayed = replayer().replay_workflow(history).await;
    assert!(replayed.is_err(), "a changed history must fail to replay");
}
