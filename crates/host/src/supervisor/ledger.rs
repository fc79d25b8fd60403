//! The activity ledger: which activities an entry's worker is running, and what became of those
//! that were in flight when the entry was told to stop (drained or cancelled). The activity
//! interceptor feeds it, so it sees every attempt without the activities knowing about it.

use std::{
    collections::HashMap,
    fmt,
    sync::{Arc, Mutex, MutexGuard},
};

/// One activity attempt, as named in logs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActivityRef {
    /// Activity type.
    pub activity_type: String,
    /// Activity id within its workflow.
    pub activity_id: String,
    /// Workflow that scheduled it.
    pub workflow_id: String,
}

impl fmt::Display for ActivityRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} (activity {} of workflow {})",
            self.activity_type, self.activity_id, self.workflow_id
        )
    }
}

/// How an attempt ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    Completed,
    Failed,
    Cancelled,
}

impl Outcome {
    /// Metric label.
    pub(crate) fn label(self) -> &'static str {
        match self {
            Self::Completed => "completed",
            Self::Failed => "failed",
            Self::Cancelled => "cancelled",
        }
    }
}

#[derive(Default)]
struct State {
    in_flight: HashMap<Vec<u8>, ActivityRef>,
    stopping: bool,
    drained: Vec<ActivityRef>,
    cancelled: Vec<ActivityRef>,
}

/// Shared between an entry's supervisor task and its worker's interceptor.
#[derive(Default, Clone)]
pub struct Ledger(Arc<Mutex<State>>);

/// What an entry's stop did to the work in flight.
#[derive(Debug, Clone, Default)]
pub struct DrainReport {
    /// Activities that finished on their own after the stop (completed or failed).
    pub drained: Vec<ActivityRef>,
    /// Activities cancelled because the grace period ran out.
    pub cancelled: Vec<ActivityRef>,
    /// Activities still running when the host gave up waiting.
    pub abandoned: Vec<ActivityRef>,
}

impl DrainReport {
    /// Nothing was cancelled or abandoned.
    pub fn is_clean(&self) -> bool {
        self.cancelled.is_empty() && self.abandoned.is_empty()
    }
}

impl Ledger {
    fn state(&self) -> MutexGuard<'_, State> {
        // A panic while holding this lock leaves plain data behind; keep using it.
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// From now on, every attempt that ends is reported as drained or cancelled.
    pub fn mark_stopping(&self) {
        self.state().stopping = true;
    }

    /// Number of attempts running now.
    pub fn in_flight(&self) -> usize {
        self.state().in_flight.len()
    }

    /// The report of the stop so far; what still runs counts as abandoned.
    pub fn report(&self) -> DrainReport {
        let s = self.state();
        DrainReport {
            drained: s.drained.clone(),
            cancelled: s.cancelled.clone(),
            abandoned: s.in_flight.values().cloned().collect(),
        }
    }

    pub(crate) fn started(&self, token: Vec<u8>, activity: ActivityRef) {
        self.state().in_flight.insert(token, activity);
    }

    pub(crate) fn finished(&self, token: &[u8], outcome: Outcome) {
        let mut s = self.state();
        if let Some(a) = s.in_flight.remove(token)
            && s.stopping
        {
            match outcome {
                Outcome::Cancelled => s.cancelled.push(a),
                Outcome::Completed | Outcome::Failed => s.drained.push(a),
            }
        }
    }
}
