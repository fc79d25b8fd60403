//! The activity ledger: which activities an entry's worker is running, and what became of those
//! that were in flight when the entry was told to stop (drained or cancelled). It is an activity
//! interceptor, so it sees every attempt without the activities knowing about it.

use futures::FutureExt;
use std::{
    collections::HashMap,
    fmt,
    sync::{Arc, Mutex, MutexGuard},
};
use temporalio_sdk::{
    activities::ActivityError,
    interceptors::{ActivityInboundInterceptor, ExecuteActivityInput, ExecuteActivityOutput, Next},
};
use tracing::Instrument;

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
enum Outcome {
    Completed,
    Failed,
    Cancelled,
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

    fn started(&self, token: Vec<u8>, activity: ActivityRef) {
        self.state().in_flight.insert(token, activity);
    }

    fn finished(&self, token: &[u8], outcome: Outcome) {
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

    /// The interceptor that feeds this ledger.
    pub(crate) fn interceptor(&self, entry: &str) -> LedgerInterceptor {
        LedgerInterceptor {
            ledger: self.clone(),
            entry: entry.to_owned(),
        }
    }
}

/// Records each activity attempt in the ledger and runs it inside a span that names its
/// workflow, run and type, so every log line of an activity carries them.
pub(crate) struct LedgerInterceptor {
    ledger: Ledger,
    entry: String,
}

impl ActivityInboundInterceptor for LedgerInterceptor {
    fn execute_activity<'a>(
        &'a self,
        input: ExecuteActivityInput,
        next: Next<'a, ExecuteActivityInput, ExecuteActivityOutput<'a>>,
    ) -> ExecuteActivityOutput<'a> {
        let info = input.activity_info();
        let token = info.task_token.clone();
        let workflow_id = info.workflow_id.clone().unwrap_or_default();
        let span = tracing::info_span!(
            "activity",
            entry = %self.entry,
            workflow_id = %workflow_id,
            run_id = %info.workflow_run_id.as_deref().unwrap_or_default(),
            activity_type = %info.activity_type,
            activity_id = %info.activity_id,
            attempt = info.attempt,
        );
        self.ledger.started(
            token.clone(),
            ActivityRef {
                activity_type: info.activity_type.clone(),
                activity_id: info.activity_id.clone(),
                workflow_id,
            },
        );
        let run = next.run(input);
        async move {
            tracing::debug!("activity started");
            let result = run.await;
            let outcome = match &result {
                Ok(_) => Outcome::Completed,
                Err(ActivityError::Cancelled { .. }) => Outcome::Cancelled,
                Err(_) => Outcome::Failed,
            };
            self.ledger.finished(&token, outcome);
            tracing::debug!(?outcome, "activity finished");
            result
        }
        .instrument(span)
        .boxed()
    }
}
