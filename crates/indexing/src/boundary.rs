//! The activity boundary: the graph store's records and reports and the parser's output become
//! the workflow's own wire types ([`crate::messages`]) here, and the wire types become store
//! records, so that no store or parser struct travels through workflow history.

use crate::graph::{
    DeleteReport, IndexRunRecord, LanguageCount, RepositoryRecord, RunStatus, WriteReport,
};
use crate::messages::{
    Deleted, LanguageTotals, ParseResult, ParseTotals, RepositoryState, RunOutcome, RunState,
    SKIPPED_LISTED, SkippedEntry, Written,
};
use crate::parse::{LanguageStats, ParseOutput};

impl From<WriteReport> for Written {
    fn from(r: WriteReport) -> Self {
        Self {
            nodes: r.nodes,
            relationships: r.relationships,
            batches: r.batches,
            nodes_per_label: r.nodes_per_label,
            relationships_per_type: r.relationships_per_type,
        }
    }
}

impl From<DeleteReport> for Deleted {
    fn from(r: DeleteReport) -> Self {
        Self {
            nodes: r.nodes,
            relationships: r.relationships,
        }
    }
}

impl From<&LanguageStats> for LanguageTotals {
    fn from(s: &LanguageStats) -> Self {
        Self {
            files: s.files,
            lines: s.lines,
            bytes: s.bytes,
        }
    }
}

impl From<&LanguageTotals> for LanguageCount {
    fn from(t: &LanguageTotals) -> Self {
        Self {
            files: t.files,
            lines: t.lines,
        }
    }
}

impl From<&RepositoryState> for RepositoryRecord {
    fn from(r: &RepositoryState) -> Self {
        Self {
            repo_id: r.repo_id.clone(),
            url: r.url.clone(),
            default_branch: r.default_branch.clone(),
            head_commit: r.head_commit.clone(),
            last_indexed_commit: r.last_indexed_commit.clone(),
            languages: r
                .languages
                .iter()
                .map(|(l, t)| (l.clone(), t.into()))
                .collect(),
            updated_at_ms: r.updated_at_ms,
        }
    }
}

impl From<&RunState> for IndexRunRecord {
    fn from(r: &RunState) -> Self {
        Self {
            repo_id: r.repo_id.clone(),
            run_id: r.run_id.clone(),
            commit: r.commit.clone(),
            started_at_ms: r.started_at_ms,
            ended_at_ms: r.ended_at_ms,
            status: match r.outcome {
                RunOutcome::Running => RunStatus::Running,
                RunOutcome::Succeeded => RunStatus::Succeeded,
                RunOutcome::Failed => RunStatus::Failed,
            },
            error: r.error.clone(),
            counts: r.counts.clone(),
            durations_ms: r.durations_ms.clone(),
        }
    }
}

impl ParseResult {
    /// The result of a parse whose output went to `output_path`, counting every file as
    /// parsed and none reused.
    pub fn of(output: &ParseOutput, output_path: String) -> Self {
        let files = output.files.len() as u64;
        Self {
            output_path,
            base_commit: None,
            totals: ParseTotals {
                files,
                files_parsed: files,
                languages: output
                    .languages
                    .iter()
                    .map(|(l, s)| (serde_name(l), s.into()))
                    .collect(),
                skipped: output
                    .skipped
                    .iter()
                    .map(|(r, n)| (serde_name(r), *n))
                    .collect(),
                skipped_files: output
                    .skipped_files
                    .iter()
                    .take(SKIPPED_LISTED)
                    .map(|f| SkippedEntry {
                        path: f.path.clone(),
                        reason: serde_name(&f.reason),
                    })
                    .collect(),
            },
            definitions: output
                .files
                .iter()
                .map(|f| f.definitions.len() as u64)
                .sum(),
            calls: output.calls.len() as u64,
            imports: output.imports.len() as u64,
            inherits: output.inherits.len() as u64,
        }
    }
}

/// The name serde gives a unit enum variant (`python`, `invalid_utf8`).
fn serde_name<T: serde::Serialize>(value: &T) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(s)) => s,
        _ => String::new(),
    }
}
