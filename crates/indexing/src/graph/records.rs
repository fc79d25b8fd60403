//! The plain records the store takes and returns: repository metadata, index runs, and the
//! reports of writes, deletes and counts. All are serde data, so activities can return them in
//! workflow results.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::GraphError;
use super::rows::GraphRows;
use super::value::{Props, Value};

/// Files and lines of one language in a repository.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LanguageCount {
    pub files: u64,
    pub lines: u64,
}

/// The `Repository` node.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RepositoryRecord {
    pub repo_id: String,
    pub url: String,
    #[serde(default)]
    pub default_branch: Option<String>,
    #[serde(default)]
    pub head_commit: Option<String>,
    #[serde(default)]
    pub last_indexed_commit: Option<String>,
    /// Per language (lower-case name, as the parser writes it).
    #[serde(default)]
    pub languages: BTreeMap<String, LanguageCount>,
    /// Milliseconds since the Unix epoch.
    pub updated_at_ms: u64,
}

/// Where an index run stands.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RunStatus {
    #[default]
    Running,
    Succeeded,
    Failed,
}

impl RunStatus {
    /// The status as stored.
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Running => "running",
            RunStatus::Succeeded => "succeeded",
            RunStatus::Failed => "failed",
        }
    }
}

/// An `IndexRun` node: one indexing of a repository.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct IndexRunRecord {
    pub repo_id: String,
    pub run_id: String,
    /// The commit indexed; none when the run failed before it was known.
    #[serde(default)]
    pub commit: Option<String>,
    pub started_at_ms: u64,
    #[serde(default)]
    pub ended_at_ms: Option<u64>,
    pub status: RunStatus,
    #[serde(default)]
    pub error: Option<String>,
    /// Counts by name (files, nodes, relationships, ...).
    #[serde(default)]
    pub counts: BTreeMap<String, u64>,
    /// Duration of each stage, by name.
    #[serde(default)]
    pub durations_ms: BTreeMap<String, u64>,
}

/// The repository and index run a write or cleanup belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RunKey<'a> {
    pub repo_id: &'a str,
    pub run_id: &'a str,
}

impl<'a> RunKey<'a> {
    pub fn new(repo_id: &'a str, run_id: &'a str) -> Self {
        Self { repo_id, run_id }
    }
}

/// Told `(written, total)` after each committed batch of a write.
pub type Progress<'a> = dyn Fn(u64, u64) + Send + Sync + 'a;

/// One write handed to a backend: the run's rows, and whom to tell how many elements are
/// committed so far.
pub(crate) struct GraphWrite<'a> {
    pub run: RunKey<'a>,
    pub rows: &'a std::sync::Arc<super::GraphRows>,
    pub written: &'a (dyn Fn(u64) + Sync),
    /// See [`super::GraphStore::begin_graph_write`].
    pub into_empty: bool,
}

/// What [`super::GraphStore::persist_graph`] wrote.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WriteReport {
    pub nodes: u64,
    pub relationships: u64,
    /// Statements (Neo4j) or progress steps (embedded) used.
    pub batches: u64,
    pub nodes_per_label: BTreeMap<String, u64>,
    pub relationships_per_type: BTreeMap<String, u64>,
    /// The repository had no code node before this write (its first index): nothing of it
    /// can be stale, so the cleanup has nothing to look for.
    pub into_empty: bool,
}

/// What a cleanup deleted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeleteReport {
    pub nodes: u64,
    pub relationships: u64,
}

/// Nodes per label and relationships per type of one repository (labels and types with none
/// are left out).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GraphCounts {
    pub nodes: BTreeMap<String, u64>,
    pub relationships: BTreeMap<String, u64>,
}

impl WriteReport {
    /// Adds the report of a later part of the same write.
    pub fn add(&mut self, part: WriteReport) {
        self.nodes += part.nodes;
        self.relationships += part.relationships;
        self.batches += part.batches;
        for (label, n) in part.nodes_per_label {
            *self.nodes_per_label.entry(label).or_default() += n;
        }
        for (rel, n) in part.relationships_per_type {
            *self.relationships_per_type.entry(rel).or_default() += n;
        }
        self.into_empty = part.into_empty;
    }

    /// The report of writing `rows` in `batches` steps (`into_empty`: see [`Self::into_empty`]).
    pub(crate) fn of(rows: &GraphRows, batches: u64, into_empty: bool) -> Self {
        Self {
            into_empty,
            nodes: rows.node_count(),
            relationships: rows.relationship_count(),
            batches,
            nodes_per_label: rows
                .nodes
                .iter()
                .map(|(label, r)| (label.as_str().to_owned(), r.len() as u64))
                .collect(),
            relationships_per_type: rows
                .relationships
                .iter()
                .map(|(rel, r)| (rel.as_str().to_owned(), r.len() as u64))
                .collect(),
        }
    }
}

impl RepositoryRecord {
    /// The node's properties.
    pub(crate) fn to_props(&self) -> Result<Props, GraphError> {
        let mut props = Props::new();
        props.insert("url".into(), Value::from(self.url.as_str()));
        insert_opt(&mut props, "default_branch", &self.default_branch);
        insert_opt(&mut props, "head_commit", &self.head_commit);
        insert_opt(&mut props, "last_indexed_commit", &self.last_indexed_commit);
        props.insert("languages".into(), Value::Str(to_json(&self.languages)?));
        props.insert("updated_at_ms".into(), Value::from(self.updated_at_ms));
        Ok(props)
    }

    /// Reads the node's properties back; none when no metadata was written (the node then
    /// only exists as the endpoint of the graph's relationships).
    pub(crate) fn from_props(repo_id: &str, props: &Props) -> Result<Option<Self>, GraphError> {
        if !props.contains_key("url") {
            return Ok(None);
        }
        Ok(Some(Self {
            repo_id: repo_id.to_owned(),
            url: get_str(props, "url").unwrap_or_default(),
            default_branch: get_str(props, "default_branch"),
            head_commit: get_str(props, "head_commit"),
            last_indexed_commit: get_str(props, "last_indexed_commit"),
            languages: from_json(props, "languages")?,
            updated_at_ms: get_u64(props, "updated_at_ms").unwrap_or_default(),
        }))
    }
}

impl IndexRunRecord {
    /// The node's properties (its key is `run_id`).
    pub(crate) fn to_props(&self) -> Result<Props, GraphError> {
        let mut props = Props::new();
        insert_opt(&mut props, "commit", &self.commit);
        props.insert("started_at_ms".into(), Value::from(self.started_at_ms));
        if let Some(ended) = self.ended_at_ms {
            props.insert("ended_at_ms".into(), Value::from(ended));
        }
        props.insert("status".into(), Value::from(self.status.as_str()));
        insert_opt(&mut props, "error", &self.error);
        props.insert("counts".into(), Value::Str(to_json(&self.counts)?));
        props.insert(
            "durations_ms".into(),
            Value::Str(to_json(&self.durations_ms)?),
        );
        Ok(props)
    }

    /// Reads the node's properties back.
    pub(crate) fn from_props(
        repo_id: &str,
        run_id: &str,
        props: &Props,
    ) -> Result<Self, GraphError> {
        let status = match props.get("status").and_then(Value::as_str) {
            Some("succeeded") => RunStatus::Succeeded,
            Some("failed") => RunStatus::Failed,
            Some("running") | None => RunStatus::Running,
            Some(other) => {
                return Err(GraphError::Other(format!(
                    "index run {run_id} of {repo_id} has an unknown status `{other}`"
                )));
            }
        };
        Ok(Self {
            repo_id: repo_id.to_owned(),
            run_id: run_id.to_owned(),
            commit: get_str(props, "commit"),
            started_at_ms: get_u64(props, "started_at_ms").unwrap_or_default(),
            ended_at_ms: get_u64(props, "ended_at_ms"),
            status,
            error: get_str(props, "error"),
            counts: from_json(props, "counts")?,
            durations_ms: from_json(props, "durations_ms")?,
        })
    }
}

fn insert_opt(props: &mut Props, name: &str, value: &Option<String>) {
    if let Some(value) = value {
        props.insert(name.to_owned().into(), Value::from(value.as_str()));
    }
}

fn get_str(props: &Props, name: &str) -> Option<String> {
    props.get(name).and_then(Value::as_str).map(str::to_owned)
}

fn get_u64(props: &Props, name: &str) -> Option<u64> {
    props
        .get(name)
        .and_then(Value::as_int)
        .and_then(|i| u64::try_from(i).ok())
}

fn to_json<T: Serialize>(value: &T) -> Result<String, GraphError> {
    serde_json::to_string(value).map_err(|e| GraphError::Other(e.to_string()))
}

fn from_json<T: for<'de> Deserialize<'de> + Default>(
    props: &Props,
    name: &str,
) -> Result<T, GraphError> {
    match props.get(name).and_then(Value::as_str) {
        Some(json) => serde_json::from_str(json)
            .map_err(|e| GraphError::Other(format!("stored `{name}` is not valid: {e}"))),
        None => Ok(T::default()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip_through_props() {
        let repo = RepositoryRecord {
            repo_id: "r".into(),
            url: "https://example.invalid/r.git".into(),
            default_branch: Some("main".into()),
            head_commit: Some("abc".into()),
            last_indexed_commit: None,
            languages: BTreeMap::from([(
                "python".into(),
                LanguageCount {
                    files: 2,
                    lines: 30,
                },
            )]),
            updated_at_ms: 7,
        };
        let props = repo.to_props().expect("props");
        assert_eq!(
            RepositoryRecord::from_props("r", &props).expect("read"),
            Some(repo)
        );
        assert_eq!(
            RepositoryRecord::from_props("r", &Props::new()).expect("read"),
            None
        );
        let run = IndexRunRecord {
            repo_id: "r".into(),
            run_id: "run-1".into(),
            commit: Some("abc".into()),
            started_at_ms: 1,
            ended_at_ms: Some(2),
            status: RunStatus::Failed,
            error: Some("boom".into()),
            counts: BTreeMap::from([("files".into(), 2)]),
            durations_ms: BTreeMap::from([("parse".into(), 5)]),
        };
        let props = run.to_props().expect("props");
        assert_eq!(
            IndexRunRecord::from_props("r", "run-1", &props).expect("read"),
            run
        );
    }
}
