//! A host running the indexing entries on queues of its own, and ways to read what it wrote.

use super::{Host, temporal_address, unique};
use serde_json::Value as Json;
use std::{
    path::{Path, PathBuf},
    process::{Command, Output},
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
}

impl Indexer {
    pub fn start(store: Store) -> Self {
        Self::start_in(store, tempfile::tempdir().expect("tempdir"))
    }

    pub fn start_in(store: Store, dir: tempfile::TempDir) -> Self {
        let queue = unique("index");
        let config = config(&queue, store);
        std::fs::write(dir.path().join("workers.toml"), config).expect("write config");
        let host = Host::start_in("worker-host", dir);
        Self { host, queue, store }
    }

    pub fn data_dir(&self) -> PathBuf {
        self.host.dir.path().join(".worker-host")
    }

    /// `worker-host index <repo> --json` with extra arguments.
    pub fn index(&self, repo: &str, args: &[&str]) -> Output {
        Command::new(super::binary("worker-host"))
            .args(["index", repo, "--json", "--queue", &self.queue, "--config"])
            .arg(self.host.config_path())
            .args(args)
            .env("TEMPORAL_ADDRESS", temporal_address())
            .output()
            .expect("run worker-host index")
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
