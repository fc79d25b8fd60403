//! The folder of one run on the host that holds its clone: `<workspace>/<run key>/` with the
//! work tree in `repo/` and the parse output in `graph.jsonl`. The run key names one attempt of
//! one run, so a run that starts over never meets the files of its earlier attempt.

use std::path::{Path, PathBuf};

/// Paths of one run's files.
#[derive(Debug, Clone)]
pub struct RunFolder {
    root: PathBuf,
}

impl RunFolder {
    /// The folder of `run_key` under `workspace`. Refuses keys that could leave the workspace.
    pub fn new(workspace: &Path, run_key: &str) -> Result<Self, String> {
        let safe = !run_key.is_empty()
            && run_key != "."
            && run_key != ".."
            && run_key
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
        if !safe {
            return Err(format!(
                "run key {run_key:?} is not a plain folder name (letters, digits, - _ .)"
            ));
        }
        Ok(Self {
            root: workspace.join(run_key),
        })
    }

    /// The run's folder.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The work tree of the clone.
    pub fn repo(&self) -> PathBuf {
        self.root.join("repo")
    }

    /// The parse output.
    pub fn parse_output(&self) -> PathBuf {
        self.root.join("graph.jsonl")
    }

    /// The digest of the run's graph rows, for the next run's comparison.
    pub fn digest(&self) -> PathBuf {
        self.root.join("rows.digest.json")
    }

    /// The unresolved facts and blob ids, for the next run's reuse.
    pub fn facts(&self) -> PathBuf {
        self.root.join("facts.jsonl")
    }
}

/// The run key of attempt `attempt` of the workflow run `run_id`.
pub fn run_key(run_id: &str, attempt: u32) -> String {
    let id: String = run_id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!("{id}.{attempt}")
}
