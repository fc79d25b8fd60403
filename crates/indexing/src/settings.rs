//! The `[indexing]` section of `workers.toml`: where runs keep their files, what a clone and a
//! parse may do, and the graph store. Activities read it when they start, so an edit applies to
//! the next activity without a restart.

use crate::graph::GraphSettings;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use worker_host_core::config::Section;

/// The `[indexing]` section.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(default)]
pub struct IndexingSettings {
    /// Folder of the runs' clones and parse outputs. Default `<data_dir>/runs`.
    pub workspace: Option<PathBuf>,
    /// Accept local paths and `file://` URLs as repositories (the worker's own files).
    /// Default `false`.
    pub allow_local_repos: bool,
    /// Accept plain `http://` URLs. Default `false`.
    pub allow_http: bool,
    /// Bytes a clone may fetch. Default 1 GiB.
    pub max_repo_bytes: u64,
    /// Files larger than this are skipped, not parsed. Default 1 MiB.
    pub max_file_bytes: u64,
    /// Parsing threads; 0 uses every core. Default 0.
    pub parse_threads: usize,
    /// Where the graph goes.
    pub graph: GraphSettings,
}

impl Default for IndexingSettings {
    fn default() -> Self {
        Self {
            workspace: None,
            allow_local_repos: false,
            allow_http: false,
            max_repo_bytes: 1 << 30,
            max_file_bytes: 1 << 20,
            parse_threads: 0,
            graph: GraphSettings::default(),
        }
    }
}

impl IndexingSettings {
    /// The workspace after the default.
    pub fn workspace(&self, data_dir: &Path) -> PathBuf {
        self.workspace
            .clone()
            .unwrap_or_else(|| data_dir.join("runs"))
    }
}

impl Section for IndexingSettings {
    const NAME: &'static str = "indexing";
}
