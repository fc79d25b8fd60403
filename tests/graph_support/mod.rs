//! Shared by the graph query tests (`graph_query.rs`, `mcp.rs`): the repositories they index
//! and the `graph` command run the way a user runs it. `mcp_client.py` beside this file drives
//! the MCP server with the official Python SDK.
#![allow(dead_code)] // each test file uses a different part of this module

use super::common::{self, indexer::Indexer};
use std::process::{Command, Output};

/// One small file per language, each with a function and the one definition calling it.
pub const LANGS: &[(&str, &str)] = &[
    (
        "py/geometry.py",
        "class Square:\n    def area(self):\n        return side() * side()\n\n\ndef side():\n    return 2\n",
    ),
    (
        "src/store.rs",
        "fn seed() -> u64 { 7 }\n\npub struct Cache;\n\nimpl Cache {\n    pub fn load(&self) -> u64 { seed() }\n}\n",
    ),
    (
        "api/handler.go",
        "package api\n\nfunc total() int { return 3 }\n\ntype Handler struct{}\n\nfunc (h *Handler) Serve() int {\n\treturn total()\n}\n",
    ),
    (
        "web/chart.js",
        "function plot() {\n  return 4;\n}\n\nclass Chart {\n  paint() {\n    return plot();\n  }\n}\n",
    ),
    (
        "ts/clock.ts",
        "function now(): number {\n  return 5;\n}\n\nexport class Clock {\n  read(): number {\n    return now();\n  }\n}\n",
    ),
    (
        "java/App.java",
        "public class App {\n  static int port() { return 6; }\n\n  public static void main(String[] args) {\n    port();\n  }\n}\n",
    ),
];

/// A Python project: a package with helpers, classes calling them, an entry point, and two
/// functions of the same name.
pub const PY: &[(&str, &str)] = &[
    ("pkg/__init__.py", ""),
    (
        "pkg/util.py",
        "import json\n\n\ndef helper(x):\n    return json.dumps(x)\n\n\ndef twice(x):\n    return helper(helper(x))\n",
    ),
    (
        "pkg/models.py",
        "import os\nfrom pkg.util import helper, twice\n\n\nclass Base:\n    def save(self):\n        return helper(1)\n\n\nclass User(Base):\n    def greet(self):\n        self.save()\n        return twice(2)\n\n\ndef make_user():\n    return os.path.join(\"a\", \"b\")\n",
    ),
    (
        "pkg/jobs.py",
        "from pkg.models import make_user\n\n\ndef run():\n    return make_user()\n",
    ),
    (
        "main.py",
        "from pkg.util import twice\n\n\ndef run():\n    return twice(3)\n",
    ),
];

/// `worker-host graph --config <the indexer's> ARGS --json` in the indexer's folder.
pub fn graph(indexer: &Indexer, args: &[&str]) -> Output {
    Command::new(common::binary("worker-host"))
        .arg("graph")
        .arg("--config")
        .arg(indexer.host.config_path())
        .args(args)
        .arg("--json")
        .current_dir(indexer.host.dir.path())
        .output()
        .expect("run worker-host graph")
}
