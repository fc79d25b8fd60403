//! A Neo4j of a test's own, started, stopped and killed with `scripts/neo4j.sh` on a free port
//! and a data folder that survives a restart.

use super::indexer::path_str;
use std::process::Command;

/// A Neo4j of this test's own.
pub struct PrivateNeo4j {
    port: u16,
    data: tempfile::TempDir,
}

impl PrivateNeo4j {
    pub fn start() -> Self {
        let server = Self {
            port: super::free_port(),
            data: tempfile::tempdir().expect("tempdir"),
        };
        server.up();
        server
    }

    /// The Bolt listener's address.
    pub fn address(&self) -> std::net::SocketAddr {
        std::net::SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    pub fn uri(&self) -> String {
        format!("bolt://127.0.0.1:{}", self.port)
    }

    /// `backend` and `uri` lines of an `[indexing.graph]` table writing to this server.
    pub fn graph_toml(&self) -> String {
        format!("backend = \"neo4j\"\nuri = \"{}\"\n", self.uri())
    }

    fn script(&self, args: &[&str]) {
        let out = Command::new(concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/neo4j.sh"))
            .args(args)
            .args(["--port", &self.port.to_string()])
            .output()
            .expect("run scripts/neo4j.sh");
        assert!(
            out.status.success(),
            "neo4j.sh {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Start it (again) on its data folder.
    pub fn up(&self) {
        self.script(&["start", "--data", path_str(self.data.path())]);
    }

    /// Stop it cleanly.
    pub fn down(&self) {
        self.script(&["stop"]);
    }

    /// SIGKILL it: open transactions are cut off, and recovery runs at the next start.
    pub fn kill(&self) {
        self.script(&["kill"]);
    }
}

impl Drop for PrivateNeo4j {
    fn drop(&mut self) {
        let _ = Command::new(concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/neo4j.sh"))
            .args(["stop", "--port", &self.port.to_string()])
            .output();
    }
}
