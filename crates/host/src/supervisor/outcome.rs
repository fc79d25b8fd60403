//! What a config change did, decided in one place ([`super::Supervisor::reload`]) and returned
//! whole, as Vector's topology controller does: the caller logs it, counts it and shows it.

use crate::config::ConfigErrors;
use serde::Serialize;
use std::fmt;

/// The result of applying a config (at start-up or on reload).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum ReloadOutcome {
    /// The new config runs now (but see [`Applied::failed`] and [`Applied::pending_restart`]).
    Applied(Applied),
    /// Nothing differs; the running config stays.
    Unchanged {
        /// Generation of the config still running.
        generation: u64,
    },
    /// The new config was refused; the running one stays.
    Rejected {
        /// Why.
        reason: Rejection,
    },
}

/// What an applied config changed.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Applied {
    /// Generation of the config now running.
    pub generation: u64,
    /// Entries started.
    pub started: Vec<String>,
    /// Entries whose running worker took new limits in place (no worker replaced).
    pub tuned: Vec<String>,
    /// Entries whose worker was replaced (the new one polls, then the old one drains).
    pub replaced: Vec<String>,
    /// Entries stopped (draining in the background).
    pub stopped: Vec<String>,
    /// Entries whose worker could not be built, with why. A new entry stays out; a changed
    /// one keeps running with its previous settings.
    pub failed: Vec<FailedEntry>,
    /// Workload tables that changed; their workloads use them from their next run on.
    pub sections: Vec<String>,
    /// Keys that changed but take effect only when the host restarts (`host.listen`, ...).
    pub pending_restart: Vec<String>,
}

/// An entry whose worker could not be built.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FailedEntry {
    /// The entry.
    pub name: String,
    /// The builder's error.
    pub error: String,
}

/// Why a config was refused.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", content = "detail", rename_all = "snake_case")]
pub enum Rejection {
    /// The file has problems (each with its line).
    Invalid(#[serde(serialize_with = "as_text")] ConfigErrors),
    /// `[temporal]` changed: a new connection needs a restart.
    TemporalChanged,
    /// Workload tables whose changes need a restart.
    NeedsRestart(Vec<String>),
}

fn as_text<S: serde::Serializer>(errors: &ConfigErrors, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&errors.to_string())
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Invalid(errors) => write!(f, "{errors}"),
            Self::TemporalChanged => f.write_str(
                "[temporal] changed: a new connection needs a restart of the host; revert \
                 [temporal] to apply the other changes",
            ),
            Self::NeedsRestart(tables) => write!(
                f,
                "[{}] changed and takes effect only at a restart of the host; revert it to \
                 apply the other changes",
                tables.join("], [")
            ),
        }
    }
}
