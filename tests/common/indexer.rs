//! A host running the indexing entries on queues of its own, ways to follow a run (its
//! `progress` query) and to read what it wrote.

use super::{Host, git, temporal_address, unique, wait_until};
use serde_json::Value as Json;
use std::{
    path::{Path, PathBuf},
    process::{Command, Output},
    time::Duration,
};
use worker_host::graph::{GraphBackend, GraphDump, GraphSettings, GraphStore};

/// Which graph store a test host writes to.
#[derive(Clone, Copy, Debug)]
pub enum Store {
    Embedded,
    Neo4j,
}

impl Store {
    pub fn settings(self) -> GraphSettings {
        match self {
            Store::Embedded => GraphSettings::default(),
            Store::Neo4j => GraphSettings {
                backend: GraphBackend::Neo4j,
                uri: neo4j_uri(),
                ..GraphSettings::default()
            },
        }
    }

    fn toml(self) -> String {
        match self {
            Store::Embedded => "backend = \"embedded\"\n".into(),
            Store::Neo4j => format!("backend = \"neo4j\"\nuri = \"{}\"\n", neo4j_uri()),
        }
    }
}

fn neo4j_uri() -> String {
    std::env::var("TEST_NEO4J_URI").unwrap_or_else(|_| {
        panic!(
            "TEST_NEO4J_URI is not set: run the tests through scripts/test.sh, which starts Neo4j"
        )
    })
}

/// A host running the indexing entries on queues of its own.
pub struct Indexer {
    pub host: Host,
    pub queue: String,
    pub store: Store,
    /// The Temporal server it works for.
    pub address: String,
}

impl Indexer {
    pub fn start(store: Store) -> Self {
        Self::start_in(store, tempfile::tempdir().expect("tempdir"))
    }

    pub fn start_in(store: Store, dir: tempfile::TempDir) -> Self {
        let queue = unique("index");
        let config = config(&queue, store);
        Self::start_with(dir, &queue, &config, store, &temporal_address())
    }

    /// A host in `dir` running `config` (the indexing entries on `queue`) for the Temporal
    /// server at `address`; the tests read the graph from `store`.
    pub fn start_with(
        dir: tempfile::TempDir,
        queue: &str,
        config: &str,
        store: Store,
        address: &str,
    ) -> Self {
        std::fs::write(dir.path().join("workers.toml"), config).expect("write config");
        let host = Host::start_at("worker-host", dir, address, &[]);
        Self {
            host,
            queue: queue.to_owned(),
            store,
            address: address.to_owned(),
        }
    }

    pub fn data_dir(&self) -> PathBuf {
        self.host.dir.path().join(".worker-host")
    }

    /// `worker-host index <repo> --json` with extra arguments.
    pub fn index(&self, repo: &str, args: &[&str]) -> Output {
        self.index_command(repo, args)
            .output()
            .expect("run worker-host index")
    }

    /// The command of [`Indexer::index`], not started.
    pub fn index_command(&self, repo: &str, args: &[&str]) -> Command {
        let mut command = Command::new(super::binary("worker-host"));
        command
            .args(["index", repo, "--json", "--queue", &self.queue, "--config"])
            .arg(self.host.config_path())
            .args(args)
            .env("TEMPORAL_ADDRESS", &self.address);
        command
    }

    /// Index `repo` as `repo_id`; the summary.
    pub fn index_ok(&self, repo: &Path, repo_id: &str) -> Json {
        let out = self.index(path_str(repo), &["--repo-id", repo_id]);
        assert!(
            out.status.success(),
            "index failed: {}\nhost log:\n{}",
            String::from_utf8_lossy(&out.stderr),
            self.host.log()
        );
        serde_json::from_slice(&out.stdout).expect("summary JSON")
    }

    pub async fn open_store(&self) -> GraphStore {
        GraphStore::open(&self.store.settings(), &self.data_dir())
            .await
            .expect("open the graph store")
    }

    pub async fn dump(&self, repo_id: &str) -> GraphDump {
        self.open_store().await.dump(repo_id).await.expect("dump")
    }

    /// Folders left in the workspace (clones and parse outputs of runs).
    pub fn workspace_entries(&self) -> usize {
        std::fs::read_dir(self.data_dir().join("runs")).map_or(0, |d| d.count())
    }
}

pub fn config(queue: &str, store: Store) -> String {
    format!(
        "{header}\n[indexing]\nallow_local_repos = true\n\n[indexing.graph]\n{graph}\n\
         [[workers]]\nname = \"indexing\"\ntask_queue = \"{queue}\"\n\
         workflows = [\"RepoIndexingWorkflow\"]\n\
         activities = [\"clone_repo_activity\", \"persist_metadata_activity\", \"cleanup_repo_activity\"]\n\n\
         [[workers]]\nname = \"indexing-local\"\ntask_queue = \"{queue}\"\nhost_local = true\n\
         activities = [\"persist_metadata_activity\", \"persist_kg_activity\", \"cleanup_stale_kg_nodes_activity\", \"cleanup_repo_activity\"]\n\n\
         [[workers]]\nname = \"parsing\"\ntask_queue = \"{queue}-parse\"\nhost_local = true\n\
         activities = [\"parse_repo_activity\"]\nmax_concurrent_activities = 1\n",
        header = super::config_header("10s"),
        graph = store.toml(),
    )
}

/// `config` with the parse on one thread: slow enough that a test can act meanwhile.
pub fn slow(config: &str) -> String {
    config.replace(
        "allow_local_repos = true\n",
        "allow_local_repos = true\nparse_threads = 1\n",
    )
}

/// `config` (of the Neo4j store) committing its graph writes every `rows` rows: many small
/// transactions, so that a test can act between them.
pub fn small_transactions(config: &str, rows: usize) -> String {
    config.replace(
        "backend = \"neo4j\"\n",
        &format!("backend = \"neo4j\"\nbatch_size = {rows}\nmax_rows_per_transaction = {rows}\n"),
    )
}

/// `config` writing a full index's graph `files` files at a time (`files_per_part`).
pub fn in_parts(config: &str, files: usize) -> String {
    let mut config = config.to_owned();
    for backend in ["backend = \"neo4j\"\n", "backend = \"embedded\"\n"] {
        config = config.replace(backend, &format!("{backend}files_per_part = {files}\n"));
    }
    assert!(
        config.contains("files_per_part"),
        "no [indexing.graph] backend in {config}"
    );
    config
}

/// `config` (of the embedded store) writing to the graph store of `graph_toml` instead.
pub fn on_graph(config: &str, graph_toml: &str) -> String {
    config.replace("backend = \"embedded\"\n", graph_toml)
}

/// 3,001 Python files: slow enough to parse on one thread that a test can act meanwhile.
pub fn big_repo() -> tempfile::TempDir {
    repo_of(3000)
}

/// `modules` small Python modules plus `app/models.py`.
pub fn repo_of(modules: usize) -> tempfile::TempDir {
    let mut files: Vec<(String, String)> = (0..modules)
        .map(|i| {
            (
                format!("pkg/m{i}.py"),
                format!("import os\n\nclass C{i}:\n    def f(self):\n        return g{i}()\n\n\ndef g{i}():\n    return os.getcwd()\n"),
            )
        })
        .collect();
    files.push((
        "app/models.py".into(),
        "class Base:\n    def save(self):\n        return helper()\n\n\ndef helper():\n    return 1\n".into(),
    ));
    let borrowed: Vec<(&str, &str)> = files
        .iter()
        .map(|(a, b)| (a.as_str(), b.as_str()))
        .collect();
    git::repo(&borrowed)
}

/// The `progress` query of workflow `id` on the server at `address` (an `IndexProgress`), or
/// why there is none yet.
pub fn progress(address: &str, id: &str) -> Result<Json, String> {
    let out = Command::new("temporal")
        .args([
            "workflow",
            "query",
            "--workflow-id",
            id,
            "--name",
            "progress",
        ])
        .args(["-o", "json", "--address", address])
        .output()
        .map_err(|e| e.to_string())?;
    let text = String::from_utf8_lossy(&out.stdout);
    let answer: Json = serde_json::from_str(&text)
        .map_err(|e| format!("{e}: {text}{}", String::from_utf8_lossy(&out.stderr)))?;
    // `{"queryResult": [<the query's answer>]}`
    answer["queryResult"]
        .get(0)
        .cloned()
        .ok_or_else(|| format!("no query result in {text}"))
}

/// Wait until the `progress` of workflow `id` (server at `address`) satisfies `done`; returns
/// that progress.
pub fn wait_for_progress(
    address: &str,
    id: &str,
    what: &str,
    limit: Duration,
    done: impl Fn(&Json) -> bool,
) -> Json {
    wait_until(what, limit, || {
        let p = progress(address, id)?;
        if done(&p) { Ok(p) } else { Err(p.to_string()) }
    })
}

/// Wait until workflow `id` on the test server reports `stage`.
pub fn wait_for_stage(id: &str, stage: &str) {
    wait_for_progress(
        &temporal_address(),
        id,
        &format!("stage {stage}"),
        Duration::from_secs(60),
        |p| p["stage"] == stage,
    );
}

/// Wait until `temporal workflow describe` of workflow `id` mentions `needle` (e.g. the failure
/// type of a pending activity's last attempt).
pub fn wait_for_describe(address: &str, id: &str, needle: &str) {
    wait_until(
        &format!("{needle} in the description of {id}"),
        Duration::from_secs(90),
        || {
            let out = Command::new("temporal")
                .args(["workflow", "describe", "--workflow-id", id, "-o", "json"])
                .args(["--address", address])
                .output()
                .map_err(|e| e.to_string())?;
            let text = String::from_utf8_lossy(&out.stdout);
            if text.contains(needle) {
                Ok(())
            } else {
                Err(text.into_owned())
            }
        },
    );
}

/// Starts `RepoIndexingWorkflow` on `queue` for `repo` as a new repository id made from
/// `prefix`, with `(heartbeat_seconds, host_seconds)` as its timeouts; the repository id and
/// the workflow id.
pub async fn start_indexing(
    client: &temporalio_client::Client,
    queue: &str,
    repo: &Path,
    prefix: &str,
    (heartbeat, host): (u64, u64),
) -> (String, String) {
    let repo_id = unique(prefix);
    let workflow_id = worker_host::indexing::workflow_id_of(&repo_id);
    let input = serde_json::json!({
        "repo_url": path_str(repo),
        "repo_id": repo_id,
        "timeouts": { "heartbeat_seconds": heartbeat, "host_seconds": host },
    });
    super::start(client, "RepoIndexingWorkflow", queue, &workflow_id, input).await;
    (repo_id, workflow_id)
}

pub fn path_str(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

pub fn has_node(dump: &GraphDump, label: &str, key: &str) -> bool {
    dump.nodes.iter().any(|n| n.label == label && n.key == key)
}

pub fn has_rel(dump: &GraphDump, rel: &str, src: &str, dst: &str) -> bool {
    dump.relationships
        .iter()
        .any(|r| r.rel_type == rel && r.src_key == src && r.dst_key == dst)
}
