//! `worker-host mcp` driven by a real MCP client, the official Python SDK (PyPI `mcp`, installed
//! by `scripts/test-deps.sh`), over stdio: it initializes, lists the tools with their argument
//! schemas, calls `callers` and `find` and gets what `graph … --json` prints; unknown and
//! ambiguous names come back as protocol errors, and the server keeps answering.

mod common;
mod graph_support;

use common::indexer::{Indexer, Store};
use common::{git, unique};
use graph_support::{PY, graph};
use serde_json::Value as Json;
use std::process::Command;

/// The CLI's `--json` answer.
fn cli(indexer: &Indexer, args: &[&str]) -> Json {
    let out = graph(indexer, args);
    assert!(
        out.status.success(),
        "graph {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("JSON")
}

#[tokio::test(flavor = "multi_thread")]
async fn a_python_mcp_client_gets_the_cli_answers_and_protocol_errors() {
    let py = git::repo(PY);
    let repo_id = unique("mcp");
    let indexer = Indexer::start(Store::Embedded);
    indexer.index_ok(py.path(), &repo_id);

    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/graph_support/mcp_client.py"
    );
    let out = Command::new("python3")
        .arg(script)
        .arg(common::binary("worker-host"))
        .arg(indexer.host.config_path())
        .arg(indexer.host.dir.path())
        .arg(&repo_id)
        .output()
        .expect("run python3");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "the MCP client failed (is the `mcp` package installed? scripts/test-deps.sh): {stderr}"
    );
    let report: Json = serde_json::from_slice(&out.stdout).expect("client report");

    assert_eq!(report["server"], "worker-host");
    let tools = report["tools"].as_object().expect("tools");
    let mut names: Vec<&str> = tools.keys().map(String::as_str).collect();
    names.sort_unstable();
    assert_eq!(
        names,
        ["callees", "callers", "file", "find", "repos", "stats"]
    );
    for (name, tool) in tools {
        assert_eq!(tool["read_only"], true, "{name} is read-only");
        assert_eq!(tool["input_schema"]["type"], "object", "{name}");
    }
    let callers = &tools["callers"]["input_schema"];
    assert_eq!(callers["required"], serde_json::json!(["symbol"]));
    for arg in ["symbol", "repo", "depth", "limit"] {
        assert!(
            callers["properties"][arg]["description"].is_string(),
            "callers.{arg} is described: {callers:#}"
        );
    }

    assert_eq!(
        report["callers"]["result"],
        cli(
            &indexer,
            &["callers", "helper", "--repo", &repo_id, "--depth", "2"]
        ),
        "{report:#}"
    );
    assert_eq!(report["callers"]["result"]["total"], 5);
    assert_eq!(
        report["find"]["result"],
        cli(&indexer, &["find", "run", "--repo", &repo_id]),
        "{report:#}"
    );

    // Invalid params (-32602), with the message the CLI prints and the candidates as data.
    let unknown = &report["unknown_symbol"]["error"];
    assert_eq!(unknown["code"], -32602, "{report:#}");
    assert!(
        unknown["message"]
            .as_str()
            .is_some_and(|m| m.contains("no symbol `no_such_thing`")),
        "{unknown}"
    );
    let ambiguous = &report["ambiguous"]["error"];
    assert_eq!(ambiguous["code"], -32602, "{report:#}");
    let candidates: Vec<&str> = ambiguous["data"]["candidates"]
        .as_array()
        .expect("candidates")
        .iter()
        .filter_map(|c| c["key"].as_str())
        .collect();
    assert_eq!(candidates, ["main.py::run", "pkg/jobs.py::run"]);
    assert!(
        report["unknown_repo"]["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("no repository `no-such-repo`")),
        "{report:#}"
    );
    let bad = &report["bad_arguments"];
    assert!(
        bad["error"]["code"].is_i64() || bad["is_error"] == true,
        "a wrong argument type is refused, not a crash: {report:#}"
    );
    // The server survived all of it.
    assert_eq!(
        report["after_errors"]["result"],
        cli(&indexer, &["stats", "--repo", &repo_id])
    );
}
