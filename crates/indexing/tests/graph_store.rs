//! The graph store's contract, run against both backends: the embedded SQLite file in a temp
//! directory and a real Neo4j at `TEST_NEO4J_URI` (started by `scripts/test.sh`). Inputs come
//! from the real parser run on small repositories written here. Every test uses its own
//! repository ids, so the Neo4j tests share one server.

use std::sync::atomic::{AtomicU32, Ordering};
use std::{path::Path, sync::Arc};

use worker_host_indexing::graph::{
    CleanupScope, GraphBackend, GraphDump, GraphError, GraphRows, GraphSettings, GraphStore,
    IndexRunRecord, LanguageCount, RepositoryRecord, RunKey, RunStatus, Value,
};
use worker_host_indexing::parse::{ParseOptions, commit_directory, parse_repository};

/// The first version of the sample repository: Python with a package, inheritance, a nested
/// class, methods, cross-file calls and imports of external modules, and a Go file.
const V1: &[(&str, &str)] = &[
    ("pkg/__init__.py", ""),
    (
        "pkg/base.py",
        "class Base:\n    def greet(self):\n        return 'hi'\n",
    ),
    (
        "pkg/models.py",
        "import os\nfrom pkg.base import Base\nfrom pkg.util import helper\n\n\
         class Model(Base):\n    class Meta:\n        ordering = 1\n\n    def save(self):\n        \
         helper(1)\n        os.path.join('a', 'b')\n        helper(2)\n\n\
         def make():\n    return Model()\n",
    ),
    (
        "pkg/util.py",
        "import json\n\ndef helper(x):\n    return json.dumps(x)\n\ndef old_name():\n    return helper(0)\n",
    ),
    (
        "pkg/legacy.py",
        "import sqlite3\nfrom pkg.util import helper\n\ndef legacy():\n    sqlite3.connect(':memory:')\n    return helper(3)\n",
    ),
    (
        "cmd/main.go",
        "package main\n\nimport \"fmt\"\n\ntype Server struct{}\n\n\
         func (s *Server) Handle() {\n\tfmt.Println(\"x\")\n}\n\n\
         func main() {\n\ts := &Server{}\n\ts.Handle()\n}\n",
    ),
];

/// The second version: `pkg/legacy.py` deleted, `old_name` renamed to `new_name`.
fn v2() -> Vec<(&'static str, String)> {
    V1.iter()
        .filter(|(path, _)| *path != "pkg/legacy.py")
        .map(|(path, text)| (*path, text.replace("old_name", "new_name")))
        .collect()
}

fn parse(files: &[(&str, String)]) -> GraphRows {
    let dir = tempfile::tempdir().expect("temp dir");
    let folder = dir.path().join("files");
    for (path, text) in files {
        let full = folder.join(path);
        std::fs::create_dir_all(full.parent().expect("parent")).expect("mkdir");
        std::fs::write(full, text).expect("write");
    }
    let repo = dir.path().join("snapshot.git");
    commit_directory(&folder, &repo).expect("commit");
    let output =
        parse_repository(&repo, "HEAD", &ParseOptions::default(), |_, _| {}).expect("parse");
    GraphRows::from_parse(&output)
}

fn rows_v1() -> GraphRows {
    let files: Vec<_> = V1.iter().map(|(p, t)| (*p, (*t).to_owned())).collect();
    parse(&files)
}

fn rows_v2() -> GraphRows {
    parse(&v2())
}

fn unique(prefix: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!(
        "{prefix}-{}-{nanos}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// A store of one backend; the temp directory lives as long as the fixture.
struct Fixture {
    store: GraphStore,
    _dir: tempfile::TempDir,
}

/// Settings of the test Neo4j; fails (never skips) when the server is not given.
fn neo4j_settings() -> GraphSettings {
    let uri = std::env::var("TEST_NEO4J_URI").unwrap_or_else(|_| {
        panic!(
            "TEST_NEO4J_URI is not set: run the tests through scripts/test.sh, which starts Neo4j \
             (scripts/neo4j.sh) and exports it"
        )
    });
    if std::env::var_os("NEO4J_PASSWORD").is_none() {
        // SAFETY: std's environment functions take one lock; no C code of this test reads
        // the environment concurrently.
        unsafe { std::env::set_var("NEO4J_PASSWORD", "worker-host-test") };
    }
    GraphSettings {
        backend: GraphBackend::Neo4j,
        uri,
        ..GraphSettings::default()
    }
}

async fn open(backend: GraphBackend) -> Fixture {
    let dir = tempfile::tempdir().expect("temp dir");
    let settings = match backend {
        GraphBackend::Embedded => GraphSettings {
            // Small batches, so the tests cross batch boundaries.
            batch_size: 7,
            ..GraphSettings::default()
        },
        GraphBackend::Neo4j => GraphSettings {
            batch_size: 7,
            max_rows_per_transaction: 20,
            ..neo4j_settings()
        },
    };
    let store = GraphStore::open(&settings, dir.path())
        .await
        .expect("open the store");
    Fixture { store, _dir: dir }
}

/// Write `rows`; returns whether the write went into an empty repository.
async fn persist(store: &GraphStore, repo: &str, run: &str, rows: &GraphRows) -> bool {
    let last = std::sync::Mutex::new((0, 0));
    let report = store
        .persist_graph(
            RunKey::new(repo, run),
            &Arc::new(rows.clone()),
            &|written, total| *last.lock().expect("lock") = (written, total),
        )
        .await
        .expect("persist the graph");
    let total = rows.node_count() + rows.relationship_count();
    assert_eq!(report.nodes + report.relationships, total);
    assert_eq!(*last.lock().expect("lock"), (total, total), "last progress");
    report.into_empty
}

async fn dump(store: &GraphStore, repo: &str) -> GraphDump {
    store.dump(repo).await.expect("dump")
}

async fn persist_then_query_counts_nodes_and_edges(backend: GraphBackend) {
    let f = open(backend).await;
    let repo = unique("counts");
    let rows = rows_v1();
    persist(&f.store, &repo, "run-1", &rows).await;

    let dump = dump(&f.store, &repo).await;
    assert_eq!(dump, GraphDump::from_rows(&rows));

    let counts = f.store.counts(&repo).await.expect("counts");
    for (label, list) in &rows.nodes {
        assert_eq!(
            counts.nodes.get(label.as_str()),
            Some(&(list.len() as u64)),
            "{label:?}"
        );
    }
    assert_eq!(counts.nodes.get("Repository"), Some(&1));
    assert_eq!(counts.nodes.get("File"), Some(&6));
    for (rel, list) in &rows.relationships {
        assert_eq!(
            counts.relationships.get(rel.as_str()),
            Some(&(list.len() as u64)),
            "{rel:?}"
        );
    }

    let model = dump
        .node("Class", "pkg/models.py::Model")
        .expect("class Model");
    assert_eq!(model.file.as_deref(), Some("pkg/models.py"));
    assert_eq!(model.props.get("name"), Some(&Value::from("Model")));
    assert_eq!(model.props.get("start_line"), Some(&Value::Int(5)));
    let file = dump.node("File", "pkg/models.py").expect("file node");
    assert_eq!(file.props.get("language"), Some(&Value::from("python")));
    assert!(
        dump.node("Method", "cmd/main.go::Server.Handle").is_some(),
        "{dump:#?}"
    );

    let has = |rel: &str, src: &str, dst: &str| dump.relationship(rel, src, dst).is_some();
    assert!(has("CONTAINS", "", "pkg/models.py"));
    assert!(has("DEFINES", "pkg/models.py", "pkg/models.py::Model"));
    assert!(has(
        "HAS_METHOD",
        "pkg/models.py::Model",
        "pkg/models.py::Model.save"
    ));
    assert!(has(
        "CONTAINS",
        "pkg/models.py::Model",
        "pkg/models.py::Model.Meta"
    ));
    assert!(
        has("EXTENDS", "pkg/models.py::Model", "pkg/base.py::Base"),
        "{dump:#?}"
    );
    assert!(has(
        "HAS_METHOD",
        "cmd/main.go::Server",
        "cmd/main.go::Server.Handle"
    ));
    let call = dump
        .relationship("CALLS", "pkg/models.py::Model.save", "pkg/util.py::helper")
        .expect("save calls helper");
    assert_eq!(call.props.get("lines"), Some(&Value::Ints(vec![10, 12])));
    assert_eq!(call.file.as_deref(), Some("pkg/models.py"));
    let import = dump
        .relationship("IMPORTS", "pkg/models.py", "pkg/util.py::helper")
        .expect("import of helper");
    assert_eq!(
        import.props.get("names"),
        Some(&Value::Strs(vec!["helper".into()]))
    );
    assert!(
        dump.relationships.iter().any(|r| r.rel_type == "IMPORTS"
            && r.src_key == "pkg/models.py"
            && r.dst_label == "External"),
        "import os: {dump:#?}"
    );
}

async fn persisting_twice_changes_nothing(backend: GraphBackend) {
    let f = open(backend).await;
    let repo = unique("twice");
    let rows = rows_v1();
    assert!(
        persist(&f.store, &repo, "run-1", &rows).await,
        "the first write goes into an empty repository: nothing to clean after it"
    );
    let (first, counts) = (
        dump(&f.store, &repo).await,
        f.store.counts(&repo).await.expect("counts"),
    );
    assert!(
        !persist(&f.store, &repo, "run-1", &rows).await,
        "a second write finds the first one's nodes"
    );
    assert_eq!(dump(&f.store, &repo).await, first);
    assert_eq!(f.store.counts(&repo).await.expect("counts"), counts);
    // A retry under a new run id rewrites the same graph too.
    persist(&f.store, &repo, "run-2", &rows).await;
    assert_eq!(dump(&f.store, &repo).await, first);
    assert_eq!(f.store.counts(&repo).await.expect("counts"), counts);
}

async fn cleanup_removes_exactly_the_deleted_file_and_renamed_function(backend: GraphBackend) {
    let f = open(backend).await;
    let repo = unique("cleanup");
    persist(&f.store, &repo, "run-1", &rows_v1()).await;
    let rows = rows_v2();
    persist(&f.store, &repo, "run-2", &rows).await;
    let report = f
        .store
        .cleanup_stale(RunKey::new(&repo, "run-2"), &CleanupScope::All)
        .await
        .expect("cleanup");
    assert_eq!(dump(&f.store, &repo).await, GraphDump::from_rows(&rows));
    let before = GraphDump::from_rows(&rows_v1());
    let after = GraphDump::from_rows(&rows);
    let gone_nodes = before
        .nodes
        .iter()
        .filter(|n| !after.nodes.contains(n))
        .count();
    let gone_rels = before
        .relationships
        .iter()
        .filter(|r| !after.relationships.contains(r))
        .count();
    assert_eq!(report.nodes, gone_nodes as u64, "{report:?}");
    assert_eq!(report.relationships, gone_rels as u64, "{report:?}");
    let now = dump(&f.store, &repo).await;
    assert!(now.node("Function", "pkg/util.py::old_name").is_none());
    assert!(now.node("File", "pkg/legacy.py").is_none());
    assert!(
        now.node("External", "sqlite3").is_none(),
        "orphan external left: {now:#?}"
    );
    assert!(now.node("Function", "pkg/util.py::new_name").is_some());
    // Nothing more to do.
    let again = f
        .store
        .cleanup_stale(RunKey::new(&repo, "run-2"), &CleanupScope::All)
        .await
        .expect("cleanup");
    assert_eq!((again.nodes, again.relationships), (0, 0));
}

async fn cleanup_of_files_touches_only_those_files(backend: GraphBackend) {
    let f = open(backend).await;
    let repo = unique("files");
    persist(&f.store, &repo, "run-1", &rows_v1()).await;
    let rows = rows_v2();
    persist(&f.store, &repo, "run-2", &rows).await;
    let scope = CleanupScope::Files(vec!["pkg/util.py".into()]);
    let report = f
        .store
        .cleanup_stale(RunKey::new(&repo, "run-2"), &scope)
        .await
        .expect("cleanup");
    assert!(report.nodes >= 1 && report.relationships >= 2, "{report:?}");
    let now = dump(&f.store, &repo).await;
    assert!(now.node("Function", "pkg/util.py::old_name").is_none());
    assert!(
        now.relationship("DEFINES", "pkg/util.py", "pkg/util.py::old_name")
            .is_none()
    );
    // legacy.py is stale too but outside the scope: still there.
    assert!(now.node("File", "pkg/legacy.py").is_some());
    assert!(now.node("Function", "pkg/legacy.py::legacy").is_some());
    f.store
        .cleanup_stale(RunKey::new(&repo, "run-2"), &CleanupScope::All)
        .await
        .expect("cleanup");
    assert_eq!(dump(&f.store, &repo).await, GraphDump::from_rows(&rows));
}

/// A cleanup of the files a change touched (here a deleted file and a renamed function) leaves
/// the graph of the new version: the external names only the deleted file used go too.
async fn cleanup_of_the_changed_files_leaves_the_new_graph(backend: GraphBackend) {
    let f = open(backend).await;
    let repo = unique("changed");
    persist(&f.store, &repo, "run-1", &rows_v1()).await;
    let rows = rows_v2();
    persist(&f.store, &repo, "run-2", &rows).await;
    let scope = CleanupScope::Files(vec!["pkg/legacy.py".into(), "pkg/util.py".into()]);
    let report = f
        .store
        .cleanup_stale(RunKey::new(&repo, "run-2"), &scope)
        .await
        .expect("cleanup");
    let now = dump(&f.store, &repo).await;
    assert!(now.node("External", "sqlite3").is_none(), "{now:#?}");
    assert_eq!(now, GraphDump::from_rows(&rows));
    let before = GraphDump::from_rows(&rows_v1());
    let gone = |a: &GraphDump| {
        let nodes = before.nodes.iter().filter(|n| !a.nodes.contains(n)).count();
        let rels = before
            .relationships
            .iter()
            .filter(|r| !a.relationships.contains(r))
            .count();
        (nodes as u64, rels as u64)
    };
    assert_eq!(
        (report.nodes, report.relationships),
        gone(&now),
        "{report:?}"
    );
}

async fn repositories_stay_isolated(backend: GraphBackend) {
    let f = open(backend).await;
    let (a, b) = (unique("iso-a"), unique("iso-b"));
    let (v1, v2) = (rows_v1(), rows_v2());
    persist(&f.store, &a, "run-a1", &v1).await;
    persist(&f.store, &b, "run-b1", &v1).await;
    persist(&f.store, &a, "run-a2", &v2).await;
    f.store
        .cleanup_stale(RunKey::new(&a, "run-a2"), &CleanupScope::All)
        .await
        .expect("cleanup a");
    assert_eq!(dump(&f.store, &a).await, GraphDump::from_rows(&v2));
    assert_eq!(dump(&f.store, &b).await, GraphDump::from_rows(&v1));
    // Cleaning b with a's run id removes b's own stale rows only: all of b.
    let report = f
        .store
        .cleanup_stale(RunKey::new(&b, "run-b2"), &CleanupScope::All)
        .await
        .expect("cleanup b");
    assert_eq!(report.nodes, v1.node_count());
    assert_eq!(dump(&f.store, &a).await, GraphDump::from_rows(&v2));
}

async fn metadata_round_trips(backend: GraphBackend) {
    let f = open(backend).await;
    let repo_id = unique("meta");
    let mut repo = RepositoryRecord {
        repo_id: repo_id.clone(),
        url: "https://example.invalid/sample.git".into(),
        default_branch: Some("main".into()),
        head_commit: Some("c1".into()),
        last_indexed_commit: None,
        languages: [(
            "python".to_owned(),
            LanguageCount {
                files: 5,
                lines: 40,
            },
        )]
        .into(),
        updated_at_ms: 1_000,
    };
    let mut run1 = IndexRunRecord {
        repo_id: repo_id.clone(),
        run_id: "run-1".into(),
        commit: Some("c1".into()),
        started_at_ms: 1_000,
        status: RunStatus::Running,
        ..IndexRunRecord::default()
    };
    assert_eq!(f.store.repository(&repo_id).await.expect("read"), None);
    f.store
        .persist_metadata(Some(&repo), &run1)
        .await
        .expect("metadata");
    run1.status = RunStatus::Succeeded;
    run1.ended_at_ms = Some(2_000);
    run1.counts = [("files".to_owned(), 6)].into();
    run1.durations_ms = [("parse".to_owned(), 12)].into();
    repo.last_indexed_commit = Some("c1".into());
    repo.updated_at_ms = 2_000;
    f.store
        .persist_metadata(Some(&repo), &run1)
        .await
        .expect("metadata");
    let run2 = IndexRunRecord {
        repo_id: repo_id.clone(),
        run_id: "run-2".into(),
        started_at_ms: 3_000,
        ended_at_ms: Some(3_001),
        status: RunStatus::Failed,
        error: Some("clone failed".into()),
        ..IndexRunRecord::default()
    };
    f.store
        .persist_metadata(None, &run2)
        .await
        .expect("failed run");
    assert_eq!(
        f.store.repository(&repo_id).await.expect("read"),
        Some(repo)
    );
    assert_eq!(
        f.store.index_runs(&repo_id).await.expect("runs"),
        vec![run1, run2]
    );
    let counts = f.store.counts(&repo_id).await.expect("counts");
    assert_eq!(counts.nodes.get("IndexRun"), Some(&2));
    assert_eq!(counts.relationships.get("HAS_RUN"), Some(&2));
    // Metadata survives a graph write and its cleanup.
    persist(&f.store, &repo_id, "run-3", &rows_v1()).await;
    f.store
        .cleanup_stale(RunKey::new(&repo_id, "run-3"), &CleanupScope::All)
        .await
        .expect("cleanup");
    assert_eq!(f.store.index_runs(&repo_id).await.expect("runs").len(), 2);
    assert!(f.store.repository(&repo_id).await.expect("read").is_some());
}

macro_rules! contract {
    ($($case:ident),* $(,)?) => {
        mod embedded {
            $(#[tokio::test]
            async fn $case() {
                super::$case(worker_host_indexing::graph::GraphBackend::Embedded).await
            })*
        }
        mod neo4j {
            $(#[tokio::test]
            async fn $case() {
                super::$case(worker_host_indexing::graph::GraphBackend::Neo4j).await
            })*
        }
    };
}

contract!(
    persist_then_query_counts_nodes_and_edges,
    persisting_twice_changes_nothing,
    cleanup_removes_exactly_the_deleted_file_and_renamed_function,
    cleanup_of_files_touches_only_those_files,
    cleanup_of_the_changed_files_leaves_the_new_graph,
    repositories_stay_isolated,
    metadata_round_trips,
);

#[tokio::test]
async fn neo4j_unreachable_is_retryable() {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.local_addr().expect("addr").port()
    };
    let uri = format!("bolt://127.0.0.1:{port}");
    let settings = GraphSettings {
        uri: uri.clone(),
        ..neo4j_settings()
    };
    let err = match GraphStore::open(&settings, Path::new(".")).await {
        Ok(_) => panic!("a closed port must not open"),
        Err(err) => err,
    };
    assert!(err.is_retryable(), "{err}");
    assert_eq!(err.kind(), "GraphUnreachable");
    assert!(err.to_string().contains(&uri), "{err}");
}

#[tokio::test]
async fn neo4j_wrong_password_is_an_auth_failure() {
    // Always set, never the password.
    let err = neo4j_open_error("PATH").await;
    assert_eq!(err.kind(), "GraphAuthFailed", "{err}");
    assert!(!err.is_retryable());
    assert!(err.to_string().contains("PATH"), "{err}");

    let err = neo4j_open_error("WORKER_HOST_TEST_UNSET_PASSWORD").await;
    assert_eq!(err.kind(), "GraphAuthFailed");
    assert!(
        err.to_string()
            .contains("WORKER_HOST_TEST_UNSET_PASSWORD is not set"),
        "{err}"
    );
}

/// Why the test Neo4j refuses a store whose password is in `password_env`.
async fn neo4j_open_error(password_env: &str) -> GraphError {
    let settings = GraphSettings {
        password_env: password_env.into(),
        ..neo4j_settings()
    };
    match GraphStore::open(&settings, Path::new(".")).await {
        Ok(_) => panic!("{password_env}: a wrong or missing password must not open"),
        Err(err) => err,
    }
}

#[tokio::test]
async fn embedded_store_lives_in_the_data_dir() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = GraphStore::open(&GraphSettings::default(), dir.path())
        .await
        .expect("open");
    assert_eq!(store.backend_name(), "embedded");
    assert!(dir.path().join("graph.sqlite").exists());
}

/// A file made before the unused secondary indexes were left out: opening it drops them, and
/// its graph reads, re-writes and cleans up as before.
#[tokio::test]
async fn embedded_store_drops_the_indexes_of_an_older_file() {
    let dir = tempfile::tempdir().expect("temp dir");
    let settings = GraphSettings::default();
    let repo = "old-file";
    {
        let store = GraphStore::open(&settings, dir.path()).await.expect("open");
        persist(&store, repo, "run-1", &rows_v1()).await;
    }
    let file = settings.embedded_path(dir.path());
    let indexes = |conn: &rusqlite::Connection| -> Vec<String> {
        let mut stmt = conn
            .prepare("SELECT name FROM sqlite_schema WHERE type = 'index' AND sql IS NOT NULL ORDER BY name")
            .expect("prepare");
        stmt.query_map([], |row| row.get(0))
            .expect("query")
            .collect::<Result<_, _>>()
            .expect("names")
    };
    {
        let conn = rusqlite::Connection::open(&file).expect("open the file");
        conn.execute_batch(
            "CREATE INDEX nodes_run ON nodes (repo_id, run_id);
             CREATE INDEX relationships_run ON relationships (repo_id, run_id);
             CREATE INDEX relationships_src ON relationships (repo_id, src_label, src_key);",
        )
        .expect("the old indexes");
    }
    let store = GraphStore::open(&settings, dir.path())
        .await
        .expect("reopen");
    let conn = rusqlite::Connection::open(&file).expect("open the file");
    assert_eq!(
        indexes(&conn),
        ["nodes_file", "nodes_name", "relationships_dst"],
        "only the indexes a query uses are left"
    );
    assert_eq!(dump(&store, repo).await, GraphDump::from_rows(&rows_v1()));
    let rows = rows_v2();
    persist(&store, repo, "run-2", &rows).await;
    let files = vec!["pkg/legacy.py".to_owned(), "pkg/util.py".to_owned()];
    store
        .cleanup_stale(RunKey::new(repo, "run-2"), &CleanupScope::Files(files))
        .await
        .expect("cleanup");
    assert_eq!(dump(&store, repo).await, GraphDump::from_rows(&rows));
}

#[tokio::test]
async fn embedded_store_makes_new_files_with_wide_pages_and_an_older_file_keeps_its_own() {
    let page_size = |file: &std::path::Path| -> i64 {
        let conn = rusqlite::Connection::open(file).expect("open the file");
        conn.query_row("PRAGMA page_size", [], |row| row.get(0))
            .expect("page_size")
    };
    let settings = GraphSettings::default();
    let new = tempfile::tempdir().expect("temp dir");
    {
        let store = GraphStore::open(&settings, new.path()).await.expect("open");
        persist(&store, "wide", "run-1", &rows_v1()).await;
    }
    assert_eq!(page_size(&settings.embedded_path(new.path())), 16 * 1024);

    // A file made with SQLite's default pages keeps them, and its graph.
    let old = tempfile::tempdir().expect("temp dir");
    let file = settings.embedded_path(old.path());
    std::fs::create_dir_all(file.parent().expect("a folder")).expect("mkdir");
    rusqlite::Connection::open(&file)
        .and_then(|conn| conn.execute_batch("PRAGMA page_size = 4096; CREATE TABLE t (x);"))
        .expect("an older file");
    let store = GraphStore::open(&settings, old.path()).await.expect("open");
    persist(&store, "narrow", "run-1", &rows_v1()).await;
    assert_eq!(
        dump(&store, "narrow").await,
        GraphDump::from_rows(&rows_v1())
    );
    assert_eq!(page_size(&file), 4096);
}
