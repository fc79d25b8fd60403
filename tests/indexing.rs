//! RepoIndexingWorkflow end to end: a real host (the `worker-host` binary with its built-in
//! registry) on the real Temporal server, repositories built by the test, and the graph read
//! back from the real store — the embedded SQLite file and the real Neo4j at `TEST_NEO4J_URI`.

mod common;

use common::indexer::{Indexer, Store, config, has_node, has_rel, path_str};
use common::{Host, client, git, history_has, temporal_address, unique};
use serde_json::Value as Json;
use std::{process::Command, time::Duration};
use worker_host::graph::{GraphDump, RunStatus};

/// A small repository in two languages: classes, a nested class, methods, free functions,
/// inheritance, imports, and calls within and across files.
const FILES: &[(&str, &str)] = &[
    (
        "app/models.py",
        "class Base:\n    def save(self):\n        return helper()\n\n\nclass User(Base):\n    class Meta:\n        pass\n\n    def greet(self):\n        return self.save()\n\n\ndef helper():\n    return 1\n",
    ),
    (
        "app/main.py",
        "import os\nfrom app.models import User, helper\n\n\ndef run():\n    User().greet()\n    helper()\n    return os.path.join(\"a\", \"b\")\n",
    ),
    (
        "web/util.js",
        "export function fmt(x) {\n  return String(x);\n}\n",
    ),
    (
        "web/index.js",
        "import { fmt } from \"./util\";\n\nfunction show() {\n  return fmt(1);\n}\n",
    ),
    ("README.md", "# test repository\n"),
];

/// The nodes and edges [`FILES`] must give.
fn assert_expected_graph(dump: &GraphDump) {
    for (label, key) in [
        ("File", "app/models.py"),
        ("File", "app/main.py"),
        ("File", "web/util.js"),
        ("File", "web/index.js"),
        ("Class", "app/models.py::Base"),
        ("Class", "app/models.py::User"),
        ("Class", "app/models.py::User.Meta"),
        ("Method", "app/models.py::Base.save"),
        ("Method", "app/models.py::User.greet"),
        ("Function", "app/models.py::helper"),
        ("Function", "app/main.py::run"),
        ("Function", "web/util.js::fmt"),
        ("Function", "web/index.js::show"),
    ] {
        assert!(has_node(dump, label, key), "missing {label} {key}");
    }
    assert!(
        !has_node(dump, "File", "README.md"),
        "README.md is not code"
    );
    for (rel, src, dst) in [
        ("EXTENDS", "app/models.py::User", "app/models.py::Base"),
        (
            "HAS_METHOD",
            "app/models.py::User",
            "app/models.py::User.greet",
        ),
        ("CALLS", "app/models.py::Base.save", "app/models.py::helper"),
        (
            "CALLS",
            "app/models.py::User.greet",
            "app/models.py::Base.save",
        ),
        ("CALLS", "app/main.py::run", "app/models.py::helper"),
        ("CALLS", "web/index.js::show", "web/util.js::fmt"),
    ] {
        assert!(
            has_rel(dump, rel, src, dst),
            "missing {src} -[{rel}]-> {dst}"
        );
    }
    assert!(
        dump.relationships.iter().any(|r| r.rel_type == "CALLS"
            && r.src_key == "app/main.py::run"
            && r.dst_label == "External"),
        "the call of os.path.join stays as an external reference"
    );
    assert!(
        dump.relationships
            .iter()
            .any(|r| r.rel_type == "IMPORTS" && r.src_key == "app/main.py"),
        "main.py's imports are edges"
    );
}

async fn end_to_end(store: Store) {
    let repo = git::repo(FILES);
    let indexer = Indexer::start(store);
    let repo_id = unique("repo");
    let summary = indexer.index_ok(repo.path(), &repo_id);

    assert_eq!(summary["repo_id"], repo_id);
    assert_eq!(summary["files"], 4, "{summary:#}");
    assert_eq!(summary["languages"]["python"]["files"], 2);
    assert_eq!(summary["languages"]["javascript"]["files"], 2);
    assert_eq!(summary["skipped"]["unknown_language"], 1);
    assert_eq!(summary["attempts"], 1);
    for stage in [
        "clone",
        "parse",
        "persist_metadata",
        "persist_graph",
        "cleanup_stale",
        "cleanup_repo",
    ] {
        assert!(
            summary["durations_ms"][stage].is_u64(),
            "stage {stage} in {summary:#}"
        );
    }
    let dump = indexer.dump(&repo_id).await;
    assert_expected_graph(&dump);
    let store_handle = indexer.open_store().await;
    let counts = store_handle.counts(&repo_id).await.expect("counts");
    let written = &summary["written"];
    for (label, n) in &counts.nodes {
        if let Some(w) = written["nodes_per_label"][label].as_u64() {
            assert_eq!(w, *n, "nodes labelled {label}: written vs stored");
        }
    }
    let repository = store_handle
        .repository(&repo_id)
        .await
        .expect("repository")
        .expect("repository recorded");
    assert_eq!(
        repository.last_indexed_commit.as_deref(),
        summary["commit"].as_str()
    );
    let runs = store_handle.index_runs(&repo_id).await.expect("runs");
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0].status, RunStatus::Succeeded);
    assert_eq!(runs[0].counts["files"], 4);
    assert_eq!(indexer.workspace_entries(), 0, "the run's clone is removed");
}

#[tokio::test(flavor = "multi_thread")]
async fn indexes_into_the_embedded_store() {
    end_to_end(Store::Embedded).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn indexes_into_neo4j() {
    end_to_end(Store::Neo4j).await;
}

/// Any Temporal client can start the workflow: the `temporal` CLI gives the same graph as our
/// own client.
#[tokio::test(flavor = "multi_thread")]
async fn the_temporal_cli_starts_the_same_indexing() {
    let repo = git::repo(FILES);
    let indexer = Indexer::start(Store::Embedded);
    let ours = unique("ours");
    let theirs = unique("theirs");
    let ours_summary = indexer.index_ok(repo.path(), &ours);
    let input = serde_json::json!({ "repo_url": path_str(repo.path()), "repo_id": theirs });
    let out = Command::new("temporal")
        .args([
            "workflow",
            "execute",
            "--type",
            "RepoIndexingWorkflow",
            "--task-queue",
        ])
        .arg(&indexer.queue)
        .args([
            "--workflow-id",
            &unique("cli"),
            "--input",
            &input.to_string(),
            "-o",
            "json",
        ])
        .args(["--address", &temporal_address()])
        .output()
        .expect("run temporal");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let result: Json = serde_json::from_str(&text).expect("temporal's JSON output");
    let theirs_summary = &result["result"];
    assert_eq!(theirs_summary["repo_id"], theirs, "{text}");
    assert_eq!(theirs_summary["written"], ours_summary["written"]);
    assert_eq!(indexer.dump(&ours).await, indexer.dump(&theirs).await);
}

/// A URL of a scheme nobody serves: the workflow fails with a clear message, the cleanup ran,
/// and the run is recorded as failed with the reason.
#[tokio::test(flavor = "multi_thread")]
async fn a_bad_url_fails_clearly_and_is_recorded() {
    let indexer = Indexer::start(Store::Embedded);
    let repo_id = unique("bad");
    let out = indexer.index("ftp://example.com/repo.git", &["--repo-id", &repo_id]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("unsupported repository URL"), "{stderr}");
    let workflow_id = worker_host::indexing::workflow_id_of(&repo_id);
    assert!(
        history_has(&workflow_id, "cleanup_repo_activity"),
        "cleanup ran"
    );
    let runs = indexer
        .open_store()
        .await
        .index_runs(&repo_id)
        .await
        .expect("runs");
    assert_eq!(runs.len(), 1, "{runs:?}");
    assert_eq!(runs[0].status, RunStatus::Failed);
    assert!(
        runs[0]
            .error
            .as_deref()
            .is_some_and(|e| e.contains("unsupported repository URL")),
        "{runs:?}"
    );
}

/// Re-indexing after a commit that deletes a file and renames a function: their nodes and
/// relationships are gone, the rest is as a fresh index of the new commit.
#[tokio::test(flavor = "multi_thread")]
async fn reindexing_removes_what_the_new_commit_deleted() {
    let repo = git::repo(FILES);
    let indexer = Indexer::start(Store::Embedded);
    let repo_id = unique("re");
    indexer.index_ok(repo.path(), &repo_id);
    git::commit(
        repo.path(),
        &[(
            "app/models.py",
            "class Base:\n    def save(self):\n        return helper2()\n\n\nclass User(Base):\n    class Meta:\n        pass\n\n    def greet(self):\n        return self.save()\n\n\ndef helper2():\n    return 1\n",
        )],
        &["web/util.js"],
        "delete util.js, rename helper",
    );
    let summary = indexer.index_ok(repo.path(), &repo_id);
    assert!(
        summary["stale_deleted"]["nodes"].as_u64() > Some(0),
        "{summary:#}"
    );
    let dump = indexer.dump(&repo_id).await;
    assert!(!has_node(&dump, "File", "web/util.js"));
    assert!(!has_node(&dump, "Function", "web/util.js::fmt"));
    assert!(!has_node(&dump, "Function", "app/models.py::helper"));
    assert!(has_node(&dump, "Function", "app/models.py::helper2"));
    assert!(
        !dump
            .relationships
            .iter()
            .any(|r| r.file.as_deref() == Some("web/util.js") || r.dst_key == "web/util.js::fmt")
    );

    let fresh = unique("fresh");
    indexer.index_ok(repo.path(), &fresh);
    assert_eq!(
        dump,
        indexer.dump(&fresh).await,
        "same graph as a fresh index"
    );
    let runs = indexer
        .open_store()
        .await
        .index_runs(&repo_id)
        .await
        .expect("runs");
    assert_eq!(runs.len(), 2);
}

/// A host killed with SIGKILL while it parses: restarted on the same data directory, it picks
/// the run up again (its host-local queues and clone survive) and the graph has no duplicates.
#[tokio::test(flavor = "multi_thread")]
async fn a_host_killed_during_parse_finishes_after_a_restart() {
    let mut files: Vec<(String, String)> = (0..3000)
        .map(|i| {
            (
                format!("pkg/m{i}.py"),
                format!("import os\n\nclass C{i}:\n    def f(self):\n        return g{i}()\n\n\ndef g{i}():\n    return os.getcwd()\n"),
            )
        })
        .collect();
    files.push(("app/models.py".into(), FILES[0].1.into()));
    let borrowed: Vec<(&str, &str)> = files
        .iter()
        .map(|(a, b)| (a.as_str(), b.as_str()))
        .collect();
    let repo = git::repo(&borrowed);
    let dir = tempfile::tempdir().expect("tempdir");
    let queue = unique("kill");
    let slow = config(&queue, Store::Embedded).replace(
        "allow_local_repos = true\n",
        "allow_local_repos = true\nparse_threads = 1\n",
    );
    std::fs::write(dir.path().join("workers.toml"), &slow).expect("config");
    let mut host = Host::start_in("worker-host", dir);
    let repo_id = unique("killed");
    let workflow_id = worker_host::indexing::workflow_id_of(&repo_id);
    let input = serde_json::json!({
        "repo_url": path_str(repo.path()),
        "repo_id": repo_id,
        "timeouts": { "heartbeat_seconds": 3, "host_seconds": 120 },
    });
    let client = client().await;
    common::start(&client, "RepoIndexingWorkflow", &queue, &workflow_id, input).await;
    host.wait_for_log("activity started", Duration::from_secs(60));
    wait_for_stage(&workflow_id, "parsing").await;
    host.signal(nix::sys::signal::Signal::SIGKILL);
    host.wait_exit(Duration::from_secs(10));
    let dir = host.take_dir();
    let host = Host::start_in("worker-host", dir);
    let summary = common::result_within(&client, &workflow_id, Duration::from_secs(120))
        .await
        .unwrap_or_else(|e| panic!("{e}\nhost log:\n{}", host.log()));
    assert_eq!(summary["files"], 3001);
    let indexer = Indexer {
        host,
        queue,
        store: Store::Embedded,
    };
    let dump = indexer.dump(&repo_id).await;
    let fresh = unique("fresh");
    indexer.index_ok(repo.path(), &fresh);
    assert_eq!(
        dump,
        indexer.dump(&fresh).await,
        "no duplicates, nothing missing"
    );
}

/// Wait until the `progress` query of workflow `id` reports `stage`.
async fn wait_for_stage(id: &str, stage: &str) {
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        let out = Command::new("temporal")
            .args([
                "workflow",
                "query",
                "--workflow-id",
                id,
                "--name",
                "progress",
                "-o",
                "json",
            ])
            .args(["--address", &temporal_address()])
            .output()
            .expect("temporal workflow query");
        if String::from_utf8_lossy(&out.stdout).contains(&format!("\"stage\": \"{stage}\"")) {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "stage {stage} not reached: {}",
            String::from_utf8_lossy(&out.stdout)
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
