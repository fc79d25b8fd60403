//! Where a run of `RepoIndexingWorkflow` stands: one [`Stage`] enum names the stage in the
//! `progress` query (its serde name, e.g. `parsing`), in the CLI's progress bar, and in the
//! `durations_ms` of the summary and the run record (its [`Stage::key`], e.g. `parse`).

use serde::{Deserialize, Serialize};
use std::{collections::BTreeMap, fmt};

/// The stage of a run, as the `progress` query reports it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    /// The input is being checked; no activity has run.
    #[default]
    Starting,
    /// `clone_repo_activity`.
    Cloning,
    /// `parse_repo_activity`.
    Parsing,
    /// `persist_metadata_activity` (the repository and the running run).
    PersistingMetadata,
    /// `persist_kg_activity`.
    PersistingGraph,
    /// `cleanup_stale_kg_nodes_activity`.
    CleaningStaleNodes,
    /// `cleanup_repo_activity`.
    CleaningUp,
    /// The host holding the clone was lost; the run starts over from the clone.
    Restarting,
    /// The run succeeded.
    Done,
    /// The run failed (or was cancelled).
    Failed,
}

/// Key of the whole run's duration in `durations_ms`.
pub const TOTAL: &str = "total";

impl Stage {
    /// The stage's key in `durations_ms`: the step it times (`clone`, `parse`,
    /// `persist_metadata`, `persist_graph`, `cleanup_stale`, `cleanup_repo`). Stages that
    /// time nothing have none.
    pub fn key(self) -> Option<&'static str> {
        match self {
            Stage::Cloning => Some("clone"),
            Stage::Parsing => Some("parse"),
            Stage::PersistingMetadata => Some("persist_metadata"),
            Stage::PersistingGraph => Some("persist_graph"),
            Stage::CleaningStaleNodes => Some("cleanup_stale"),
            Stage::CleaningUp => Some("cleanup_repo"),
            Stage::Starting | Stage::Restarting | Stage::Done | Stage::Failed => None,
        }
    }

    /// Whether the progress bar counts graph elements (else files).
    pub fn counts_elements(self) -> bool {
        self == Stage::PersistingGraph
    }
}

/// The stage's name in the `progress` query (`parsing`).
impl fmt::Display for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match serde_json::to_value(self) {
            Ok(serde_json::Value::String(name)) => f.write_str(&name),
            _ => Ok(()),
        }
    }
}

/// Milliseconds per stage key, and [`TOTAL`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Durations(BTreeMap<String, u64>);

impl Durations {
    /// `stage` took `ms`; `failed` records it as `<key>_failed` (a step whose failure does not
    /// fail the run).
    pub fn record(&mut self, stage: Stage, ms: u64, failed: bool) {
        if let Some(key) = stage.key() {
            let key = if failed {
                format!("{key}_failed")
            } else {
                key.to_owned()
            };
            self.0.insert(key, ms);
        }
    }

    /// The whole run took `ms`.
    pub fn total(&mut self, ms: u64) {
        self.0.insert(TOTAL.to_owned(), ms);
    }

    /// The map the summary and the run record carry.
    pub fn to_map(&self) -> BTreeMap<String, u64> {
        self.0.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn progress_names_and_duration_keys() {
        assert_eq!(Stage::Parsing.to_string(), "parsing");
        assert_eq!(
            Stage::CleaningStaleNodes.to_string(),
            "cleaning_stale_nodes"
        );
        assert_eq!(Stage::PersistingGraph.key(), Some("persist_graph"));
        let mut d = Durations::default();
        d.record(Stage::CleaningUp, 5, true);
        d.record(Stage::Done, 7, false);
        d.total(9);
        let keys: Vec<_> = d.to_map().into_keys().collect();
        assert_eq!(keys, ["cleanup_repo_failed", "total"]);
    }
}
