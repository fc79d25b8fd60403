//! The Grafana dashboard (`examples/grafana-dashboard.json`) queries only series that a live
//! host serves on `/metrics`: every `worker_host_*` and `temporal_*` name in its queries appears
//! after the host ran a workflow and a reload.

mod common;

use common::Host;
use serde_json::Value as Json;
use std::{
    collections::BTreeSet,
    time::{Duration, Instant},
};

/// Every series name the dashboard's queries (panels and variables) use.
fn dashboard_series() -> BTreeSet<String> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/examples/grafana-dashboard.json"
    );
    let dashboard: Json =
        serde_json::from_str(&std::fs::read_to_string(path).expect("dashboard")).expect("JSON");
    let mut queries = Vec::new();
    collect_queries(&dashboard, &mut queries);
    queries
        .iter()
        .flat_map(|q| {
            q.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .filter(|w| w.starts_with("worker_host_") || w.starts_with("temporal_"))
                .map(str::to_owned)
                .collect::<Vec<_>>()
        })
        .collect()
}

fn collect_queries(node: &Json, out: &mut Vec<String>) {
    match node {
        Json::Object(map) => {
            for (key, value) in map {
                match (key.as_str(), value) {
                    ("expr" | "query" | "definition", Json::String(q)) => out.push(q.clone()),
                    _ => collect_queries(value, out),
                }
            }
        }
        Json::Array(items) => items.iter().for_each(|i| collect_queries(i, out)),
        _ => {}
    }
}

fn served(text: &str, series: &str) -> bool {
    text.lines().any(|l| {
        l.strip_prefix(series)
            .is_some_and(|rest| rest.starts_with('{') || rest.starts_with(' '))
    })
}

#[tokio::test]
async fn every_series_the_dashboard_queries_is_served() {
    let series = dashboard_series();
    for concept in [
        "worker_host_entries",
        "worker_host_reloads_total",
        "temporal_worker_task_slots_used",
        "temporal_worker_task_slots_available",
        "worker_host_task_queue_backlog",
        "worker_host_task_queue_backlog_age_seconds",
        "worker_host_activities_total",
        "temporal_activity_schedule_to_start_latency_bucket",
        "temporal_workflow_task_schedule_to_start_latency_bucket",
    ] {
        assert!(series.contains(concept), "the dashboard lacks {concept}");
    }

    let queue = common::unique("dashboard");
    let entry = format!(
        "\n[[workers]]\nname = \"canary\"\ntask_queue = \"{queue}\"\n\
         workflows = [\"HostCanaryWorkflow\"]\nactivities = [\"host_canary\"]\n"
    );
    let host = Host::start(
        "worker-host",
        &format!("{}{entry}", common::config_header("5s")),
    );
    let client = common::client().await;
    let id = common::unique("dashboard-canary");
    common::start(&client, "HostCanaryWorkflow", &queue, &id, "x".into()).await;
    common::result_within(&client, &id, Duration::from_secs(60))
        .await
        .expect("canary");
    // A reload, so that reload outcomes are counted.
    host.edit_config(&format!(
        "{}{entry}max_concurrent_activities = 7\n",
        common::config_header("5s")
    ));
    host.wait_for_generation(2, Duration::from_secs(30));

    let addr = host.http_addr();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (_, text) = common::http_get(&addr, "/metrics");
        let missing: Vec<&String> = series.iter().filter(|s| !served(&text, s)).collect();
        if missing.is_empty() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the dashboard queries series the host does not serve: {missing:?}\n{text}"
        );
        std::thread::sleep(Duration::from_millis(250));
    }
}
