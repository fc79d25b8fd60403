//! Queue depth: workflows started on a configured queue that no worker serves yet show up as
//! the queue's backlog (series and `/readyz`), and the backlog falls to 0 once a reload lets
//! the entry's worker drain the queue.

mod common;

use common::*;
use serde_json::Value as Json;
use std::time::Duration;

const N: usize = 5;

#[tokio::test]
async fn backlog_shows_waiting_tasks_and_falls_to_zero_after_the_drain() {
    let q = unique("depth");
    let header = config_header("5s");
    // The entry runs the activity only: nobody polls the queue's workflow tasks yet.
    let activities_only = format!(
        "{header}\n[[workers]]\nname = \"depth\"\ntask_queue = \"{q}\"\nactivities = [\"sleep\"]\n"
    );
    let host = Host::start("custom_host", &activities_only);
    let addr = host.http_addr();
    let client = client().await;
    let ids: Vec<String> = (0..N).map(|i| unique(&format!("depth-{i}"))).collect();
    for id in &ids {
        start_sleep(&client, &q, id, 10).await;
    }

    let series =
        format!("worker_host_task_queue_backlog{{task_queue=\"{q}\",task_type=\"workflow\"}} ");
    let age = format!(
        "worker_host_task_queue_backlog_age_seconds{{task_queue=\"{q}\",task_type=\"workflow\"}} "
    );
    let text = host.wait_for_metric(&series, |v| v == N as f64, Duration::from_secs(30));
    assert!(
        metric(&text, &age).is_some_and(|a| a > 0.0),
        "the oldest task has an age: {text}"
    );
    let report: Json = serde_json::from_str(&http_get(&addr, "/readyz").1).unwrap();
    assert_eq!(
        report["entries"][0]["backlog"]["workflow"]["count"], N as u64,
        "{report}"
    );

    host.edit_config(&format!("{header}{}", sleep_entry("depth", &q, 5)));
    host.wait_for_generation(2, Duration::from_secs(10));
    for id in &ids {
        result_within(&client, id, Duration::from_secs(30))
            .await
            .unwrap();
    }
    host.wait_for_metric(&series, |v| v == 0.0, Duration::from_secs(30));
    let activity =
        format!("worker_host_task_queue_backlog{{task_queue=\"{q}\",task_type=\"activity\"}} ");
    let text = host.wait_for_metric(&activity, |v| v == 0.0, Duration::from_secs(30));
    assert_eq!(metric(&text, &age), Some(0.0), "{text}");
}
