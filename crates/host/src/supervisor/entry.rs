//! One running entry: a local task that owns the entry's SDK worker, restarts it with backoff
//! when it fails, and drains it when told to stop.

use super::{
    ledger::{DrainReport, Ledger},
    restart_backoff::RestartBackoff,
    slot_supplier::EntrySlots,
    worker_factory::{EntryWorker, WorkerFactory, WorkerSpec},
};
use crate::{config::WorkerEntry, status::EntryState};
use anyhow::Result;
use std::{
    cell::{Cell, RefCell},
    rc::Rc,
    time::Duration,
};
use tokio::{task::JoinHandle, time::Instant};
use tokio_util::sync::CancellationToken;

/// How long after its grace period a stopping worker may take to report its cancelled
/// activities before the host stops waiting for it.
pub const DRAIN_SLACK: Duration = Duration::from_secs(10);

type ActionFn = Box<dyn Fn()>;
type GraceFn = Box<dyn Fn(Duration)>;

/// Shared between the entry's task and its handle.
struct Control {
    stop: CancellationToken,
    /// Cancelled when the entry's first worker starts polling.
    polling: CancellationToken,
    shutdown: RefCell<Option<ActionFn>>,
    release_sticky: RefCell<Option<ActionFn>>,
    /// The entry's grace period now: a running worker takes a new one in place.
    grace: Cell<Duration>,
    set_grace: RefCell<Option<GraceFn>>,
}

impl Control {
    fn new(grace: Duration) -> Self {
        Self {
            stop: CancellationToken::new(),
            polling: CancellationToken::new(),
            shutdown: RefCell::default(),
            release_sticky: RefCell::default(),
            grace: Cell::new(grace),
            set_grace: RefCell::default(),
        }
    }

    fn stop(&self) {
        self.stop.cancel();
        if let Some(shutdown) = self.shutdown.borrow().as_ref() {
            shutdown();
        }
    }

    /// Give the running worker (and any later one) `grace`.
    fn set_grace(&self, grace: Duration) {
        self.grace.set(grace);
        if let Some(set) = self.set_grace.borrow().as_ref() {
            set(grace);
        }
    }
}

/// Handle of a running entry, kept by the supervisor.
pub struct EntryHandle {
    /// The config the worker was built from.
    pub entry: WorkerEntry,
    control: Rc<Control>,
    ledger: Ledger,
    slots: EntrySlots,
    task: JoinHandle<()>,
}

impl EntryHandle {
    /// Build the entry's worker now (so that a replaced worker's successor exists as soon as
    /// the old one stops polling) and run it on the current `LocalSet`. `slots` are the entry's
    /// slot suppliers, shared with the worker this one replaces, if any; they take `entry`'s
    /// limits now. A worker that cannot be built is an error and nothing runs: building again
    /// would fail the same way. A worker that fails later is built again after the delays of
    /// `backoff`.
    pub fn start(
        factory: &Rc<dyn WorkerFactory>,
        entry: WorkerEntry,
        grace: Duration,
        slots: EntrySlots,
        backoff: RestartBackoff,
    ) -> Result<Self> {
        let ledger = Ledger::default();
        let control = Rc::new(Control::new(grace));
        slots.tune(&entry);
        factory
            .status()
            .entry_slots(&entry.name, slots.reader(&entry));
        factory.status().entry_state(
            &entry.name,
            &factory.polled_queue(&entry),
            EntryState::Starting,
        );
        let spec = WorkerSpec {
            entry: entry.clone(),
            grace,
            ledger: ledger.clone(),
            slots: slots.clone(),
        };
        let first = factory.build(&spec).inspect_err(|_| {
            factory.status().entry_state(
                &entry.name,
                &factory.polled_queue(&entry),
                EntryState::Failed,
            );
        })?;
        let rebuild = Rebuild {
            factory: factory.clone(),
            spec,
        };
        let task = tokio::task::spawn_local(supervise(rebuild, control.clone(), first, backoff));
        Ok(Self {
            entry,
            control,
            ledger,
            slots,
            task,
        })
    }

    /// Report the entry as this handle runs it again (its replacement could not be built, so
    /// it goes on).
    pub fn report_running(&self, factory: &Rc<dyn WorkerFactory>) {
        let status = factory.status();
        status.entry_state(
            &self.entry.name,
            &factory.polled_queue(&self.entry),
            EntryState::Running,
        );
        status.entry_slots(&self.entry.name, self.slots.reader(&self.entry));
    }

    /// The entry's slot suppliers, to hand to a replacement.
    pub fn slots(&self) -> EntrySlots {
        self.slots.clone()
    }

    /// Put `entry`'s limits and `grace` in force on the running worker, in place (only the keys
    /// of [`WorkerEntry::with_tuning_of`] may differ from the running entry's). A worker already
    /// stopping keeps the grace period it stopped with.
    pub fn tune(&mut self, entry: WorkerEntry, grace: Duration) {
        self.slots.tune(&entry);
        if !self.control.stop.is_cancelled() {
            self.control.set_grace(grace);
        }
        self.entry = entry;
    }

    /// Resolves once the entry's worker polls (at most after `patience`).
    pub fn polling(&self, patience: Duration) -> impl Future<Output = ()> + 'static {
        let polling = self.control.polling.clone();
        async move {
            let _ = tokio::time::timeout(patience, polling.cancelled()).await;
        }
    }

    /// Send the next task of each workflow to the normal queue instead of this worker's sticky
    /// queue (it still polls both): the first step of a replacement.
    pub fn release_sticky(&self) {
        if let Some(release) = self.control.release_sticky.borrow().as_ref() {
            release();
        }
    }

    /// Stop polling now; in-flight activities go on for the grace period.
    pub fn begin_stop(&self) {
        self.ledger.mark_stopping();
        self.control.stop();
    }

    /// Activities running now.
    pub fn in_flight(&self) -> usize {
        self.ledger.in_flight()
    }

    /// Wait until the stopped worker has drained, at most its grace period plus
    /// [`DRAIN_SLACK`]; what still runs then is abandoned and reported.
    pub async fn finish(self) -> (WorkerEntry, DrainReport) {
        let mut task = self.task;
        let grace = self.control.grace.get();
        let waited = tokio::time::timeout(grace + DRAIN_SLACK, &mut task).await;
        if waited.is_err() {
            task.abort();
        }
        (self.entry, self.ledger.report())
    }
}

/// What an entry's task needs to build its worker again after a failure.
struct Rebuild {
    factory: Rc<dyn WorkerFactory>,
    spec: WorkerSpec,
}

impl Rebuild {
    fn build(&self) -> Result<Box<dyn EntryWorker>> {
        self.factory.build(&self.spec)
    }
}

async fn supervise(
    rebuild: Rebuild,
    control: Rc<Control>,
    first: Box<dyn EntryWorker>,
    policy: RestartBackoff,
) {
    let (factory, entry) = (&rebuild.factory, &rebuild.spec.entry);
    let mut next = Some(Ok(first));
    let mut backoff = policy.first;
    loop {
        let built = next.take().unwrap_or_else(|| rebuild.build());
        match built {
            Ok(worker) => {
                let set_grace = worker.grace_handle();
                set_grace(control.grace.get());
                *control.set_grace.borrow_mut() = Some(set_grace);
                *control.shutdown.borrow_mut() = Some(worker.shutdown_handle());
                *control.release_sticky.borrow_mut() = Some(worker.sticky_release_handle());
                if control.stop.is_cancelled() {
                    control.stop();
                }
                tracing::info!(entry = %entry.name, task_queue = %factory.polled_queue(entry), "worker polling");
                factory.status().entry_state(
                    &entry.name,
                    &factory.polled_queue(entry),
                    EntryState::Running,
                );
                let started = Instant::now();
                let run = worker.run();
                control.polling.cancel();
                let result = run.await;
                control.shutdown.borrow_mut().take();
                control.set_grace.borrow_mut().take();
                control.release_sticky.borrow_mut().take();
                if control.stop.is_cancelled() {
                    if let Err(e) = result {
                        tracing::warn!(entry = %entry.name, error = %e, "worker reported an error while stopping");
                    }
                    return;
                }
                backoff = policy.after_run(backoff, started.elapsed());
                match result {
                    Ok(()) => {
                        tracing::warn!(entry = %entry.name, ?backoff, "worker stopped on its own; restarting")
                    }
                    Err(e) => {
                        tracing::error!(entry = %entry.name, error = %e, ?backoff, "worker failed; restarting")
                    }
                }
            }
            Err(e) => {
                tracing::error!(entry = %entry.name, error = format!("{e:#}"), ?backoff, "cannot start worker; retrying")
            }
        }
        factory.status().entry_state(
            &entry.name,
            &factory.polled_queue(entry),
            EntryState::Restarting,
        );
        tokio::select! {
            _ = tokio::time::sleep(backoff) => {}
            _ = control.stop.cancelled() => return,
        }
        backoff = policy.next(backoff);
    }
}
