//! Hostile or malformed input to `RepoIndexingWorkflow`, started the way any Temporal client
//! would (untyped JSON payloads) on the real Temporal server: each class fails the workflow
//! within seconds with a non-retryable `InvalidInput` failure naming the field, before any
//! activity; and `worker-host index` refuses the same before it starts anything.

mod common;

use common::indexer::{Indexer, Store};
use common::{client, free_port, history_has, result_within, start, unique};
use serde_json::{Value as Json, json};
use std::{
    process::Command,
    time::{Duration, Instant},
};
use temporalio_client::WorkflowStartOptions;
use temporalio_common::{UntypedWorkflow, data_converters::RawValue};

/// How long a refused input may take to fail the workflow.
const PROMPTLY: Duration = Duration::from_secs(15);

/// Each malformed input class and the field its failure must name.
fn malformed() -> Vec<(&'static str, Json, &'static str)> {
    let url = "https://github.com/owner/repo";
    vec![
        ("wrong type", json!({ "repo_url": 5 }), "`repo_url`"),
        ("missing repo_url", json!({ "ref": "main" }), "`repo_url`"),
        ("bare string", json!(url), "`input`"),
        ("array", json!([url]), "`input`"),
        (
            "unknown field",
            json!({ "repo_url": url, "branch": "main" }),
            "`branch`",
        ),
        (
            "user name in url",
            json!({ "repo_url": "https://s3cr3t-user@github.com/owner/repo" }),
            "`repo_url`",
        ),
        (
            "password in url",
            json!({ "repo_url": "https://u:s3cr3t-pass@github.com/owner/repo" }),
            "`repo_url`",
        ),
        (
            "unsupported scheme",
            json!({ "repo_url": "ftp://example.com/repo.git" }),
            "`repo_url`",
        ),
        (
            "ref with ..",
            json!({ "repo_url": url, "ref": "a..b" }),
            "`ref`",
        ),
        (
            "ref like an option",
            json!({ "repo_url": url, "ref": "-x" }),
            "`ref`",
        ),
        (
            "ref too long",
            json!({ "repo_url": url, "ref": "r".repeat(300) }),
            "`ref`",
        ),
        (
            "repo_id too long",
            json!({ "repo_url": url, "repo_id": "x".repeat(257) }),
            "`repo_id`",
        ),
        (
            "repo_id unsafe",
            json!({ "repo_url": url, "repo_id": "a'; MATCH (n) DETACH DELETE n //" }),
            "`repo_id`",
        ),
        (
            "timeout 0",
            json!({ "repo_url": url, "timeouts": { "heartbeat_seconds": 0 } }),
            "`timeouts.heartbeat_seconds`",
        ),
        (
            "timeout 100 days",
            json!({ "repo_url": url, "timeouts": { "host_seconds": 8_640_000 } }),
            "`timeouts.host_seconds`",
        ),
        (
            "timeout not a number",
            json!({ "repo_url": url, "timeouts": { "host_seconds": "300" } }),
            "`timeouts.host_seconds`",
        ),
    ]
}

/// The failure of workflow `id`, which must come within [`PROMPTLY`] and before any activity.
async fn refused(client: &temporalio_client::Client, id: &str, what: &str) -> String {
    let started = Instant::now();
    let failure = match result_within(client, id, PROMPTLY).await {
        Ok(result) => panic!("{what}: the workflow succeeded: {result}"),
        Err(failure) => failure,
    };
    assert!(
        !failure.contains("did not finish within"),
        "{what}: no result within {PROMPTLY:?} (the task is retried instead of the workflow failing)"
    );
    assert!(
        started.elapsed() < PROMPTLY,
        "{what}: took {:?}",
        started.elapsed()
    );
    assert!(
        !history_has(id, "EVENT_TYPE_ACTIVITY_TASK_SCHEDULED"),
        "{what}: an activity was scheduled"
    );
    assert!(
        !history_has(id, "EVENT_TYPE_WORKFLOW_TASK_FAILED"),
        "{what}: a workflow task failed"
    );
    failure
}

#[tokio::test(flavor = "multi_thread")]
async fn each_malformed_input_fails_the_workflow_at_once_naming_the_field() {
    let indexer = Indexer::start(Store::Embedded);
    let client = client().await;
    let cases = malformed();
    let mut ids = Vec::new();
    for (what, input, _) in &cases {
        let id = unique("hostile");
        start(
            &client,
            "RepoIndexingWorkflow",
            &indexer.queue,
            &id,
            input.clone(),
        )
        .await;
        ids.push((id, *what));
    }
    for ((id, what), (_, _, field)) in ids.iter().zip(&cases) {
        let failure = refused(&client, id, what).await;
        assert!(failure.contains("InvalidInput"), "{what}: {failure}");
        assert!(
            failure.contains(field),
            "{what}: {field} not named in {failure}"
        );
        assert!(
            !failure.contains("s3cr3t"),
            "{what}: the failure repeats a secret: {failure}"
        );
    }
    assert!(
        !indexer.host.log().contains("Failing workflow task"),
        "no workflow task failed:\n{}",
        indexer.host.log()
    );
}

/// No payload at all (`temporal workflow start` without `--input`, a Python client without an
/// argument) and a payload that is not JSON.
#[tokio::test(flavor = "multi_thread")]
async fn no_input_and_non_json_input_fail_at_once() {
    let indexer = Indexer::start(Store::Embedded);
    let client = client().await;
    let binary = temporalio_common::protos::temporal::api::common::v1::Payload {
        metadata: [("encoding".to_owned(), b"binary/plain".to_vec())].into(),
        data: b"https://github.com/owner/repo".to_vec(),
        ..Default::default()
    };
    for (what, payloads) in [("no input", vec![]), ("binary input", vec![binary])] {
        let id = unique("hostile-raw");
        client
            .start_workflow(
                UntypedWorkflow::new("RepoIndexingWorkflow"),
                RawValue::new(payloads),
                WorkflowStartOptions::new(indexer.queue.as_str(), id.as_str()).build(),
            )
            .await
            .unwrap_or_else(|e| panic!("start {what}: {e}"));
        let failure = refused(&client, &id, what).await;
        assert!(failure.contains("`input`"), "{what}: {failure}");
    }
}

/// `worker-host index` with a config whose Temporal address nobody serves.
fn index_offline(args: &[&str]) -> (bool, String) {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("workers.toml");
    let address = format!("127.0.0.1:{}", free_port());
    std::fs::write(&config, format!("[temporal]\naddress = \"{address}\"\n")).expect("config");
    let out = Command::new(common::binary("worker-host"))
        .arg("index")
        .args(args)
        .arg("--config")
        .arg(&config)
        .env_remove("TEMPORAL_ADDRESS")
        .output()
        .expect("run worker-host index");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The CLI runs the workflow's checks before it connects to anything: each bad request is
/// refused with the field named, where a good one gets as far as trying to reach Temporal.
#[test]
fn the_index_command_refuses_the_same_before_starting_anything() {
    let url = "https://github.com/owner/repo";
    let long_id = "x".repeat(257);
    for (args, field) in [
        (vec!["https://s3cr3t@github.com/owner/repo"], "`repo_url`"),
        (vec!["ftp://example.com/repo.git"], "`repo_url`"),
        (vec!["not-a-repository"], "`repo_url`"),
        (vec![url, "--ref", "a..b"], "`ref`"),
        (vec![url, "--ref=-x"], "`ref`"),
        (vec![url, "--repo-id", long_id.as_str()], "`repo_id`"),
        (vec![url, "--repo-id", "a b"], "`repo_id`"),
    ] {
        let (ok, stderr) = index_offline(&args);
        assert!(!ok, "{args:?} succeeded");
        assert!(
            stderr.contains("invalid input") && stderr.contains(field),
            "{args:?}: {field} not named: {stderr}"
        );
        assert!(
            !stderr.contains("cannot reach Temporal"),
            "{args:?} tried Temporal first: {stderr}"
        );
        assert!(!stderr.contains("s3cr3t"), "{args:?}: {stderr}");
    }
    let (ok, stderr) = index_offline(&[url, "--ref", "main", "--repo-id", "github.com/o/r"]);
    assert!(!ok);
    assert!(
        stderr.contains("cannot reach Temporal"),
        "a valid request gets as far as Temporal: {stderr}"
    );
}
