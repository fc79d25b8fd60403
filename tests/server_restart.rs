//! The Temporal server SIGKILLed and started again on the same database (a private dev server
//! on SQLite), once while two hosts are idle and once in the middle of an indexing run: during
//! the outage every host answers `/readyz` 503 with a reason naming the server; after it every
//! host is ready again with every entry running, and the run completes. Once more while
//! `worker-host index` waits for a run: it waits through the outage and prints the run's
//! summary.

mod common;

use common::dev_server::DevServer;
use common::indexer::{
    Indexer, Store, big_repo, config, path_str, slow, start_indexing, wait_for_progress,
};
use common::{client_of, free_port, http_get, own_listen, unique, wait_until};
use serde_json::Value as Json;
use std::time::Duration;

/// Longest a host may take to notice the server is gone, or back.
const NOTICE: Duration = Duration::from_secs(30);

#[tokio::test(flavor = "multi_thread")]
async fn hosts_report_the_outage_and_the_run_completes_after_a_server_restart() {
    let state = tempfile::tempdir().expect("tempdir");
    let mut server = DevServer::start(free_port(), &state.path().join("temporal.sqlite"));
    let address = server.address();
    let queue = unique("srv");
    let text = slow(&config(&queue, Store::Embedded));
    let hosts = [text.clone(), own_listen(&text)].map(|text| {
        let dir = tempfile::tempdir().expect("tempdir");
        Indexer::start_with(dir, &queue, &text, Store::Embedded, &address)
    });
    all_ready(&hosts);

    // Idle.
    let began = std::time::Instant::now();
    server.kill();
    all_not_ready(&hosts, &address);
    eprintln!(
        "idle: every host not ready {:?} after the kill",
        began.elapsed()
    );
    let restarted = std::time::Instant::now();
    server.restart();
    all_ready(&hosts);
    eprintln!(
        "idle: every host ready {:?} after the restart",
        restarted.elapsed()
    );

    // Mid-run.
    let repo = big_repo();
    let client = client_of(&address).await;
    let (_, workflow_id) = start_indexing(&client, &queue, repo.path(), "srv", (5, 60)).await;
    wait_for_progress(
        &address,
        &workflow_id,
        "the parse or the graph writes under way",
        Duration::from_secs(60),
        // Parsing 3,001 files on one thread takes seconds on a quiet machine: the graph
        // writes after it are mid-run too.
        |p| {
            (p["stage"] == "parsing" && p["files_parsed"].as_u64() > Some(0))
                || p["stage"] == "persisting_graph"
        },
    );
    let began = std::time::Instant::now();
    server.kill();
    all_not_ready(&hosts, &address);
    server.restart();
    all_ready(&hosts);
    eprintln!("mid-run: outage and recovery took {:?}", began.elapsed());

    let client = client_of(&address).await;
    let summary = common::result_within(&client, &workflow_id, Duration::from_secs(180))
        .await
        .unwrap_or_else(|e| {
            let logs: Vec<String> = hosts.iter().map(|h| h.host.log()).collect();
            panic!("{e}\nhost logs:\n{}", logs.join("\n-----\n"))
        });
    eprintln!(
        "mid-run: the run completed {:?} after the kill",
        began.elapsed()
    );
    assert_eq!(summary["files"], 3001, "{summary:#}");
    all_ready(&hosts);

    // A `worker-host index` waiting for its run's result through an outage.
    let repo_id = unique("srv-cli");
    let output = tempfile::tempdir().expect("tempdir");
    let (stdout, stderr) = (output.path().join("out"), output.path().join("err"));
    let mut waiting = hosts[0]
        .index_command(path_str(repo.path()), &["--repo-id", &repo_id])
        .stdout(std::fs::File::create(&stdout).expect("stdout file"))
        .stderr(std::fs::File::create(&stderr).expect("stderr file"))
        .spawn()
        .expect("run worker-host index");
    let workflow_id = worker_host::indexing::workflow_id_of(&repo_id);
    wait_for_progress(
        &address,
        &workflow_id,
        "the CLI's run under way",
        Duration::from_secs(60),
        |p| p["stage"] == "parsing" || p["stage"] == "persisting_graph",
    );
    server.kill();
    all_not_ready(&hosts, &address);
    assert!(
        waiting.try_wait().expect("the CLI's status").is_none(),
        "the CLI gave up during the outage: {}",
        std::fs::read_to_string(&stderr).unwrap_or_default()
    );
    server.restart();
    let status = wait_until("the CLI to exit", Duration::from_secs(180), || {
        waiting
            .try_wait()
            .map_err(|e| e.to_string())?
            .ok_or_else(|| "still waiting".to_owned())
    });
    let said = std::fs::read_to_string(&stderr).unwrap_or_default();
    eprintln!("the CLI through the outage said: {said}");
    assert!(status.success(), "{status}: {said}");
    let summary: Json =
        serde_json::from_slice(&std::fs::read(&stdout).expect("stdout")).expect("summary JSON");
    assert_eq!(summary["files"], 3001, "{summary:#}\n{said}");
}

/// Every host ready, with every entry running.
fn all_ready(hosts: &[Indexer]) {
    for indexer in hosts {
        let report = indexer
            .host
            .wait_ready("ready", NOTICE, |r| r["ready"] == true);
        let entries = report["entries"].as_array().cloned().unwrap_or_default();
        assert_eq!(entries.len(), 3, "{report}");
        for entry in &entries {
            assert_eq!(entry["state"], "running", "no entry left stopped: {report}");
        }
    }
}

/// Every host not ready, with a reason naming the server at `address`.
fn all_not_ready(hosts: &[Indexer], address: &str) {
    for indexer in hosts {
        let why = format!("Temporal at {address} unreachable");
        let report: Json = indexer
            .host
            .wait_ready("not ready, naming the server", NOTICE, |r| {
                r["ready"] == false && r["reason"].as_str().is_some_and(|s| s.contains(&why))
            });
        assert_eq!(report["temporal_reachable"], false, "{report}");
        assert_eq!(http_get(&indexer.host.http_addr(), "/readyz").0, 503);
    }
}
