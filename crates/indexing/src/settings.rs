//! The `[indexing]` section of `workers.toml`: where runs keep their files, what a clone and a
//! parse may do, and the graph store. Activities read it when they start, so an edit applies to
//! the next activity without a restart.

use crate::clone::{CloneLimits, CredentialHosts};
use crate::graph::GraphSettings;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::time::Duration;
use worker_host_core::config::{KeyPath, Section};

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
    /// Bytes a clone may fetch, and bytes the files of its work tree may hold (checked before
    /// the checkout writes anything). Default 1 GiB.
    pub max_repo_bytes: u64,
    /// Entries (files, folders, links) a clone's work tree may hold. Default 1,000,000.
    pub max_tree_entries: u64,
    /// Levels of a clone's deepest path. Default 64.
    pub max_path_depth: u32,
    /// Hosts (`host` or `host:port`) that may receive the git token, ssh key or ssh agent.
    /// Default empty: credentials go to no host.
    pub credential_hosts: Vec<String>,
    /// How long connecting to a git server may take. Default 30 s.
    #[serde(with = "humantime_serde")]
    #[schemars(with = "String")]
    pub clone_connect_timeout: Duration,
    /// How long a connected git server may stay silent. Default 60 s.
    #[serde(with = "humantime_serde")]
    #[schemars(with = "String")]
    pub clone_read_timeout: Duration,
    /// A clone receiving fewer bytes per second than this over `min_transfer_window` fails
    /// (and is retried); 0 turns the floor off. Default 1024.
    pub min_transfer_bytes_per_second: u64,
    /// The window of that floor. Default 60 s.
    #[serde(with = "humantime_serde")]
    #[schemars(with = "String")]
    pub min_transfer_window: Duration,
    /// Run folders untouched for longer than this are removed (their run is gone); keep it well
    /// beyond any run's timeouts. Default 24 h.
    #[serde(with = "humantime_serde")]
    #[schemars(with = "String")]
    pub sweep_after: Duration,
    /// Bytes the index cache (`<data_dir>/index-cache`) may hold; the repositories cached
    /// longest ago go first. Default 4 GiB.
    pub max_index_cache_bytes: u64,
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
            max_tree_entries: 1_000_000,
            max_path_depth: 64,
            credential_hosts: Vec::new(),
            clone_connect_timeout: Duration::from_secs(30),
            clone_read_timeout: Duration::from_secs(60),
            min_transfer_bytes_per_second: 1024,
            min_transfer_window: Duration::from_secs(60),
            sweep_after: Duration::from_secs(24 * 3600),
            max_index_cache_bytes: 4 << 30,
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

impl IndexingSettings {
    /// What a clone may do under these settings. Local objects are borrowed, not copied.
    pub fn clone_limits(&self) -> CloneLimits {
        CloneLimits {
            max_bytes: self.max_repo_bytes,
            max_tree_entries: self.max_tree_entries,
            max_path_depth: self.max_path_depth,
            connect_timeout: self.clone_connect_timeout,
            read_timeout: self.clone_read_timeout,
            min_transfer_bytes_per_second: self.min_transfer_bytes_per_second,
            min_transfer_window: self.min_transfer_window,
            // Validation refused bad entries; should one slip through, no host is trusted.
            credential_hosts: CredentialHosts::parse(&self.credential_hosts).unwrap_or_default(),
            allow_local: self.allow_local_repos,
            allow_http: self.allow_http,
            borrow_local_objects: true,
        }
    }
}

impl Section for IndexingSettings {
    const NAME: &'static str = "indexing";

    fn validate(&self) -> Vec<(KeyPath, String)> {
        let key = |k: &str| KeyPath::default().key(k);
        let mut problems = Vec::new();
        if let Err(e) = CredentialHosts::parse(&self.credential_hosts) {
            problems.push((key("credential_hosts"), e));
        }
        for (name, value) in [
            ("clone_connect_timeout", self.clone_connect_timeout),
            ("clone_read_timeout", self.clone_read_timeout),
            ("min_transfer_window", self.min_transfer_window),
            ("sweep_after", self.sweep_after),
        ] {
            if value < Duration::from_secs(1) {
                problems.push((key(name), "must be at least 1s".to_owned()));
            }
        }
        problems
    }
}
