//! `max_concurrent_activities` holds exactly: with 3 slots and 20 slow activities queued, never
//! more and never fewer than 3 run at once, and each runs once.

mod common;

use common::*;
use serde_json::json;
use std::{collections::HashSet, time::Duration};

#[tokio::test]
async fn activity_slots_bound_concurrency_exactly() {
    let queue = unique("limit3");
    let (_host, _) = start_sleepers("5s", &[("limited", &queue, 3)]);
    let client = client().await;
    let ids = start_sleeps(&client, &queue, 20, 700).await;
    let reports = results(&client, &ids, Duration::from_secs(90)).await;
    assert_eq!(reports.len(), 20);
    assert!(
        reports.iter().all(|r| r["attempt"] == json!(1)),
        "each ran once: {reports:?}"
    );
    assert_eq!(
        peak_concurrency(&reports),
        3,
        "peak concurrency: {reports:?}"
    );
    // Each workflow's own execution (two can start and end in the same millisecond).
    let ran_for: HashSet<_> = reports
        .iter()
        .filter_map(|r| r["workflow_id"].as_str())
        .collect();
    let started: HashSet<_> = ids.iter().map(String::as_str).collect();
    assert_eq!(
        ran_for, started,
        "twenty separate executions, one per workflow"
    );
}
