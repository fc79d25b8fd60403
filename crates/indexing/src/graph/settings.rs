//! The graph store's settings: which backend, where it is, and how large the writes are. The
//! host's config holds them as its `[indexing.graph]` section; every key has a default, so an empty
//! section (or none) means the embedded store in the host's data directory.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// Default Bolt URI of the Neo4j backend.
pub const DEFAULT_NEO4J_URI: &str = "bolt://127.0.0.1:7687";
/// Default Neo4j user.
pub const DEFAULT_NEO4J_USER: &str = "neo4j";
/// Default name of the environment variable that holds the Neo4j password.
pub const DEFAULT_PASSWORD_ENV: &str = "NEO4J_PASSWORD";
/// Default file of the embedded store, relative to the host's data directory.
pub const DEFAULT_EMBEDDED_FILE: &str = "graph.sqlite";

/// Where the code graph is stored.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum GraphBackend {
    /// SQLite in one file on the local disk; no server needed.
    #[default]
    Embedded,
    /// A Neo4j 5 server, over Bolt.
    Neo4j,
}

/// The `[indexing.graph]` section. No password here: it is read from the environment variable
/// named by `password_env` when the store opens.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct GraphSettings {
    /// `"embedded"` or `"neo4j"`. Default `"embedded"`.
    pub backend: GraphBackend,
    /// Bolt URI of the Neo4j server (`bolt://host:port`, `neo4j://…`, or `host:port`).
    /// Default `bolt://127.0.0.1:7687`. Neo4j only.
    pub uri: String,
    /// Neo4j user. Default `neo4j`. Neo4j only.
    pub user: String,
    /// Neo4j database. Default: the server's default database. Neo4j only.
    pub database: Option<String>,
    /// Name of the environment variable that holds the Neo4j password. Default `NEO4J_PASSWORD`.
    /// Neo4j only.
    pub password_env: String,
    /// SQLite file of the embedded store; a relative path is taken from the host's data
    /// directory. Default `<data_dir>/graph.sqlite`. Embedded only.
    pub path: Option<PathBuf>,
    /// Rows sent in one `UNWIND` statement (Neo4j) or written between two progress reports
    /// (embedded). Default 10000.
    pub batch_size: usize,
    /// Rows written in one Neo4j transaction at most, so that a large repository does not
    /// exhaust the server's heap; deletes commit every `batch_size` rows. Default 10000: each
    /// statement commits on its own, which measured faster than grouping statements (`MERGE`
    /// slows down as a transaction's uncommitted state grows).
    pub max_rows_per_transaction: usize,
    /// Files whose rows a full write builds and writes at a time: a repository with more files
    /// is written in parts (on Neo4j, every part's nodes before any relationship), so the
    /// rows held at once are one part's (and the next one's, built meanwhile). The embedded
    /// store takes at most 200, or an eighth of the repository when that is more. Default 2000.
    pub files_per_part: usize,
}

impl Default for GraphSettings {
    fn default() -> Self {
        Self {
            backend: GraphBackend::Embedded,
            uri: DEFAULT_NEO4J_URI.to_owned(),
            user: DEFAULT_NEO4J_USER.to_owned(),
            database: None,
            password_env: DEFAULT_PASSWORD_ENV.to_owned(),
            path: None,
            batch_size: 10_000,
            max_rows_per_transaction: 10_000,
            files_per_part: 2_000,
        }
    }
}

impl GraphSettings {
    /// The SQLite file of the embedded backend, resolved against `data_dir`.
    pub fn embedded_path(&self, data_dir: &std::path::Path) -> PathBuf {
        match &self.path {
            Some(path) => data_dir.join(path),
            None => data_dir.join(DEFAULT_EMBEDDED_FILE),
        }
    }

    /// `batch_size`, at least 1.
    pub fn batch_rows(&self) -> usize {
        self.batch_size.max(1)
    }

    /// `max_rows_per_transaction`, at least one batch.
    pub fn transaction_rows(&self) -> usize {
        self.max_rows_per_transaction.max(self.batch_rows())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_section_is_the_embedded_default() {
        let settings: GraphSettings = toml::from_str("").expect("empty section");
        assert_eq!(settings, GraphSettings::default());
        assert_eq!(
            settings.embedded_path("/data".as_ref()),
            PathBuf::from("/data/graph.sqlite")
        );
    }

    #[test]
    fn unknown_keys_are_refused() {
        let err = toml::from_str::<GraphSettings>("pasword = \"x\"").expect_err("unknown key");
        assert!(err.to_string().contains("pasword"), "{err}");
    }

    #[test]
    fn neo4j_settings_parse() {
        let settings: GraphSettings = toml::from_str(
            "backend = \"neo4j\"\nuri = \"bolt://db:7687\"\ndatabase = \"code\"\nbatch_size = 500",
        )
        .expect("neo4j section");
        assert_eq!(settings.backend, GraphBackend::Neo4j);
        assert_eq!(settings.database.as_deref(), Some("code"));
        assert_eq!(settings.batch_rows(), 500);
        assert_eq!(settings.transaction_rows(), 10_000);
    }
}
