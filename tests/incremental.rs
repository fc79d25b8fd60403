//! Incremental re-indexing through the real workflow: after each commit of a series (add,
//! modify, delete, rename, a change that breaks a cross-file call, a function that becomes a
//! class, a new file that makes a name resolve, Go methods and Rust impls whose type is in
//! another file) the incrementally indexed
//! graph equals, in a canonical dump, a full index of the same commit, in either store; the
//! same commit twice writes and deletes nothing; a restarted host goes on from the run it saved;
//! an incremental run writes its record with its graph, and its final record while its folder
//! goes, and its history replays.

mod common;

use common::indexer::{Indexer, Store, config, path_str};
use common::{git, unique, wait_until};
use serde_json::Value as Json;
use temporalio_client::{WorkflowExecutionInfo, WorkflowFetchHistoryOptions, WorkflowHistory};
use temporalio_common::protos::{
    constants::PATCH_MARKER_NAME,
    coresdk::common::decode_change_marker_details,
    temporal::api::history::v1::{History, history_event::Attributes},
};
use temporalio_sdk::workflow_replayer::{WorkflowReplayer, WorkflowReplayerOptions};
use worker_host_indexing::{RepoIndexingWorkflow, workflow::CONCURRENT_WRITES};

const BASE: &[(&str, &str)] = &[
    (
        "lib/shapes.py",
        "class Shape:\n    def area(self):\n        return 0\n\n\nclass Square(Shape):\n    def area(self):\n        return side() * side()\n\n\ndef side():\n    return 2\n",
    ),
    (
        "lib/report.py",
        "from lib.shapes import Square, side\n\n\ndef report():\n    return Square().area() + side()\n",
    ),
    ("lib/util.py", "def clamp(x):\n    return max(0, x)\n"),
    (
        "src/main.rs",
        "mod geo;\nfn main() {\n    let p = geo::Point::new(1, 2);\n    p.norm();\n}\n",
    ),
    (
        "src/geo.rs",
        "pub struct Point { x: i32, y: i32 }\nimpl Point {\n    pub fn new(x: i32, y: i32) -> Self { Point { x, y } }\n    pub fn norm(&self) -> i32 { self.x + self.y }\n}\n",
    ),
];

/// Index `repo` incrementally as `repo_id`, index the same commit in full as a fresh
/// repository, and check both graphs are the same. Returns the incremental summary.
async fn index_and_compare(indexer: &Indexer, repo: &std::path::Path, repo_id: &str) -> Json {
    let summary = indexer.index_ok(repo, repo_id);
    let fresh = unique("full");
    let out = indexer.index(path_str(repo), &["--repo-id", &fresh, "--full"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let incremental = indexer.dump(repo_id).await;
    let full = indexer.dump(&fresh).await;
    if incremental != full {
        let only_inc = missing_from(&incremental.nodes, &full.nodes);
        let only_full = missing_from(&full.nodes, &incremental.nodes);
        let rel_inc = missing_from(&incremental.relationships, &full.relationships);
        let rel_full = missing_from(&full.relationships, &incremental.relationships);
        panic!(
            "incremental graph differs from a full index:\nnodes only incremental {only_inc:#?}\n\
             nodes only full {only_full:#?}\nrels only incremental {rel_inc:#?}\nrels only full {rel_full:#?}\n\
             summary {summary:#}"
        );
    }
    summary
}

fn written(summary: &Json) -> u64 {
    summary["written"]["nodes"].as_u64().unwrap_or(u64::MAX)
        + summary["written"]["relationships"]
            .as_u64()
            .unwrap_or(u64::MAX)
}

#[tokio::test(flavor = "multi_thread")]
async fn each_incremental_run_equals_a_full_index() {
    series_equals_full_indexes(Store::Embedded).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn each_incremental_run_equals_a_full_index_in_neo4j() {
    series_equals_full_indexes(Store::Neo4j).await;
}

async fn series_equals_full_indexes(store: Store) {
    let repo = git::repo(BASE);
    let indexer = Indexer::start(store);
    let repo_id = unique("inc");
    let first = index_and_compare(&indexer, repo.path(), &repo_id).await;
    assert_eq!(first["mode"], "full", "{first:#}");
    let everything = written(&first);

    // Add a file that calls into an existing one.
    git::commit(
        repo.path(),
        &[(
            "lib/extra.py",
            "from lib.util import clamp\n\n\ndef extra():\n    return clamp(3)\n",
        )],
        &[],
        "add",
    );
    let s = index_and_compare(&indexer, repo.path(), &repo_id).await;
    assert_eq!(s["mode"], "incremental", "{s:#}");
    assert_eq!(s["files_parsed"], 1, "only the new file is parsed: {s:#}");
    assert!(
        written(&s) < everything,
        "only what changed is written: {s:#}"
    );

    // Modify a file's body.
    git::commit(
        repo.path(),
        &[(
            "lib/util.py",
            "def clamp(x):\n    return min(10, max(0, x))\n",
        )],
        &[],
        "modify",
    );
    let s = index_and_compare(&indexer, repo.path(), &repo_id).await;
    assert_eq!(s["files_parsed"], 1, "{s:#}");

    // Rename a file (delete + add).
    std::fs::rename(
        repo.path().join("src/geo.rs"),
        repo.path().join("src/geometry.rs"),
    )
    .expect("rename");
    git::commit(
        repo.path(),
        &[(
            "src/main.rs",
            "mod geometry;\nfn main() {\n    let p = geometry::Point::new(1, 2);\n    p.norm();\n}\n",
        )],
        &[],
        "rename",
    );
    let s = index_and_compare(&indexer, repo.path(), &repo_id).await;
    assert!(s["stale_deleted"]["nodes"].as_u64() > Some(0), "{s:#}");

    // Break a cross-file call: `side` is renamed, report.py still calls `side`.
    git::commit(
        repo.path(),
        &[(
            "lib/shapes.py",
            "class Shape:\n    def area(self):\n        return 0\n\n\nclass Square(Shape):\n    def area(self):\n        return edge() * edge()\n\n\ndef edge():\n    return 2\n",
        )],
        &[],
        "rename side to edge",
    );
    let s = index_and_compare(&indexer, repo.path(), &repo_id).await;
    let affected_report = indexer.dump(&repo_id).await.relationships.iter().any(|r| {
        r.rel_type == "CALLS" && r.src_key == "lib/report.py::report" && r.dst_label == "External"
    });
    assert!(
        affected_report,
        "report()'s call of side() now points outside: {s:#}"
    );

    // A function becomes a class: extra.py's call of `clamp` now points at another label.
    git::commit(
        repo.path(),
        &[(
            "lib/util.py",
            "class clamp:\n    def __init__(self, x):\n        self.x = x\n",
        )],
        &[],
        "function to class",
    );
    let s = index_and_compare(&indexer, repo.path(), &repo_id).await;
    assert_eq!(s["files_parsed"], 1, "{s:#}");

    // A new file holds the only definition of a name another file calls unresolved.
    git::commit(
        repo.path(),
        &[("lib/edges.py", "def max(a, b):\n    return a\n")],
        &[],
        "a name resolves",
    );
    index_and_compare(&indexer, repo.path(), &repo_id).await;

    // Go methods and a Rust impl declared in another file than their type.
    let server = "package web\n\ntype Server struct{}\n";
    let handle =
        "package web\n\nfunc (s *Server) Handle() { s.Close() }\nfunc (s *Server) Close() {}\n";
    let display = "use std::fmt;\nimpl fmt::Display for Point {\n    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result { Ok(()) }\n}\nimpl Point {\n    pub fn twice(&self) -> i32 { self.norm() * 2 }\n}\n";
    git::commit(
        repo.path(),
        &[
            ("web/server.go", server),
            ("web/handle.go", handle),
            ("src/show.rs", display),
        ],
        &[],
        "methods elsewhere",
    );
    index_and_compare(&indexer, repo.path(), &repo_id).await;
    git::commit(
        repo.path(),
        &[("web/server.go", "package web\n\ntype Server interface{}\n")],
        &[],
        "the owner type changes kind",
    );
    index_and_compare(&indexer, repo.path(), &repo_id).await;
    git::commit(repo.path(), &[], &["src/show.rs"], "the impls go");
    index_and_compare(&indexer, repo.path(), &repo_id).await;

    // Delete a file.
    git::commit(repo.path(), &[], &["lib/extra.py"], "delete");
    index_and_compare(&indexer, repo.path(), &repo_id).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_same_commit_twice_writes_and_deletes_nothing() {
    let repo = git::repo(BASE);
    let indexer = Indexer::start(Store::Embedded);
    let repo_id = unique("same");
    let first = indexer.index_ok(repo.path(), &repo_id);
    assert!(written(&first) > 0);
    let before = indexer.dump(&repo_id).await;
    let again = indexer.index_ok(repo.path(), &repo_id);
    assert_eq!(again["mode"], "incremental", "{again:#}");
    assert_eq!(again["files_parsed"], 0, "{again:#}");
    assert_eq!(written(&again), 0, "{again:#}");
    assert_eq!(again["stale_deleted"]["nodes"], 0, "{again:#}");
    assert_eq!(again["stale_deleted"]["relationships"], 0, "{again:#}");
    assert_eq!(before, indexer.dump(&repo_id).await);

    let full = indexer.index(path_str(repo.path()), &["--repo-id", &repo_id, "--full"]);
    assert!(full.status.success());
    let full: Json = serde_json::from_slice(&full.stdout).expect("summary");
    assert_eq!(full["mode"], "full");
    assert_eq!(full["files_parsed"], 5);
    assert_eq!(before, indexer.dump(&repo_id).await);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_incremental_run_writes_independent_steps_at_once_and_replays() {
    let repo = git::repo(BASE);
    let indexer = Indexer::start(Store::Embedded);
    let repo_id = unique("concurrent");
    indexer.index_ok(repo.path(), &repo_id);
    git::commit(
        repo.path(),
        &[("lib/util.py", "def clamp(x):\n    return min(9, x)\n")],
        &[],
        "edit",
    );
    let summary = indexer.index_ok(repo.path(), &repo_id);
    assert_eq!(summary["mode"], "incremental", "{summary:#}");
    for stage in ["persist_metadata", "persist_graph", "cleanup_repo", "total"] {
        assert!(
            summary["durations_ms"][stage].is_u64(),
            "{stage}: {summary:#}"
        );
    }

    let info = WorkflowExecutionInfo::builder()
        .namespace("default")
        .workflow_id(worker_host_indexing::workflow_id_of(&repo_id))
        .run_id(summary["run_id"].as_str().expect("run_id").to_owned())
        .build();
    let handle = info.bind_untyped(common::client_of(&indexer.address).await);
    let json = handle
        .fetch_history(WorkflowFetchHistoryOptions::default())
        .to_json()
        .await
        .expect("the run's history");
    let history: Json = serde_json::from_slice(&json).expect("history JSON");
    let events = history["events"].as_array().expect("events");
    assert_eq!(
        patches(&json),
        [CONCURRENT_WRITES],
        "the run's patch markers"
    );
    // Activities scheduled by one workflow task run at once.
    let scheduled: Vec<(&str, u64)> = events
        .iter()
        .filter_map(|e| {
            let a = &e["attributes"]["ActivityTaskScheduledEventAttributes"];
            Some((
                a["activity_type"]["name"].as_str()?,
                a["workflow_task_completed_event_id"].as_u64()?,
            ))
        })
        .collect();
    let names: Vec<&str> = scheduled.iter().map(|(name, _)| *name).collect();
    assert_eq!(
        names,
        [
            "clone_repo_activity",
            "parse_repo_activity",
            "persist_metadata_activity",
            "persist_kg_activity",
            "cleanup_stale_kg_nodes_activity",
            "persist_metadata_activity",
            "cleanup_repo_activity"
        ],
        "{scheduled:?}"
    );
    assert_eq!(
        scheduled[2].1, scheduled[3].1,
        "record and graph: {scheduled:?}"
    );
    assert_eq!(
        scheduled[5].1, scheduled[6].1,
        "record and removal: {scheduled:?}"
    );
    assert_ne!(scheduled[1].1, scheduled[2].1, "{scheduled:?}");

    let options = WorkflowReplayerOptions::new()
        .register_workflow::<RepoIndexingWorkflow>()
        .expect("the workflow registers")
        .build();
    let replayer = WorkflowReplayer::new(options).expect("a replayer");
    let history = WorkflowHistory::from_json(&json).expect("a history");
    replayer
        .replay_workflow(history)
        .await
        .expect("the run's history replays");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_restarted_host_goes_on_from_the_run_it_saved() {
    let repo = git::repo(BASE);
    let indexer = Indexer::start(Store::Embedded);
    let repo_id = unique("restart");
    let first = indexer.index_ok(repo.path(), &repo_id);
    let commit = first["commit"].as_str().expect("commit").to_owned();
    // The run is saved in the background once it is in the store.
    let cache = indexer.data_dir().join("index-cache");
    wait_until("the run saved", std::time::Duration::from_secs(30), || {
        let saved = saved_commits(&cache);
        saved
            .contains(&commit)
            .then_some(())
            .ok_or_else(|| format!("saved: {saved:?}"))
    });
    let Indexer {
        host,
        queue,
        store,
        address,
    } = indexer;
    let indexer = Indexer::start_with(
        host.take_dir(),
        &queue,
        &config(&queue, store),
        store,
        &address,
    );
    git::commit(
        repo.path(),
        &[(
            "lib/util.py",
            "def clamp(x):\n    return min(9, max(0, x))\n",
        )],
        &[],
        "modify",
    );
    let s = index_and_compare(&indexer, repo.path(), &repo_id).await;
    assert_eq!(s["mode"], "incremental", "{s:#}");
    assert_eq!(s["files_parsed"], 1, "{s:#}");
}

/// The commits of the runs saved in a host's index cache.
/// The ids of the patch markers of a history (its JSON).
fn patches(json: &[u8]) -> Vec<String> {
    let history: History = serde_json::from_slice(json).expect("a history");
    let markers = history
        .events
        .into_iter()
        .filter_map(|e| match e.attributes? {
            Attributes::MarkerRecordedEventAttributes(m) if m.marker_name == PATCH_MARKER_NAME => {
                Some(m.details)
            }
            _ => None,
        });
    markers
        .filter_map(|details| decode_change_marker_details(&details).map(|(id, _)| id))
        .collect()
}

fn saved_commits(cache: &std::path::Path) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(cache) else {
        return Vec::new();
    };
    entries
        .filter_map(|e| {
            let text = std::fs::read_to_string(e.ok()?.path().join("facts.jsonl")).ok()?;
            let header: Json = serde_json::from_str(text.lines().next()?).ok()?;
            Some(header["commit"].as_str()?.to_owned())
        })
        .collect()
}

/// The items of `these` that `others` lacks.
fn missing_from<'a, T: PartialEq>(these: &'a [T], others: &[T]) -> Vec<&'a T> {
    these.iter().filter(|x| !others.contains(x)).collect()
}
