//! `/metrics` after real work: the host's activity counts equal the work done, the SDK's own
//! `temporal_*` series are there for the entry's task queue, and the worker's heartbeat makes
//! the entry visible in `temporal worker list` with its slots.

mod common;

use common::*;
use serde_json::Value as Json;
use std::time::Duration;

#[tokio::test]
async fn metrics_show_the_work_done_and_the_sdk_series_of_each_queue() {
    let (q1, q2) = (unique("metrics-a"), unique("metrics-b"));
    let (host, _) = start_sleepers("5s", &[("alpha", &q1, 3), ("beta", &q2, 2)]);
    let addr = host.http_addr();
    let client = client().await;
    let ids = start_sleeps(&client, &q1, 4, 10).await;
    results(&client, &ids, Duration::from_secs(30)).await;

    // The SDK records an activity's latency and a workflow's completion as it handles them,
    // which can be just after the client has the workflow's result: wait for all four.
    let sdk_counts = [
        format!(
            "temporal_activity_execution_latency_count{{activity_type=\"sleep\",namespace=\"default\",task_queue=\"{q1}\",workflow_type=\"SleepWorkflow\"}} "
        ),
        format!(
            "temporal_workflow_completed_total{{namespace=\"default\",task_queue=\"{q1}\",workflow_type=\"SleepWorkflow\"}} "
        ),
    ];
    let text = wait_until(
        "the SDK's series count the four activities and workflows",
        Duration::from_secs(10),
        || {
            let text = http_get(&addr, "/metrics").1;
            let counts: Vec<Option<f64>> = sdk_counts.iter().map(|s| metric(&text, s)).collect();
            match counts.iter().all(|c| *c == Some(4.0)) {
                true => Ok(text),
                false => Err(format!("{counts:?}")),
            }
        },
    );
    assert_eq!(
        metric(
            &text,
            "worker_host_activities_total{activity_type=\"sleep\",entry=\"alpha\",outcome=\"completed\"} "
        ),
        Some(4.0),
        "{text}"
    );
    assert_eq!(
        metric(
            &text,
            "worker_host_activities_total{activity_type=\"sleep\",entry=\"beta\""
        ),
        None,
        "beta ran nothing"
    );
    assert_eq!(metric(&text, "worker_host_temporal_reachable "), Some(1.0));
    // The SDK's own series, labelled with each entry's queue.
    for q in [&q1, &q2] {
        let slots = format!(
            "temporal_worker_task_slots_available{{namespace=\"default\",task_queue=\"{q}\",worker_type=\"ActivityWorker\"}} "
        );
        assert_eq!(
            metric(&text, &slots),
            Some(if q == &q1 { 3.0 } else { 2.0 }),
            "{text}"
        );
        assert!(
            text.contains(&format!("temporal_num_pollers{{namespace=\"default\",poller_type=\"activity_task\",task_queue=\"{q}\"}}")),
            "{text}"
        );
    }

    // Heartbeats: every entry is listed by the server with its slots (the first heartbeat
    // goes out within the 10 s interval; one sent as the worker starts may not count its
    // slots yet, so wait for one that does).
    let alpha = wait_until(
        "both entries in `temporal worker list`, the first with its slots",
        Duration::from_secs(30),
        || {
            let listed = listed_workers();
            let of = |q: &str| listed.iter().find(|w| w["taskQueue"] == q).cloned();
            match (of(&q1), of(&q2)) {
                (Some(a), Some(_))
                    if a["activityTaskSlotsInfo"]["currentAvailableSlots"].is_number() =>
                {
                    Ok(a)
                }
                _ => Err(format!("{listed:?}")),
            }
        },
    );
    assert_eq!(alpha["status"], "WORKER_STATUS_RUNNING", "{alpha}");
    assert_eq!(
        alpha["activityTaskSlotsInfo"]["currentAvailableSlots"], 3,
        "{alpha}"
    );
}

/// The heartbeats `temporal worker list` shows.
fn listed_workers() -> Vec<Json> {
    let v: Json =
        serde_json::from_str(&temporal_cli(&["worker", "list"])).expect("worker list json");
    v.as_array()
        .map(|a| a.iter().map(|w| w["workerHeartbeat"].clone()).collect())
        .unwrap_or_default()
}
