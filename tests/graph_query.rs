//! `worker-host graph`: the same questions asked of the embedded store and of Neo4j, after a real
//! host indexed the same repositories into each (a repository in six languages and a Python
//! project), give the same answers, and those answers are the hand-written ones below. Bad
//! input (unknown repository, symbol or file; an ambiguous name; a store that is down) gives a
//! clear message and a non-zero exit.

mod common;
mod graph_support;

use common::indexer::{Indexer, Store};
use common::{git, unique};
use graph_support::{LANGS, PY, graph};
use serde_json::{Value as Json, json};
use std::process::Command;

/// The JSON answer of a question that must have one.
fn answer(indexer: &Indexer, args: &[&str]) -> Json {
    let out = graph(indexer, args);
    assert!(
        out.status.success(),
        "graph {args:?} on {:?} failed: {}",
        indexer.store,
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("JSON answer")
}

/// `(depth, key, via, lines)` of every call in a callers/callees answer.
fn calls(answer: &Json) -> Vec<(u64, String, String, Json)> {
    answer["calls"]
        .as_array()
        .expect("calls")
        .iter()
        .map(|c| {
            (
                c["depth"].as_u64().expect("depth"),
                c["node"]["key"].as_str().expect("key").to_owned(),
                c["via"].as_str().expect("via").to_owned(),
                c["lines"].clone(),
            )
        })
        .collect()
}

fn call(depth: u64, key: &str, via: &str, lines: &[i64]) -> (u64, String, String, Json) {
    (depth, key.to_owned(), via.to_owned(), json!(lines))
}

fn keys(list: &Json, field: &str) -> Vec<String> {
    list.as_array()
        .expect("list")
        .iter()
        .map(|d| d[field].as_str().expect("string").to_owned())
        .collect()
}

/// Asks both stores `args` about `repo`; checks that the answers are equal and returns one.
fn both(stores: &[Indexer; 2], repo: &str, args: &[&str]) -> Json {
    let mut full = args.to_vec();
    full.extend(["--repo", repo]);
    let embedded = answer(&stores[0], &full);
    let neo4j = answer(&stores[1], &full);
    assert_eq!(embedded, neo4j, "graph {args:?}: the stores disagree");
    embedded
}

#[tokio::test(flavor = "multi_thread")]
async fn both_stores_answer_the_same_hand_checked_questions() {
    let langs = git::repo(LANGS);
    let py = git::repo(PY);
    let (langs_id, py_id) = (unique("langs"), unique("py"));
    let stores = [
        Indexer::start(Store::Embedded),
        Indexer::start(Store::Neo4j),
    ];
    for indexer in &stores {
        indexer.index_ok(langs.path(), &langs_id);
        indexer.index_ok(py.path(), &py_id);
    }

    // One caller per language, at the line of its call.
    for (callee, caller, line) in [
        ("side", "py/geometry.py::Square.area", 3),
        ("seed", "src/store.rs::Cache.load", 6),
        ("total", "api/handler.go::Handler.Serve", 8),
        ("plot", "web/chart.js::Chart.paint", 7),
        ("now", "ts/clock.ts::Clock.read", 7),
        ("port", "java/App.java::App.main", 5),
    ] {
        let a = both(&stores, &langs_id, &["callers", callee]);
        assert_eq!(a["symbol"]["name"], callee, "{a:#}");
        assert_eq!(
            calls(&a),
            vec![call(
                1,
                caller,
                a["symbol"]["key"].as_str().expect("key"),
                &[line]
            )],
            "callers of {callee}: {a:#}"
        );
    }
    let a = both(&stores, &langs_id, &["find", "Cache"]);
    assert_eq!(keys(&a["definitions"], "key"), ["src/store.rs::Cache"]);
    assert_eq!(a["definitions"][0]["kind"], "Struct");
    assert_eq!(a["definitions"][0]["line"], 3);

    // The Python project: direct and transitive callers, with the lines of the calls.
    let a = both(&stores, &py_id, &["callers", "helper"]);
    assert_eq!(a["symbol"]["key"], "pkg/util.py::helper");
    assert_eq!(a["symbol"]["kind"], "Function");
    assert_eq!(a["symbol"]["line"], 4);
    let direct = vec![
        call(1, "pkg/models.py::Base.save", "pkg/util.py::helper", &[7]),
        call(1, "pkg/util.py::twice", "pkg/util.py::helper", &[9]),
    ];
    assert_eq!(calls(&a), direct, "{a:#}");
    let a = both(
        &stores,
        &py_id,
        &["callers", "pkg/util.py::helper", "--depth", "3"],
    );
    let mut transitive = direct.clone();
    transitive.extend([
        call(2, "main.py::run", "pkg/util.py::twice", &[5]),
        call(
            2,
            "pkg/models.py::User.greet",
            "pkg/models.py::Base.save",
            &[12],
        ),
        call(2, "pkg/models.py::User.greet", "pkg/util.py::twice", &[13]),
    ]);
    assert_eq!(calls(&a), transitive, "{a:#}");
    assert_eq!(a["total"], 5);
    let a = both(
        &stores,
        &py_id,
        &["callers", "helper", "--depth", "3", "--limit", "2"],
    );
    assert_eq!(calls(&a), direct, "--limit keeps the first calls");
    assert_eq!(a["total"], 5);

    let a = both(&stores, &py_id, &["callees", "User.greet"]);
    assert_eq!(
        calls(&a),
        vec![
            call(
                1,
                "pkg/models.py::Base.save",
                "pkg/models.py::User.greet",
                &[12]
            ),
            call(1, "pkg/util.py::twice", "pkg/models.py::User.greet", &[13]),
        ],
        "{a:#}"
    );
    let a = both(&stores, &py_id, &["callees", "make_user"]);
    assert_eq!(
        calls(&a),
        vec![call(1, "os.path.join", "pkg/models.py::make_user", &[17])],
        "{a:#}"
    );
    assert_eq!(a["calls"][0]["node"]["kind"], "External");
    let a = both(&stores, &py_id, &["callers", "os.path.join"]);
    assert_eq!(a["symbol"]["kind"], "External");
    assert_eq!(
        calls(&a),
        vec![call(1, "pkg/models.py::make_user", "os.path.join", &[17])]
    );

    // find: exact names, qualified tails, then prefixes with case ignored.
    let a = both(&stores, &py_id, &["find", "save"]);
    assert_eq!(a["matched"], "exact");
    assert_eq!(keys(&a["definitions"], "key"), ["pkg/models.py::Base.save"]);
    assert_eq!(a["definitions"][0]["kind"], "Method");
    assert_eq!(a["definitions"][0]["file"], "pkg/models.py");
    assert_eq!(a["definitions"][0]["line"], 6);
    let a = both(&stores, &py_id, &["find", "run"]);
    assert_eq!(
        keys(&a["definitions"], "key"),
        ["main.py::run", "pkg/jobs.py::run"]
    );
    let a = both(&stores, &py_id, &["find", "HEL"]);
    assert_eq!(a["matched"], "prefix");
    assert_eq!(keys(&a["definitions"], "key"), ["pkg/util.py::helper"]);

    // file: definitions in order, imports, and files importing it or its definitions.
    let a = both(&stores, &py_id, &["file", "pkg/util.py"]);
    assert_eq!(
        keys(&a["definitions"], "key"),
        ["pkg/util.py::helper", "pkg/util.py::twice"]
    );
    assert_eq!(keys(&a["imports"], "target"), ["json"]);
    let importers: Vec<(String, String)> = a["importers"]
        .as_array()
        .expect("importers")
        .iter()
        .map(|i| {
            (
                i["file"].as_str().expect("file").to_owned(),
                i["target"].as_str().expect("target").to_owned(),
            )
        })
        .collect();
    assert_eq!(
        importers,
        [
            ("main.py", "pkg/util.py::twice"),
            ("pkg/models.py", "pkg/util.py::helper"),
            ("pkg/models.py", "pkg/util.py::twice"),
        ]
        .map(|(f, t)| (f.to_owned(), t.to_owned()))
    );

    // stats and repos.
    let a = both(&stores, &py_id, &["stats"]);
    let stats = &a["repositories"][0];
    assert_eq!(stats["repo_id"], py_id.as_str());
    assert_eq!(stats["nodes"]["File"], 5);
    assert_eq!(stats["nodes"]["Function"], 5);
    assert_eq!(stats["nodes"]["Method"], 2);
    assert_eq!(stats["nodes"]["Class"], 2);
    assert_eq!(stats["relationships"]["CALLS"], 8);
    let head = String::from_utf8(
        Command::new("git")
            .args(["rev-parse", "HEAD"])
            .current_dir(py.path())
            .output()
            .expect("git rev-parse")
            .stdout,
    )
    .expect("utf-8");
    for indexer in &stores {
        let a = answer(indexer, &["repos", "--repo", &py_id]);
        let repo = &a["repositories"][0];
        assert_eq!(repo["last_indexed_commit"], head.trim());
        assert_eq!(repo["last_run"]["status"], "succeeded");
        assert_eq!(
            repo["nodes"],
            stats["nodes"]
                .as_object()
                .expect("nodes")
                .values()
                .map(|n| n.as_u64().expect("count"))
                .sum::<u64>()
        );
    }

    // Bad input: clear messages, exit 1.
    for indexer in &stores {
        for (args, needle) in [
            (
                vec!["callers", "nothing_like_this", "--repo", py_id.as_str()],
                "no symbol `nothing_like_this`",
            ),
            (
                vec!["callers", "run", "--repo", py_id.as_str()],
                "`run` is ambiguous: 2 candidates",
            ),
            (
                vec!["stats", "no-such-repo"],
                "no repository `no-such-repo`",
            ),
            (
                vec!["file", "missing.py", "--repo", py_id.as_str()],
                "no file `missing.py`",
            ),
            (
                vec!["find", "zzz_nothing", "--repo", py_id.as_str()],
                "no definition named `zzz_nothing`",
            ),
        ] {
            let out = graph(indexer, &args);
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(1), "{args:?}: {stderr}");
            assert!(stderr.contains(needle), "{args:?}: {stderr}");
            if needle.contains("ambiguous") {
                assert!(
                    stderr.contains("main.py::run") && stderr.contains("pkg/jobs.py::run"),
                    "{stderr}"
                );
            }
        }
    }
}

/// A Neo4j that does not answer: the message names it, the exit code is 2; a directory with no
/// config and no graph says there is none yet, and creates nothing.
#[test]
fn an_unreachable_store_and_an_empty_graph_are_reported() {
    let dir = tempfile::tempdir().expect("tempdir");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port();
    std::fs::write(
        dir.path().join("workers.toml"),
        format!("[indexing.graph]\nbackend = \"neo4j\"\nuri = \"bolt://127.0.0.1:{port}\"\n"),
    )
    .expect("write config");
    let out = Command::new(common::binary("worker-host"))
        .args(["graph", "repos"])
        .current_dir(dir.path())
        .env_remove("WORKER_HOST_CONFIG")
        .env("NEO4J_PASSWORD", "x")
        .output()
        .expect("run graph");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains(&format!("Neo4j at bolt://127.0.0.1:{port} is unreachable")),
        "{stderr}"
    );

    let empty = tempfile::tempdir().expect("tempdir");
    let out = Command::new(common::binary("worker-host"))
        .args(["graph", "callers", "main"])
        .current_dir(empty.path())
        .env_remove("WORKER_HOST_CONFIG")
        .output()
        .expect("run graph");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(".worker-host/graph.sqlite: index a repository first"),
        "the embedded default under .worker-host/ is named: {stderr}"
    );
    assert!(
        !empty.path().join(".worker-host").exists(),
        "asking creates nothing"
    );
}
