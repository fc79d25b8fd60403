//! Every log line of an activity carries its workflow id, run id and activity type, in the
//! human-readable format and in `--log-format json`.

mod common;

use common::*;
use serde_json::Value as Json;
use std::time::Duration;

/// A host run with `args` that has finished one sleep activity: the host, the workflow id and
/// its report. The activity logged before it completed, so its lines are in the log already.
async fn host_after_one_sleep(args: &[&str]) -> (Host, String, Json) {
    let q = unique("logs");
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("workers.toml"),
        sleepers(&config_header("5s"), &[("logs", &q, 2)]),
    )
    .unwrap();
    let host = Host::start_at("custom_host", dir, &temporal_address(), args);
    let client = client().await;
    let id = unique("logs-wf");
    start_sleep(&client, &q, &id, 10).await;
    let report = results(&client, std::slice::from_ref(&id), Duration::from_secs(30)).await;
    (host, id, report[0].clone())
}

#[tokio::test]
async fn activity_log_lines_name_their_workflow_run_and_type_in_text() {
    let (host, id, report) = host_after_one_sleep(&[]).await;
    let line = host
        .log()
        .lines()
        .find(|l| l.contains("sleeping"))
        .map(str::to_owned)
        .unwrap_or_default();
    for field in [
        format!("workflow_id={id}"),
        "run_id=".to_owned(),
        "activity_type=sleep".to_owned(),
        "entry=logs".to_owned(),
    ] {
        assert!(line.contains(&field), "`{field}` missing: {line}");
    }
    assert!(report["activity_id"].is_string());
}

#[tokio::test]
async fn activity_log_lines_name_their_workflow_run_and_type_in_json() {
    let (host, id, _) = host_after_one_sleep(&["--log-format", "json"]).await;
    let log = host.log();
    let activity_lines: Vec<Json> = log
        .lines()
        .filter_map(|l| serde_json::from_str::<Json>(l).ok())
        .filter(|v| v["span"]["name"] == "activity")
        .collect();
    // The activity's own line and the host's start/finish lines.
    for message in ["sleeping", "activity started", "activity finished"] {
        let line = activity_lines
            .iter()
            .find(|v| v["fields"]["message"] == message)
            .unwrap_or_else(|| panic!("no JSON line `{message}` in an activity span:\n{log}"));
        let span = &line["span"];
        assert_eq!(span["workflow_id"], id.as_str(), "{line}");
        assert_eq!(span["activity_type"], "sleep", "{line}");
        assert!(
            span["run_id"].as_str().is_some_and(|r| !r.is_empty()),
            "{line}"
        );
    }
}
