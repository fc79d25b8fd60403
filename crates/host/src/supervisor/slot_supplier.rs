//! Resizable slot suppliers: the host's own implementation of SDK core's public
//! [`SlotSupplier`] trait. One [`Slots`] per slot kind of an entry, shared by every worker
//! generation of that entry, so that
//!
//! - `max_concurrent_*` change in place ([`Slots::set_limit`]): raising admits waiting
//!   reservations at once; lowering cancels nothing, new reservations wait until fewer than the
//!   new limit are issued;
//! - `max_activities_per_second` spaces reservations ([`Slots::set_rate`]), also in place;
//! - the limit holds across a replacement: the draining worker's slots and its successor's come
//!   from the same count.
//!
//! A poller reserves a slot *before* it polls, so a worker never takes a task it has no slot for
//! (a task waiting inside a worker would spend its start-to-close time). A reservation already
//! held by a poll in flight when the limit is lowered may still receive a task: at most one per
//! poller, once.

use crate::{
    config::{Rate, WorkerEntry},
    status::{SlotReader, SlotReading},
};
use std::{
    marker::PhantomData,
    sync::{Arc, Mutex, MutexGuard},
    time::{Duration, Instant},
};
use temporalio_sdk_core::{
    ActivitySlotKind, LocalActivitySlotKind, SlotKind, SlotMarkUsedContext, SlotReleaseContext,
    SlotReservationContext, SlotSupplier, SlotSupplierPermit, WorkflowSlotKind,
};
use tokio::sync::Notify;

#[derive(Debug)]
struct State {
    limit: usize,
    /// Reservations handed out and not released (used or waiting for a task).
    issued: usize,
    /// Reservations that carry a task.
    used: usize,
    /// Least time between two reservations (`max_activities_per_second`).
    spacing: Option<Duration>,
    /// When the next reservation may be handed out under `spacing`.
    next_at: Option<Instant>,
}

impl State {
    /// Hand out a reservation now, or say how long the rate limit wants us to wait; `None` when
    /// the limit is reached.
    fn try_issue(&mut self, now: Instant) -> Option<Result<(), Duration>> {
        if self.issued >= self.limit {
            return None;
        }
        if let Some(next) = self.next_at
            && next > now
        {
            return Some(Err(next - now));
        }
        self.issued += 1;
        self.next_at = self.spacing.map(|s| now + s);
        Some(Ok(()))
    }
}

#[derive(Debug)]
struct Inner {
    state: Mutex<State>,
    changed: Notify,
}

/// Slots of one kind (`SK`: workflow, activity or local activity) of one entry.
#[derive(Debug)]
pub struct Slots<SK> {
    inner: Arc<Inner>,
    kind: PhantomData<fn() -> SK>,
}

impl<SK> Clone for Slots<SK> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            kind: PhantomData,
        }
    }
}

/// What a [`Slots`] holds right now (for `/metrics` and tests).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SlotUsage {
    /// The limit in force.
    pub limit: usize,
    /// Reservations held (by pollers waiting for a task, or by running tasks).
    pub issued: usize,
    /// Reservations that carry a task.
    pub used: usize,
}

impl<SK> Slots<SK> {
    /// `limit` slots, no rate limit.
    pub fn new(limit: usize) -> Self {
        Self {
            inner: Arc::new(Inner {
                state: Mutex::new(State {
                    limit,
                    issued: 0,
                    used: 0,
                    spacing: None,
                    next_at: None,
                }),
                changed: Notify::new(),
            }),
            kind: PhantomData,
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.inner.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Change the limit in place. Waiting reservations re-check at once; nothing running is
    /// cancelled.
    pub fn set_limit(&self, limit: usize) {
        self.state().limit = limit;
        self.inner.changed.notify_waiters();
    }

    /// Hand out at most `per_second` reservations per second (`None`: no rate limit).
    pub fn set_rate(&self, per_second: Option<f64>) {
        {
            let mut s = self.state();
            s.spacing = per_second.map(|r| Duration::from_secs_f64(1.0 / r));
            s.next_at = s.next_at.filter(|_| s.spacing.is_some());
        }
        self.inner.changed.notify_waiters();
    }

    /// The limit and what is held now.
    pub fn usage(&self) -> SlotUsage {
        let s = self.state();
        SlotUsage {
            limit: s.limit,
            issued: s.issued,
            used: s.used,
        }
    }

    /// Wait for a reservation.
    async fn reserve(&self) {
        loop {
            let changed = self.inner.changed.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();
            let issued = self.state().try_issue(Instant::now());
            match issued {
                Some(Ok(())) => return,
                Some(Err(wait)) => {
                    tokio::select! {
                        _ = tokio::time::sleep(wait) => {}
                        _ = changed => {}
                    }
                }
                None => changed.await,
            }
        }
    }

    fn release(&self, was_used: bool) {
        {
            let mut s = self.state();
            s.issued = s.issued.saturating_sub(1);
            if was_used {
                s.used = s.used.saturating_sub(1);
            }
        }
        self.inner.changed.notify_waiters();
    }
}

/// The slots of one entry, one [`Slots`] per kind, shared by all its worker generations.
#[derive(Debug, Clone)]
pub struct EntrySlots {
    /// Workflow-task slots (`max_concurrent_workflow_tasks`).
    pub workflow: Slots<WorkflowSlotKind>,
    /// Activity slots (`max_concurrent_activities`, `max_activities_per_second`).
    pub activity: Slots<ActivitySlotKind>,
    /// Local-activity slots (`max_concurrent_local_activities`).
    pub local_activity: Slots<LocalActivitySlotKind>,
}

impl EntrySlots {
    /// The slots `entry` asks for.
    pub fn of(entry: &WorkerEntry) -> Self {
        let slots = Self {
            workflow: Slots::new(entry.workflow_task_slots() as usize),
            activity: Slots::new(entry.activity_slots() as usize),
            local_activity: Slots::new(entry.local_activity_slots() as usize),
        };
        slots
            .activity
            .set_rate(entry.max_activities_per_second.map(Rate::get));
        slots
    }

    /// Put `entry`'s limits and rate in force, in place.
    pub fn tune(&self, entry: &WorkerEntry) {
        self.workflow
            .set_limit(entry.workflow_task_slots() as usize);
        self.activity.set_limit(entry.activity_slots() as usize);
        self.local_activity
            .set_limit(entry.local_activity_slots() as usize);
        self.activity
            .set_rate(entry.max_activities_per_second.map(Rate::get));
    }

    /// What `/metrics` shows of these slots for `entry`: all kinds, or only workflow tasks when
    /// its activity slots are resource-based (SDK core's `temporal_worker_task_slots_*` series
    /// show those).
    pub fn reader(&self, entry: &WorkerEntry) -> SlotReader {
        let slots = self.clone();
        let fixed_activities = entry.slots.is_none();
        Arc::new(move || {
            let reading = |kind, u: SlotUsage| SlotReading {
                kind,
                limit: u.limit,
                issued: u.issued,
                used: u.used,
            };
            let mut readings = vec![reading("workflow", slots.workflow.usage())];
            if fixed_activities {
                readings.push(reading("activity", slots.activity.usage()));
                readings.push(reading("local_activity", slots.local_activity.usage()));
            }
            readings
        })
    }
}

#[async_trait::async_trait]
impl<SK: SlotKind + Send + Sync + 'static> SlotSupplier for Slots<SK> {
    type SlotKind = SK;

    async fn reserve_slot(&self, _ctx: &dyn SlotReservationContext) -> SlotSupplierPermit {
        self.reserve().await;
        SlotSupplierPermit::default()
    }

    fn try_reserve_slot(&self, _ctx: &dyn SlotReservationContext) -> Option<SlotSupplierPermit> {
        matches!(self.state().try_issue(Instant::now()), Some(Ok(())))
            .then(SlotSupplierPermit::default)
    }

    fn mark_slot_used(&self, _ctx: &dyn SlotMarkUsedContext<SlotKind = SK>) {
        self.state().used += 1;
    }

    fn release_slot(&self, ctx: &dyn SlotReleaseContext<SlotKind = SK>) {
        self.release(ctx.info().is_some());
    }

    fn available_slots(&self) -> Option<usize> {
        let s = self.state();
        Some(s.limit.saturating_sub(s.issued))
    }

    fn slot_supplier_kind(&self) -> String {
        "WorkerHostResizable".to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use temporalio_sdk_core::ActivitySlotKind;

    type ActivitySlots = Slots<ActivitySlotKind>;

    fn spawn_reserve(slots: &ActivitySlots) -> tokio::task::JoinHandle<()> {
        let slots = slots.clone();
        tokio::spawn(async move { slots.reserve().await })
    }

    #[tokio::test]
    async fn raising_admits_at_once_and_lowering_evicts_nothing() {
        let slots = ActivitySlots::new(1);
        slots.reserve().await;
        let waiting = spawn_reserve(&slots);
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(
            !waiting.is_finished(),
            "a second reservation waits at limit 1"
        );
        slots.set_limit(2);
        tokio::time::timeout(Duration::from_secs(1), waiting)
            .await
            .expect("raising the limit admits it")
            .expect("task");
        assert_eq!(slots.usage().issued, 2);
        slots.set_limit(1);
        slots.release(false);
        assert_eq!(slots.usage().issued, 1, "lowering the limit never evicts");
        let third = spawn_reserve(&slots);
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(!third.is_finished(), "still one issued at limit 1");
        slots.release(false);
        tokio::time::timeout(Duration::from_secs(1), third)
            .await
            .expect("a released slot admits the next")
            .expect("task");
    }

    #[tokio::test]
    async fn a_rate_spaces_reservations_and_changes_in_place() {
        let slots = ActivitySlots::new(100);
        slots.set_rate(Some(20.0));
        let start = Instant::now();
        for _ in 0..5 {
            slots.reserve().await;
        }
        let took = start.elapsed();
        assert!(
            took >= Duration::from_millis(190),
            "5 reservations at 20/s take at least 4 gaps of 50 ms: {took:?}"
        );
        slots.set_rate(None);
        let start = Instant::now();
        for _ in 0..50 {
            slots.reserve().await;
        }
        assert!(
            start.elapsed() < Duration::from_millis(100),
            "no rate: no spacing"
        );
    }
}
