//! What `RepoIndexingWorkflow`, its activities and its clients exchange besides the input
//! ([`crate::request`]): plain JSON of the workflow's own types, so that any Temporal client
//! can read the result and the progress, and so that neither the graph store's nor the
//! parser's structs end up in workflow history (the activities convert at their boundary,
//! [`crate::boundary`]). Big data never travels here: the fetched commit stays in the host's
//! mirror and the parse output in the run's folder on the host that made them, and activities
//! pass their paths and counts.
//!
//! Versions: the result and the progress carry `version` ([`VERSION`]). New fields keep the
//! version; removing a field or changing its meaning bumps it.

use crate::stage::Stage;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The version of the result and progress shapes this build writes.
pub const VERSION: u32 = 1;
/// Name of the signal the activities send progress with.
pub const PROGRESS_SIGNAL: &str = "progress_update";
/// Name of the query that answers [`IndexProgress`].
pub const PROGRESS_QUERY: &str = "progress";
/// How many skipped files a result lists by name.
pub const SKIPPED_LISTED: usize = 100;

/// What was checked out, and where.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkout {
    /// The checked-out commit.
    pub commit: String,
    /// The remote's default branch, when it advertises one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_branch: Option<String>,
    /// The host that holds the clone.
    pub host_id: String,
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
    #[serde(flatten)]
    pub checkout: Checkout,
    /// The host's mirror (a bare repository) that holds the commit; nothing is checked out.
    pub path: String,
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

/// Files, lines and bytes of one language.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LanguageTotals {
    pub files: u64,
    pub lines: u64,
    pub bytes: u64,
}

/// A file that was not parsed, and why (`binary`, `oversized`, `invalid_utf8`, ...).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SkippedEntry {
    pub path: String,
    pub reason: String,
}

/// What a parse found.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ParseTotals {
    /// Files in the graph (parsed now or reused), and parsed by this run.
    pub files: u64,
    pub files_parsed: u64,
    /// Parsed files per language.
    pub languages: BTreeMap<String, LanguageTotals>,
    /// Skipped files per reason.
    pub skipped: BTreeMap<String, u64>,
    /// The first skipped files with their reasons (at most [`SKIPPED_LISTED`]).
    pub skipped_files: Vec<SkippedEntry>,
}

/// Result of `parse_repo_activity`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ParseResult {
    /// The parse output file (JSON lines) on the host; for an incremental run, the file of the
    /// rows that changed.
    pub output_path: String,
    /// The commit whose cached facts were reused (an incremental run), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_commit: Option<String>,
    #[serde(flatten)]
    pub totals: ParseTotals,
    /// Definitions found.
    pub definitions: u64,
    /// Call, import and inheritance edges.
    pub calls: u64,
    pub imports: u64,
    pub inherits: u64,
}

/// The repository as a run records it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RepositoryState {
    pub repo_id: String,
    /// The URL without userinfo.
    pub url: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_branch: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub head_commit: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_indexed_commit: Option<String>,
    pub languages: BTreeMap<String, LanguageTotals>,
    /// Milliseconds since the Unix epoch.
    pub updated_at_ms: u64,
}

/// How a run ended, or that it has not.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RunOutcome {
    #[default]
    Running,
    Succeeded,
    Failed,
}

/// A run as it records itself.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunState {
    pub repo_id: String,
    pub run_id: String,
    /// The commit indexed; none when the run failed before it was known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commit: Option<String>,
    pub started_at_ms: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ended_at_ms: Option<u64>,
    pub outcome: RunOutcome,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Counts by name (files, nodes, relationships, ...).
    pub counts: BTreeMap<String, u64>,
    /// Duration of each stage, by [`Stage::key`].
    pub durations_ms: BTreeMap<String, u64>,
}

/// Input of `persist_metadata_activity`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MetadataInput {
    /// The repository, when the run got far enough to know it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repository: Option<RepositoryState>,
    /// The run.
    pub run: RunState,
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

/// Graph elements written: nodes per label, relationships per type.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Written {
    pub nodes: u64,
    pub relationships: u64,
    /// Statements (Neo4j) or progress steps (embedded) used.
    pub batches: u64,
    pub nodes_per_label: BTreeMap<String, u64>,
    pub relationships_per_type: BTreeMap<String, u64>,
}

/// Graph elements deleted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Deleted {
    pub nodes: u64,
    pub relationships: u64,
}

/// Result of `persist_kg_activity`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PersistResult {
    /// What was written.
    pub written: Written,
    /// An incremental write: the files whose rows changed; stale rows are only looked for
    /// there. `None`: everything was written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub affected_files: Option<Vec<String>>,
    /// The repository had no code node before this write: there is nothing stale to clean.
    #[serde(default)]
    pub nothing_stale: bool,
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
    /// The write went into an empty repository (its first index): skip the search.
    #[serde(default)]
    pub nothing_stale: bool,
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IndexProgress {
    /// [`VERSION`].
    pub version: u32,
    pub stage: Stage,
    /// Why the run is [`Stage::Restarting`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Files parsed so far, of `files_total` (0 until known).
    pub files_parsed: u64,
    pub files_total: u64,
    /// Graph elements (nodes and relationships) written so far, of `elements_total`.
    pub elements_written: u64,
    pub elements_total: u64,
    /// How many times the run started from the clone (more than 1 after a host was lost).
    pub attempt: u32,
}

impl Default for IndexProgress {
    fn default() -> Self {
        Self {
            version: VERSION,
            stage: Stage::Starting,
            reason: None,
            files_parsed: 0,
            files_total: 0,
            elements_written: 0,
            elements_total: 0,
            attempt: 0,
        }
    }
}

/// A progress report an activity sends to its workflow (signal [`PROGRESS_SIGNAL`]).
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

/// Whether a run parsed and wrote everything, or only what changed since its base commit.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    #[default]
    Full,
    Incremental,
}

/// The result of `RepoIndexingWorkflow`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct IndexSummary {
    /// [`VERSION`].
    pub version: u32,
    pub repo_id: String,
    /// The run (the workflow run id).
    pub run_id: String,
    /// The indexed commit, the remote's default branch, the host that held the clone.
    #[serde(flatten)]
    pub checkout: Checkout,
    /// How many times the run started from the clone.
    pub attempts: u32,
    /// `incremental` when only what changed since `base_commit` was parsed and written.
    pub mode: Mode,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_commit: Option<String>,
    /// Files in the graph, files parsed by this run, per language, and skipped files per
    /// reason (with the first few by name).
    #[serde(flatten)]
    pub parsed: ParseTotals,
    /// Nodes per label and relationships per type written by this run.
    pub written: Written,
    /// Nodes and relationships of earlier runs deleted as stale.
    pub stale_deleted: Deleted,
    /// Milliseconds per stage ([`Stage::key`]) and `total`.
    pub durations_ms: BTreeMap<String, u64>,
}
