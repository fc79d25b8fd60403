//! RepoIndexingWorkflow end to end: a real host (the `worker-host` binary with its built-in
//! registry) on the real Temporal server, repositories built by the test, and the graph read
//! back from the real store — the embedded SQLite file and the real Neo4j at `TEST_NEO4J_URI`.

mod common;

use common::indexer::{
    Indexer, Store, big_repo, config, has_node, has_rel, in_parts, on_graph, path_str, slow,
    start_indexing, wait_for_describe, wait_for_stage,
};
use common::neo4j::PrivateNeo4j;
use common::{Host, client, git, history_has, temporal_address, temporal_cli, unique};
use serde_json::Value as Json;
use std::time::Duration;
use worker_host::graph::{GraphDump, GraphStore, IndexRunRecord, RunStatus};

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
    assert_stored_as_written(&counts.nodes, &summary["written"]["nodes_per_label"]);
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

/// A host with a `[host] data_dir` of its own keeps its embedded graph there, not under the
/// default `.worker-host/` of its working directory (the store the host opens as it starts was
/// opened before the file's config applied, with the default folder).
#[tokio::test(flavor = "multi_thread")]
async fn the_embedded_graph_is_kept_in_the_configured_data_dir() {
    let repo = git::repo(FILES);
    let queue = unique("index");
    let config = config(&queue, Store::Embedded).replacen(
        "[host]\n",
        "[host]\ndata_dir = \"state/host\"\n",
        1,
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let indexer = Indexer::start_with(dir, &queue, &config, Store::Embedded, &temporal_address());
    let repo_id = unique("repo");
    indexer.index_ok(repo.path(), &repo_id);

    let cwd = indexer.host.dir.path();
    let data_dir = cwd.join("state/host");
    assert!(
        data_dir.join("graph.sqlite").is_file(),
        "the graph is in the configured data_dir; host log:\n{}",
        indexer.host.log()
    );
    assert!(
        !cwd.join(".worker-host").exists(),
        "nothing is written under the default data_dir"
    );
    let store = GraphStore::open(&Store::Embedded.settings(), &data_dir)
        .await
        .expect("open the graph store");
    assert_expected_graph(&store.dump(&repo_id).await.expect("dump"));
}

/// Each label (or type) the summary says was written has as many elements in the store.
fn assert_stored_as_written(stored: &std::collections::BTreeMap<String, u64>, written: &Json) {
    for (name, n) in stored {
        if let Some(w) = written[name].as_u64() {
            assert_eq!(w, *n, "{name}: written vs stored");
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn indexes_into_the_embedded_store() {
    end_to_end(Store::Embedded).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn indexes_into_neo4j() {
    end_to_end(Store::Neo4j).await;
}

/// A graph written one file at a time (on Neo4j: every file's nodes, then every file's
/// relationships) is the graph written at once, on a first index and on a full re-index.
async fn written_in_parts(store: Store) {
    let repo = git::repo(FILES);
    let queue = unique("parts");
    let config = in_parts(&config(&queue, store), 1);
    let dir = tempfile::tempdir().expect("tempdir");
    let indexer = Indexer::start_with(dir, &queue, &config, store, &temporal_address());
    let repo_id = unique("parts");
    let summary = indexer.index_ok(repo.path(), &repo_id);
    assert_eq!(summary["files"], 4, "{summary:#}");
    let first = indexer.dump(&repo_id).await;
    assert_expected_graph(&first);
    let counts = indexer
        .open_store()
        .await
        .counts(&repo_id)
        .await
        .expect("counts");
    let written = &summary["written"];
    assert_stored_as_written(&counts.nodes, &written["nodes_per_label"]);
    assert_stored_as_written(&counts.relationships, &written["relationships_per_type"]);
    let out = indexer.index(path_str(repo.path()), &["--repo-id", &repo_id, "--full"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        indexer.dump(&repo_id).await,
        first,
        "a full re-index in parts"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_graph_written_in_parts_is_the_whole_graph_embedded() {
    written_in_parts(Store::Embedded).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_graph_written_in_parts_is_the_whole_graph_in_neo4j() {
    written_in_parts(Store::Neo4j).await;
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
    let queue = indexer.queue.clone();
    let text = temporal_cli(&[
        "workflow",
        "execute",
        "--type",
        "RepoIndexingWorkflow",
        "--task-queue",
        &queue,
        "--workflow-id",
        &unique("cli"),
        "--input",
        &input.to_string(),
    ]);
    let result: Json = serde_json::from_str(&text).expect("temporal's JSON output");
    let theirs_summary = &result["result"];
    assert_eq!(theirs_summary["repo_id"], theirs, "{text}");
    assert_eq!(theirs_summary["written"], ours_summary["written"]);
    assert_eq!(indexer.dump(&ours).await, indexer.dump(&theirs).await);
}

/// A well-formed URL this host refuses to clone from (plain http, with `allow_http` off): the
/// workflow fails with a clear message, the cleanup ran, and the run is recorded as failed with
/// the reason. (A malformed URL never gets this far: see `hostile_input.rs`.)
#[tokio::test(flavor = "multi_thread")]
async fn a_bad_url_fails_clearly_and_is_recorded() {
    let indexer = Indexer::start(Store::Embedded);
    let repo_id = unique("bad");
    let out = indexer.index("http://127.0.0.1:1/repo.git", &["--repo-id", &repo_id]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("unsupported repository URL"), "{stderr}");
    let run = assert_failed_run(&indexer, &repo_id).await;
    assert!(
        run.error
            .as_deref()
            .is_some_and(|e| e.contains("unsupported repository URL")),
        "{run:?}"
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
    let repo = big_repo();
    let Indexer {
        mut host,
        queue,
        address,
        ..
    } = slow_indexer();
    let client = client().await;
    let (repo_id, workflow_id) =
        start_indexing(&client, &queue, repo.path(), "killed", (3, 120)).await;
    host.wait_for_log("activity started", Duration::from_secs(60));
    wait_for_stage(&workflow_id, "parsing");
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
        address,
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

/// A host that parses on one thread.
fn slow_indexer() -> Indexer {
    let queue = unique("slow");
    let config = slow(&config(&queue, Store::Embedded));
    let dir = tempfile::tempdir().expect("tempdir");
    Indexer::start_with(dir, &queue, &config, Store::Embedded, &temporal_address())
}

/// A run cancelled while it parses: the workflow ends cancelled, the cleanup still ran, the run
/// is recorded as failed (cancelled), and no folder is left.
#[tokio::test(flavor = "multi_thread")]
async fn a_cancelled_run_still_cleans_up() {
    let repo = big_repo();
    let indexer = slow_indexer();
    let repo_id = unique("cancel");
    let workflow_id = worker_host::indexing::workflow_id_of(&repo_id);
    let out = indexer.index(path_str(repo.path()), &["--repo-id", &repo_id, "--no-wait"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    wait_for_stage(&workflow_id, "parsing");
    temporal_cli(&["workflow", "cancel", "--workflow-id", &workflow_id]);
    let client = client().await;
    let outcome = common::result_within(&client, &workflow_id, Duration::from_secs(60)).await;
    assert!(
        outcome.as_ref().is_err_and(|e| e.contains("Cancel")),
        "{outcome:?}"
    );
    let run = assert_failed_run(&indexer, &repo_id).await;
    assert_eq!(run.error.as_deref(), Some("cancelled"));
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while indexer.workspace_entries() > 0 && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(
        indexer.workspace_entries(),
        0,
        "the run's folder is removed"
    );
}

/// The run of `repo_id` failed: its cleanup ran, and its one IndexRun is recorded as failed.
async fn assert_failed_run(indexer: &Indexer, repo_id: &str) -> IndexRunRecord {
    let workflow_id = worker_host::indexing::workflow_id_of(repo_id);
    assert!(
        history_has(&workflow_id, "cleanup_repo_activity"),
        "cleanup ran"
    );
    let mut runs = indexer
        .open_store()
        .await
        .index_runs(repo_id)
        .await
        .expect("runs");
    assert_eq!(runs.len(), 1, "{runs:?}");
    let run = runs.remove(0);
    assert_eq!(run.status, RunStatus::Failed, "{run:?}");
    run
}

/// Neo4j goes away between two runs (the host holds pooled connections to it) and comes back
/// while the second run is retrying its writes: the run completes and the graph is right.
#[tokio::test(flavor = "multi_thread")]
async fn neo4j_down_during_persist_is_waited_for() {
    let neo4j = PrivateNeo4j::start();
    let repo = git::repo(FILES);
    let dir = tempfile::tempdir().expect("tempdir");
    let queue = unique("neo");
    let text = on_graph(&config(&queue, Store::Embedded), &neo4j.graph_toml());
    let indexer = Indexer::start_with(dir, &queue, &text, Store::Neo4j, &temporal_address());
    let repo_id = unique("outage");
    indexer.index_ok(repo.path(), &repo_id);

    neo4j.down();
    git::commit(
        repo.path(),
        &[("app/extra.py", "def extra():\n    return 2\n")],
        &[],
        "more",
    );
    let out = indexer.index(path_str(repo.path()), &["--repo-id", &repo_id, "--no-wait"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let workflow_id = worker_host::indexing::workflow_id_of(&repo_id);
    // The store's own error kind is the failure type of the retried attempts.
    wait_for_describe(&temporal_address(), &workflow_id, "GraphUnreachable");
    neo4j.up();
    let client = client().await;
    let summary = common::result_within(&client, &workflow_id, Duration::from_secs(180))
        .await
        .unwrap_or_else(|e| panic!("{e}\nhost log:\n{}", indexer.host.log()));
    assert_eq!(summary["files"], 5, "{summary:#}");

    let settings = worker_host::graph::GraphSettings {
        uri: neo4j.uri(),
        ..Store::Neo4j.settings()
    };
    let store = GraphStore::open(&settings, &indexer.data_dir())
        .await
        .expect("open");
    let dump = store.dump(&repo_id).await.expect("dump");
    assert_expected_graph(&dump);
    assert!(has_node(&dump, "Function", "app/extra.py::extra"));
}

/// One small file per language, indexed through the workflow: definitions of every kind,
/// methods under their types, inheritance and calls across files land in the graph.
#[tokio::test(flavor = "multi_thread")]
async fn every_language_goes_through_the_workflow() {
    let repo = git::repo(&[
        (
            "py/shapes.py",
            "class Shape:\n    def area(self):\n        return 0\n\n\nclass Box(Shape):\n    def area(self):\n        return unit()\n\n\ndef unit():\n    return 1\n",
        ),
        (
            "src/lib.rs",
            "pub trait Named { fn name(&self) -> String; }\npub struct Store;\nimpl Store {\n    pub fn get(&self) -> u32 { helper() }\n}\nimpl Named for Store {\n    fn name(&self) -> String { String::new() }\n}\nfn helper() -> u32 { 1 }\n",
        ),
        (
            "api/server.go",
            "package api\n\ntype Server struct{}\n\nfunc (s *Server) Handle() int {\n\treturn count()\n}\n\nfunc count() int { return 1 }\n",
        ),
        (
            "web/widget.js",
            "class Base {}\nclass Widget extends Base {\n  render() { return draw(); }\n}\nfunction draw() { return 1; }\n",
        ),
        (
            "ts/service.ts",
            "interface Runner { run(): number; }\nexport class Service implements Runner {\n  run(): number { return tick(); }\n}\nfunction tick(): number { return 1; }\n",
        ),
        (
            "ui/app.tsx",
            "export function App() {\n  return <div>{label()}</div>;\n}\nfunction label() { return \"x\"; }\n",
        ),
        (
            "java/Main.java",
            "class Animal {}\npublic class Main extends Animal {\n  public static void main(String[] a) { greet(); }\n  static void greet() {}\n}\n",
        ),
    ]);
    let indexer = Indexer::start(Store::Embedded);
    let repo_id = unique("langs");
    let summary = indexer.index_ok(repo.path(), &repo_id);
    for lang in [
        "python",
        "rust",
        "go",
        "javascript",
        "typescript",
        "tsx",
        "java",
    ] {
        assert_eq!(
            summary["languages"][lang]["files"], 1,
            "{lang}: {summary:#}"
        );
    }
    let dump = indexer.dump(&repo_id).await;
    for (label, key) in [
        ("Class", "py/shapes.py::Box"),
        ("Method", "py/shapes.py::Box.area"),
        ("Trait", "src/lib.rs::Named"),
        ("Struct", "src/lib.rs::Store"),
        ("Method", "src/lib.rs::Store.get"),
        ("Struct", "api/server.go::Server"),
        ("Method", "api/server.go::Server.Handle"),
        ("Class", "web/widget.js::Widget"),
        ("Method", "web/widget.js::Widget.render"),
        ("Interface", "ts/service.ts::Runner"),
        ("Method", "ts/service.ts::Service.run"),
        ("Function", "ui/app.tsx::App"),
        ("Method", "java/Main.java::Main.main"),
    ] {
        assert!(has_node(&dump, label, key), "missing {label} {key}");
    }
    for (rel, src, dst) in [
        ("EXTENDS", "py/shapes.py::Box", "py/shapes.py::Shape"),
        ("CALLS", "py/shapes.py::Box.area", "py/shapes.py::unit"),
        ("IMPLEMENTS", "src/lib.rs::Store", "src/lib.rs::Named"),
        ("CALLS", "src/lib.rs::Store.get", "src/lib.rs::helper"),
        (
            "HAS_METHOD",
            "api/server.go::Server",
            "api/server.go::Server.Handle",
        ),
        (
            "CALLS",
            "api/server.go::Server.Handle",
            "api/server.go::count",
        ),
        ("EXTENDS", "web/widget.js::Widget", "web/widget.js::Base"),
        (
            "IMPLEMENTS",
            "ts/service.ts::Service",
            "ts/service.ts::Runner",
        ),
        ("CALLS", "ui/app.tsx::App", "ui/app.tsx::label"),
        ("EXTENDS", "java/Main.java::Main", "java/Main.java::Animal"),
        (
            "CALLS",
            "java/Main.java::Main.main",
            "java/Main.java::Main.greet",
        ),
    ] {
        assert!(
            has_rel(&dump, rel, src, dst),
            "missing {src} -[{rel}]-> {dst}"
        );
    }
}

/// Files a parser must not choke on are skipped with a counted reason; the rest is indexed.
#[tokio::test(flavor = "multi_thread")]
async fn bad_files_are_skipped_and_counted() {
    let deep = format!("x = {}1{}\n", "[".repeat(3000), "]".repeat(3000));
    let repo = git::repo(&[
        ("ok.py", "def fine():\n    return 1\n"),
        ("deep.py", deep.as_str()),
    ]);
    std::fs::write(repo.path().join("latin1.py"), b"s = '\xe9t\xe9'\n").expect("write");
    std::fs::write(repo.path().join("blob.py"), b"\x00\x01\x02binary\x00").expect("write");
    let big = vec![b'#'; 50 * 1024 * 1024];
    std::fs::write(repo.path().join("big.py"), &big).expect("write");
    std::os::unix::fs::symlink("/etc/passwd", repo.path().join("outside.py")).expect("symlink");
    git::commit(repo.path(), &[], &[], "bad files");

    let indexer = Indexer::start(Store::Embedded);
    let repo_id = unique("badfiles");
    let summary = indexer.index_ok(repo.path(), &repo_id);
    assert_eq!(summary["files"], 2, "ok.py and deep.py: {summary:#}");
    for reason in ["invalid_utf8", "binary", "oversized", "symlink"] {
        assert_eq!(summary["skipped"][reason], 1, "{reason}: {summary:#}");
    }
    assert!(has_node(
        &indexer.dump(&repo_id).await,
        "Function",
        "ok.py::fine"
    ));
}

/// An empty repository and an unknown branch fail with clear messages.
#[tokio::test(flavor = "multi_thread")]
async fn an_empty_repository_and_an_unknown_branch_fail_clearly() {
    let indexer = Indexer::start(Store::Embedded);
    let empty = tempfile::tempdir().expect("tempdir");
    git::git(empty.path(), &["init", "-q"]);
    let out = indexer.index(path_str(empty.path()), &["--repo-id", &unique("empty")]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("empty repository"), "{stderr}");

    let repo = git::repo(FILES);
    let out = indexer.index(
        path_str(repo.path()),
        &["--repo-id", &unique("ref"), "--ref", "no-such-branch"],
    );
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("unknown ref") && stderr.contains("no-such-branch"),
        "{stderr}"
    );
    assert_eq!(
        indexer.workspace_entries(),
        0,
        "failed runs leave no folder"
    );
}
