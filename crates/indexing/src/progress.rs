//! Progress of a long activity: blocking code moves two counters, and the activity's async side
//! turns them into heartbeats (shown in the Temporal UI, and the sign of life the heartbeat
//! timeout watches) and, at most every [`SIGNAL_EVERY`], into a [`PROGRESS_SIGNAL`] to the
//! workflow, whose `progress` query answers from it. Each signal costs the workflow a task,
//! so an activity sends none in its first [`QUIET_START`] (a short one sends none at all: the
//! workflow takes the final counts from its result). The signal goes by name to whichever
//! workflow started the activity: this module does not know the workflow type.

use crate::messages::{PROGRESS_SIGNAL, ProgressCounter, ProgressUpdate};
use serde::Serialize;
use std::{
    future::Future,
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};
use temporalio_client::WorkflowSignalOptions;
use temporalio_common::{SignalDefinition, UntypedWorkflow};
use temporalio_sdk::activities::{ActivityContext, ActivityError};

/// How often the activity heartbeats.
const HEARTBEAT_EVERY: Duration = Duration::from_secs(1);
/// How often at most the workflow hears of progress (each signal is a history event).
const SIGNAL_EVERY: Duration = Duration::from_secs(2);
/// How long an activity runs before the workflow hears of its progress.
const QUIET_START: Duration = Duration::from_secs(1);

/// Counters shared with the blocking code.
#[derive(Debug, Clone, Default)]
pub struct Counters {
    done: Arc<AtomicU64>,
    total: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
}

impl Counters {
    /// Record `done` of `total`.
    pub fn set(&self, done: u64, total: u64) {
        self.done.store(done, Ordering::Relaxed);
        self.total.store(total, Ordering::Relaxed);
    }

    /// The flag [`Counters::stop_requested`] reads, for code that checks it itself.
    pub fn stop_flag(&self) -> Arc<AtomicBool> {
        self.stop.clone()
    }

    /// Whether the activity was cancelled: the blocking code should stop.
    pub fn stop_requested(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
    }

    fn get(&self) -> (u64, u64) {
        (
            self.done.load(Ordering::Relaxed),
            self.total.load(Ordering::Relaxed),
        )
    }
}

/// The heartbeat details of a running activity.
#[derive(Debug, Serialize)]
struct Details {
    counter: ProgressCounter,
    done: u64,
    total: u64,
}

/// Drive `work` while heartbeating `counters`. Returns `work`'s output, or a cancellation when
/// the activity is cancelled (`counters` asks blocking code to stop; `work` is dropped).
pub async fn with_progress<T>(
    ctx: &ActivityContext,
    counter: ProgressCounter,
    counters: &Counters,
    work: impl Future<Output = T>,
) -> Result<T, ActivityError> {
    tokio::pin!(work);
    let started = Instant::now();
    let mut tick = tokio::time::interval(HEARTBEAT_EVERY);
    let mut last_signal: Option<(Instant, (u64, u64))> = None;
    loop {
        tokio::select! {
            output = &mut work => {
                // The last counts, when the workflow heard of earlier ones.
                let (done, total) = counters.get();
                if last_signal.is_some_and(|(_, seen)| seen != (done, total)) {
                    signal(ctx, counter, done, total).await;
                }
                return Ok(output);
            }
            _ = tick.tick() => {
                let (done, total) = counters.get();
                if let Err(e) = ctx.record_heartbeat(Details { counter, done, total }).await {
                    tracing::warn!(error = %e, "cannot record a heartbeat");
                }
                let due = last_signal.is_none_or(|(at, seen)| {
                    at.elapsed() >= SIGNAL_EVERY && seen != (done, total)
                });
                if due && total > 0 && started.elapsed() >= QUIET_START {
                    signal(ctx, counter, done, total).await;
                    last_signal = Some((Instant::now(), (done, total)));
                }
            }
            _ = ctx.cancelled() => {
                counters.stop.store(true, Ordering::Relaxed);
                return Err(ActivityError::cancelled());
            }
        }
    }
}

/// Drive `work`, which has no progress to report, while heartbeating: a lost worker, or a
/// completion the server never received, is retried after the heartbeat timeout instead of the
/// start-to-close timeout. A cancellation drops `work`.
pub async fn heartbeating<T>(
    ctx: &ActivityContext,
    work: impl Future<Output = T>,
) -> Result<T, ActivityError> {
    tokio::pin!(work);
    let mut tick = tokio::time::interval(HEARTBEAT_EVERY);
    loop {
        tokio::select! {
            output = &mut work => return Ok(output),
            _ = tick.tick() => {
                if let Err(e) = ctx.record_heartbeat(()).await {
                    tracing::warn!(error = %e, "cannot record a heartbeat");
                }
            }
            _ = ctx.cancelled() => return Err(ActivityError::cancelled()),
        }
    }
}

/// Run blocking `work` on tokio's blocking pool; a panic becomes a retryable failure.
pub async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, ActivityError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| ActivityError::from(anyhow::anyhow!("the activity's work panicked: {e}")))
}

/// The [`PROGRESS_SIGNAL`] of the workflow that started an activity.
struct ProgressSignal;

impl SignalDefinition for ProgressSignal {
    type Workflow = UntypedWorkflow;
    type Input = ProgressUpdate;

    fn name(&self) -> &str {
        PROGRESS_SIGNAL
    }
}

/// Tell the workflow (best effort: progress is informational, a lost signal costs nothing).
async fn signal(ctx: &ActivityContext, counter: ProgressCounter, done: u64, total: u64) {
    let Some(handle) = ctx.workflow_handle::<UntypedWorkflow>() else {
        return;
    };
    let update = ProgressUpdate {
        counter,
        done,
        total,
    };
    if let Err(e) = handle
        .signal(ProgressSignal, update, WorkflowSignalOptions::default())
        .await
    {
        tracing::debug!(error = %e, "cannot send progress to the workflow");
    }
}
