//! What the indexing workflow and its activities exchange: plain JSON, so that any Temporal
//! client can start the workflow and read its result. Big data never travels here: the clone and
//! the parse output stay in the run's folder on the host that made them, and activities pass
//! their paths and counts.

use crate::graph::{DeleteReport, IndexRunRecord, RepositoryRecord, WriteReport};
use crate::parse::{LanguageStats, SkippedFile};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The input of `RepoIndexingWorkflow`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct IndexRequest {
    /// `https://…`, `ssh://…`, `git@host:path`, or (when `[indexing] allow_local_repos`) a local
    /// path or `file://` URL. Credentials never go here: they come from the host's environment.
    pub repo_url: String,
    /// Branch, tag or commit; default: the remote's default branch.
    #[serde(default, rename = "ref", skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
    /// The repository's id in the graph; default: derived from the URL
    /// (`github.com/owner/repo`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repo_id: Option<String>,
    /// Parse and write everything, even when the last run's facts could be reused. Default
    /// `false`: only what changed since the last indexed commit is parsed and written.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub full: bool,
    /// Tuning of the run's timeouts; defaults fit production.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeouts: Option<RunTimeouts>,
}

/// Timeouts of one run, in seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct RunTimeouts {
    /// An activity that has not heartbeated for this long is presumed dead and retried.
    /// Default 30.
    pub heartbeat_seconds: u64,
    /// How long work routed to the host holding the clone may wait for that host before the run
    /// starts over from the clone on another host. Default 300.
    pub host_seconds: u64,
}

impl Default for RunTimeouts {
    fn default() -> Self {
        Self {
            heartbeat_seconds: 30,
            host_seconds: 300,
        }
    }
}

/// Input of `clone_repo_activity`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CloneInput {
    /// The repository.
    pub repo_url: String,
    /// Branch, tag or commit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
    /// Names the run's folder on the host: unique per attempt of the run.
    pub run_key: String,
}

/// Result of `clone_repo_activity`: where the clone is and how to reach that host again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CloneResult {
    /// The checked-out commit.
    pub commit_sha: String,
    /// The remote's default branch, when it advertises one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_branch: Option<String>,
    /// The work tree on the host.
    pub path: String,
    /// The host that holds the clone.
    pub host_id: String,
    /// Where each later activity of the run goes: the host-local queue of this host that runs
    /// it.
    pub routes: BTreeMap<String, String>,
    /// Bytes fetched.
    pub bytes_received: u64,
    /// Whether only the last commit was fetched.
    pub shallow: bool,
}

/// Input of `parse_repo_activity`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ParseInput {
    /// The run's folder name (as given to the clone).
    pub run_key: String,
    /// The repository (its cached facts are looked up by id).
    pub repo_id: String,
    /// The indexed commit.
    pub commit: String,
    /// Parse every file even if cached facts could be reused.
    #[serde(default)]
    pub full: bool,
}

/// Result of `parse_repo_activity`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ParseResult {
    /// The parse output file (JSON lines) on the host.
    pub output_path: String,
    /// The commit whose cached facts were reused (an incremental run), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_commit: Option<String>,
    /// Files in the graph (parsed now or reused).
    pub files: u64,
    /// Files parsed by this run (the others' facts were reused).
    pub files_parsed: u64,
    /// Definitions found.
    pub definitions: u64,
    /// Call, import and inheritance edges.
    pub calls: u64,
    pub imports: u64,
    pub inherits: u64,
    /// Parsed files per language.
    pub languages: BTreeMap<String, LanguageStats>,
    /// Skipped files per reason.
    pub skipped: BTreeMap<String, u64>,
    /// The first skipped files with their reasons (at most [`SKIPPED_LISTED`]).
    pub skipped_files: Vec<SkippedFile>,
}

/// How many skipped files a result lists by name.
pub const SKIPPED_LISTED: usize = 100;

/// Input of `persist_metadata_activity`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MetadataInput {
    /// The repository, when the run got far enough to know it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repository: Option<RepositoryRecord>,
    /// The run.
    pub run: IndexRunRecord,
}

/// Input of `persist_kg_activity`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PersistInput {
    pub repo_id: String,
    pub run_id: String,
    /// The run's folder name: the parse output is read from it.
    pub run_key: String,
    /// Write only what changed since this commit's graph (cached on the host).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_commit: Option<String>,
}

/// Result of `persist_kg_activity`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PersistResult {
    /// What was written.
    pub written: WriteReport,
    /// An incremental write: the files whose rows changed; stale rows are only looked for
    /// there. `None`: everything was written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub affected_files: Option<Vec<String>>,
}

/// Input of `cleanup_stale_kg_nodes_activity`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CleanupStaleInput {
    pub repo_id: String,
    /// Nodes and relationships not written by this run are stale.
    pub run_id: String,
    /// Look only in these files (an incremental run); `None`: everywhere.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub files: Option<Vec<String>>,
    /// The run's folder: once the graph matches the run, its facts become the host's cache.
    pub run_key: String,
}

/// Input of `cleanup_repo_activity`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CleanupRepoInput {
    /// The run's folder name.
    pub run_key: String,
}

/// What a run is doing, for the `progress` query.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct IndexProgress {
    /// `starting`, `cloning`, `parsing`, `persisting_metadata`, `persisting_graph`,
    /// `cleaning_stale_nodes`, `cleaning_up`, `done` or `failed`.
    pub stage: String,
    /// Files parsed so far, of `files_total` (0 until known).
    pub files_parsed: u64,
    pub files_total: u64,
    /// Graph elements (nodes and relationships) written so far, of `elements_total`.
    pub elements_written: u64,
    pub elements_total: u64,
    /// How many times the run started from the clone (more than 1 after a host was lost).
    pub attempt: u32,
}

/// A progress report an activity sends to its workflow (signal `progress`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProgressUpdate {
    /// Which count: clone (objects), parse (files) or persist (graph elements).
    pub counter: ProgressCounter,
    pub done: u64,
    pub total: u64,
}

/// The counter a [`ProgressUpdate`] moves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProgressCounter {
    ObjectsReceived,
    FilesParsed,
    ElementsWritten,
}

/// The result of `RepoIndexingWorkflow`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct IndexSummary {
    pub repo_id: String,
    /// The run (the workflow run id).
    pub run_id: String,
    /// The indexed commit and the remote's default branch.
    pub commit: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_branch: Option<String>,
    /// The host that held the clone, and how many times the run started from the clone.
    pub host_id: String,
    pub attempts: u32,
    /// `full`, or `incremental` when only what changed since `base_commit` was parsed and
    /// written.
    pub mode: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_commit: Option<String>,
    /// Files in the graph, files parsed by this run, per language, and skipped files per
    /// reason (with the first few by name).
    pub files: u64,
    pub files_parsed: u64,
    pub languages: BTreeMap<String, LanguageStats>,
    pub skipped: BTreeMap<String, u64>,
    pub skipped_files: Vec<SkippedFile>,
    /// Nodes per label and relationships per type written by this run.
    pub written: WriteReport,
    /// Nodes and relationships of earlier runs deleted as stale.
    pub stale_deleted: DeleteReport,
    /// Milliseconds per stage (`clone`, `parse`, `persist_metadata`, `persist_graph`,
    /// `cleanup_stale`, `cleanup_repo`, `total`).
    pub durations_ms: BTreeMap<String, u64>,
}
