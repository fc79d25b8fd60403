//! The code knowledge graph store: what [`crate::parse`] found, written to Neo4j or to an
//! embedded SQLite file behind one type, [`GraphStore`]. Activities call it; nothing here
//! talks to Temporal. Both backends pass one contract suite (`tests/graph_store.rs`).
//!
//! # Model (also in `docs/graph.md`)
//!
//! Every node has `repo_id`, `key` (unique per repository and label), `run_id` (the index run
//! that last wrote it) and, when it belongs to a file, `file` (repo-relative path). Labels and
//! keys: `Repository` (the repo_id), `IndexRun` (the run id), `File` (the path), `Class`,
//! `Struct`, `Enum`, `Trait`, `Interface`, `Function`, `Method` (the qualified name),
//! `Directory` (a directory path an internal reference resolved to, e.g. a Go package),
//! `External` (a name not found in the repository).
//!
//! Every relationship has `repo_id`, `run_id` and `file` (the file its fact came from, which is
//! the file of one of its ends — a cleanup of some files finds their relationships from their
//! nodes):
//! - `(Repository)-[:CONTAINS]->(File)`, `(Repository)-[:HAS_RUN]->(IndexRun)`;
//! - `(File)-[:DEFINES]->(definition)` for top-level definitions;
//! - `(type)-[:HAS_METHOD]->(Method)` when the method's owner (or enclosing definition) is a
//!   type of the repository;
//! - `(definition)-[:CONTAINS]->(definition)` for anything else nested: a class in a class, a
//!   function in a function or method. A definition hangs under its `owner` when the repository
//!   defines it, else under the nearest enclosing definition of its qualified name, else under
//!   its file (`DEFINES`).
//! - `(definition or File)-[:CALLS {lines}]->(target)`, one per caller and target;
//! - `(File)-[:IMPORTS {module, names, lines}]->(target)`, one per file and target (`module`
//!   is that of the earliest line);
//! - `(type)-[:EXTENDS {parent}]->(target)` and `[:IMPLEMENTS {parent}]`, `parent` as written.
//!
//! A target `Internal(x)` is the definition with qualified name `x`, else the File `x`, else
//! the Directory `x`; `External(x)` is the External node `x`. Calls whose caller and bases
//! whose child the parse does not define are left out.
//!
//! Reads for people and agents (`worker-host graph`, `worker-host mcp`) are in `query.rs`:
//! both backends implement its `GraphReader`, and the questions are answered once on top.

pub mod command;
mod dump;
mod embedded;
mod error;
pub mod mcp;
mod neo4j;
mod parts;
mod query;
mod records;
mod rows;
mod settings;
mod value;

use std::{path::Path, sync::Arc};

pub use dump::{DumpNode, DumpRelationship, GraphDump};
pub use error::GraphError;
pub use parts::Parts;
pub use query::{
    CallAnswer, CallQuery, CallRow, Direction, FileAnswer, FindAnswer, ImportRow, QueryError,
    RepoStats, RepoSummary, RunSummary, Symbol,
};
pub use records::{
    DeleteReport, GraphCounts, IndexRunRecord, LanguageCount, Progress, RepositoryRecord, RunKey,
    RunStatus, WriteReport,
};
pub use rows::{GraphRows, Label, NodeRef, NodeRow, REPOSITORY_KEY, RelRow, RelType, RowLookups};
pub use settings::{GraphBackend, GraphSettings};
pub use value::{Props, Value};

use embedded::EmbeddedStore;
use neo4j::Neo4jStore;
use query::GraphReader;
use records::GraphWrite;

/// Which stale nodes and relationships a cleanup removes.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum CleanupScope {
    /// Everything of the repository not written by the current run, except the `Repository`
    /// and `IndexRun` nodes and `HAS_RUN`.
    All,
    /// Only nodes and relationships whose `file` is one of these paths (and not written by the
    /// current run): for an incremental run that re-wrote some files.
    Files(Vec<String>),
}

/// The graph store: one of the two backends, chosen by [`GraphSettings::backend`].
pub struct GraphStore {
    backend: Backend,
}

enum Backend {
    Embedded(EmbeddedStore),
    Neo4j(Neo4jStore),
}

/// Runs `$call` with `$store` bound to whichever backend is open.
macro_rules! dispatch {
    ($self:ident, $store:ident => $call:expr) => {
        match &$self.backend {
            Backend::Embedded($store) => $call,
            Backend::Neo4j($store) => $call,
        }
    };
}

impl GraphStore {
    /// Opens the store of `settings` (the embedded file relative to `data_dir`), connects and
    /// creates the schema if missing.
    pub async fn open(settings: &GraphSettings, data_dir: &Path) -> Result<Self, GraphError> {
        let backend = match settings.backend {
            GraphBackend::Embedded => Backend::Embedded(
                EmbeddedStore::open(&settings.embedded_path(data_dir), settings.batch_rows())
                    .await?,
            ),
            GraphBackend::Neo4j => Backend::Neo4j(Neo4jStore::open(settings).await?),
        };
        Ok(Self { backend })
    }

    /// `"embedded"` or `"neo4j"`.
    pub fn backend_name(&self) -> &'static str {
        match self.backend {
            Backend::Embedded(_) => "embedded",
            Backend::Neo4j(_) => "neo4j",
        }
    }

    /// Upserts the repository (when given) and the run, linked by `HAS_RUN`. `repo` is none
    /// for a run that failed before the repository was known; the run is still recorded.
    pub async fn persist_metadata(
        &self,
        repo: Option<&RepositoryRecord>,
        run: &IndexRunRecord,
    ) -> Result<(), GraphError> {
        dispatch!(self, store => store.persist_metadata(repo, run).await)
    }

    /// Writes `rows` as the graph of `repo_id`, stamped with `run_id`: nodes first, then
    /// relationships, in batches; `progress(written, total)` after each batch (Neo4j commits
    /// each batch; the embedded store commits the whole write at once).
    /// Idempotent: writing the same rows again leaves the same graph. The rows are shared, not
    /// copied, with the blocking threads that write them.
    pub async fn persist_graph(
        &self,
        run: RunKey<'_>,
        rows: &Arc<GraphRows>,
        progress: &Progress<'_>,
    ) -> Result<WriteReport, GraphError> {
        let into_empty = self.begin_graph_write(run).await?;
        self.write_graph_part(run, rows, into_empty, progress).await
    }

    /// Starts writing a run's graph in parts ([`Parts`]): stamps the repository node with the
    /// run and tells whether the repository has no code node yet (`into_empty`: its first
    /// index, written without looking for existing rows; nothing of it can be stale after).
    pub async fn begin_graph_write(&self, run: RunKey<'_>) -> Result<bool, GraphError> {
        dispatch!(self, store => store.begin_graph_write(run).await)
    }

    /// Writes one part's rows after [`Self::begin_graph_write`], like [`Self::persist_graph`].
    /// A relationship is written only when both its ends exist: with more than one part, write
    /// every part's nodes before any part's relationships (see [`Self::needs_nodes_first`]).
    pub async fn write_graph_part(
        &self,
        run: RunKey<'_>,
        rows: &Arc<GraphRows>,
        into_empty: bool,
        progress: &Progress<'_>,
    ) -> Result<WriteReport, GraphError> {
        let total = rows.node_count() + rows.relationship_count();
        progress(0, total);
        let written = |done| progress(done, total);
        let write = GraphWrite {
            run,
            rows,
            written: &written,
            into_empty,
        };
        dispatch!(self, store => store.persist_graph(write).await)
    }

    /// Whether a relationship needs its ends written first (Neo4j matches them; the embedded
    /// store keys relationships by their ends' labels and keys).
    pub fn needs_nodes_first(&self) -> bool {
        matches!(self.backend, Backend::Neo4j(_))
    }

    /// Deletes what earlier runs wrote and `run_id` did not (see [`CleanupScope`]), then the
    /// Directory and External nodes nothing points at any more. Never touches another
    /// repository.
    pub async fn cleanup_stale(
        &self,
        run: RunKey<'_>,
        scope: &CleanupScope,
    ) -> Result<DeleteReport, GraphError> {
        dispatch!(self, store => store.cleanup_stale(run, scope).await)
    }

    /// The repository's metadata, if [`Self::persist_metadata`] wrote it.
    pub async fn repository(&self, repo_id: &str) -> Result<Option<RepositoryRecord>, GraphError> {
        dispatch!(self, store => store.repository(repo_id).await)
    }

    /// The repository's index runs, oldest first (by start time, then id).
    pub async fn index_runs(&self, repo_id: &str) -> Result<Vec<IndexRunRecord>, GraphError> {
        let mut runs = dispatch!(self, store => store.index_runs(repo_id).await)?;
        runs.sort_by(|a, b| (a.started_at_ms, &a.run_id).cmp(&(b.started_at_ms, &b.run_id)));
        Ok(runs)
    }

    /// Nodes per label and relationships per type of the repository, metadata included.
    pub async fn counts(&self, repo_id: &str) -> Result<GraphCounts, GraphError> {
        dispatch!(self, store => store.counts(repo_id).await)
    }

    /// The repository's code graph, canonical (see [`GraphDump`]).
    pub async fn dump(&self, repo_id: &str) -> Result<GraphDump, GraphError> {
        dispatch!(self, store => store.dump(repo_id).await)
    }

    /// Every repository in the store (or only `repo`, which must be there) with its last
    /// index run and its numbers of nodes and relationships.
    pub async fn repos(&self, repo: Option<&str>) -> Result<Vec<RepoSummary>, QueryError> {
        dispatch!(self, store => query::repos(store, repo).await)
    }

    /// Nodes per label and relationships per type of `repo`, or of every repository.
    pub async fn stats(&self, repo: Option<&str>) -> Result<Vec<RepoStats>, QueryError> {
        dispatch!(self, store => query::stats(store, repo).await)
    }

    /// Definitions named `name`: exact matches, else names starting with it (case ignored);
    /// at most `limit` of them.
    pub async fn find(
        &self,
        repo: Option<&str>,
        name: &str,
        limit: usize,
    ) -> Result<FindAnswer, QueryError> {
        dispatch!(self, store => query::find(store, repo, name, limit).await)
    }

    /// The callers or callees `call` asks for.
    pub async fn calls(
        &self,
        repo: Option<&str>,
        call: CallQuery<'_>,
    ) -> Result<CallAnswer, QueryError> {
        dispatch!(self, store => query::calls(store, repo, call).await)
    }

    /// A file's definitions, its imports and the files importing it.
    pub async fn file(&self, repo: Option<&str>, path: &str) -> Result<FileAnswer, QueryError> {
        dispatch!(self, store => query::file(store, repo, path).await)
    }
}
