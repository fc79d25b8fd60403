//! The supervisor: keeps one running worker per config entry and moves from one config to the
//! next by applying their difference. Start-up is the difference from an empty config.
//!
//! Workers run on the current `tokio::task::LocalSet` (the SDK's `Worker::run` is not `Send`).

pub mod entry;
mod interceptor;
pub mod ledger;
pub mod outcome;
pub mod restart_backoff;
pub mod signals;
pub mod slot_supplier;
pub mod watcher;
pub mod worker_factory;

use crate::config::{
    ConfigDiff, ConfigErrors, HostConfig, HostSettings, SectionReload, WorkerEntry,
};
use entry::EntryHandle;
use futures::future::LocalBoxFuture;
pub use ledger::{ActivityRef, DrainReport};
pub use outcome::{Applied, FailedEntry, Rejection, ReloadOutcome};
pub use restart_backoff::RestartBackoff;
use slot_supplier::EntrySlots;
use std::{collections::BTreeMap, rc::Rc, time::Duration};
use tokio::task::JoinHandle;
pub use worker_factory::{EntryWorker, SdkWorkerFactory, WorkerFactory, WorkerSpec};

/// How long a replaced worker keeps polling after its successor started polling, so that the
/// entry's queue is never without a poller (make-before-break), and so that it takes the tasks
/// already put on its sticky queue before it stops.
const POLL_OVERLAP: Duration = Duration::from_millis(500);
/// How long a replaced worker waits at most for its successor to poll before it stops anyway.
const SUCCESSOR_PATIENCE: Duration = Duration::from_secs(5);

/// Stopped entries and what their stop did to in-flight work.
#[derive(Debug, Default)]
pub struct ShutdownReport {
    /// One report per entry that was running or draining.
    pub entries: Vec<(String, DrainReport)>,
}

impl ShutdownReport {
    /// Every in-flight activity finished on its own.
    pub fn is_clean(&self) -> bool {
        self.entries.iter().all(|(_, r)| r.is_clean())
    }
}

/// The running entries of one host.
pub struct Supervisor {
    factory: Rc<dyn WorkerFactory>,
    backoff: RestartBackoff,
    config: HostConfig,
    /// `[host]` as the last applied file wrote it: its start-up-only keys may differ from the
    /// running ones (they wait for a restart), and writing them again is no change.
    written_host: HostSettings,
    generation: u64,
    entries: BTreeMap<String, EntryHandle>,
    /// Entries of the file that run nothing because their worker could not be built.
    failed: Vec<String>,
    draining: Vec<JoinHandle<(String, DrainReport)>>,
}

impl Supervisor {
    /// A supervisor running nothing yet; [`Supervisor::apply`] starts the entries.
    pub fn new(factory: impl WorkerFactory + 'static) -> Self {
        Self {
            factory: Rc::new(factory),
            backoff: RestartBackoff::default(),
            config: HostConfig::default(),
            written_host: HostSettings::default(),
            generation: 0,
            entries: BTreeMap::new(),
            failed: Vec::new(),
            draining: Vec::new(),
        }
    }

    /// Restart failed workers after the delays of `backoff` instead of the default ones.
    pub fn with_restart_backoff(mut self, backoff: RestartBackoff) -> Self {
        self.backoff = backoff;
        self
    }

    /// The config running now.
    pub fn config(&self) -> &HostConfig {
        &self.config
    }

    /// Generation of the running config: 0 before the first apply, then +1 per applied change.
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// Move to the config just loaded, or keep the running one when it did not load. This is
    /// the one place that decides what a reload does.
    pub fn reload(&mut self, loaded: Result<HostConfig, ConfigErrors>) -> ReloadOutcome {
        match loaded {
            Ok(config) => self.apply(config),
            Err(errors) => ReloadOutcome::Rejected {
                reason: Rejection::Invalid(errors),
            },
        }
    }

    /// Move to `new`: start added entries, tune entries whose limits or grace period alone
    /// changed (in place),
    /// replace the other changed ones (the new worker polls, then the old one stops polling and
    /// drains), stop removed ones, leave the rest alone. Start-up is the move from
    /// nothing (generation 0), where every key takes effect.
    pub fn apply(&mut self, mut new: HostConfig) -> ReloadOutcome {
        let diff = ConfigDiff::between(&self.config, &new);
        let mut pending_restart = Vec::new();
        if self.generation > 0 {
            if diff.temporal_changed {
                return ReloadOutcome::Rejected {
                    reason: Rejection::TemporalChanged,
                };
            }
            let restart_tables: Vec<String> = diff
                .sections
                .iter()
                .filter(|(_, effect)| *effect == SectionReload::Restart)
                .map(|(name, _)| (*name).to_owned())
                .chain(diff.deployment_changed.then(|| "deployment".to_owned()))
                .collect();
            if !restart_tables.is_empty() {
                return ReloadOutcome::Rejected {
                    reason: Rejection::NeedsRestart(restart_tables),
                };
            }
            // A start-up-only key written again as the last file wrote it is no change.
            let since_last_file = ConfigDiff {
                restart_only: ConfigDiff::restart_only_keys(&self.written_host, &new.host),
                ..diff.clone()
            };
            if since_last_file.is_empty() {
                return ReloadOutcome::Unchanged {
                    generation: self.generation,
                };
            }
        }
        self.written_host = new.host.clone();
        if self.generation > 0 {
            // Keys read only at start keep their running values until a restart.
            new.host.listen = self.config.host.listen.clone();
            new.host.data_dir = self.config.host.data_dir.clone();
            new.host.reload = self.config.host.reload;
            pending_restart = diff.restart_only.iter().map(|k| (*k).to_owned()).collect();
        }
        let mut applied = Applied {
            pending_restart,
            sections: diff.sections.iter().map(|(n, _)| (*n).to_owned()).collect(),
            stopped: diff.removed.clone(),
            ..Applied::default()
        };
        for name in std::mem::take(&mut self.failed) {
            if !new.workers.iter().any(|e| e.name == name) {
                self.factory.status().entry_removed(&name);
            }
        }
        for name in &diff.removed {
            if let Some(old) = self.entries.remove(name) {
                self.retire(old, None);
            }
            self.factory.status().entry_removed(name);
        }
        if self.generation == 0 {
            // The workers built next may read the host's settings as they are made (the
            // indexing workload opens its graph store under `data_dir`): at start-up they must
            // see this config, not the defaults. No activity runs yet, so the host-local routes
            // of an entry that then fails to start are never used (they are corrected below).
            self.factory.config_applied(&new);
        }
        let mut running = new.clone();
        for entry in &diff.tuned {
            if let Some(handle) = self.entries.get_mut(&entry.name) {
                handle.tune(entry.clone(), entry.grace(&new.host));
                applied.tuned.push(entry.name.clone());
            }
        }
        for entry in &diff.changed {
            let Some(old) = self.entries.remove(&entry.name) else {
                continue;
            };
            let slots = old.slots();
            match self.start(entry, &new, slots) {
                Ok(()) => {
                    let successor = self.entries[&entry.name].polling(SUCCESSOR_PATIENCE);
                    self.retire(old, Some(Box::pin(successor)));
                    applied.replaced.push(entry.name.clone());
                }
                Err(error) => {
                    applied.failed.push(FailedEntry {
                        name: entry.name.clone(),
                        error,
                    });
                    // The entry goes on as it was, with its previous limits.
                    old.slots().tune(&old.entry);
                    old.report_running(&self.factory);
                    keep_entry(&mut running, &entry.name, Some(old.entry.clone()));
                    self.entries.insert(entry.name.clone(), old);
                }
            }
        }
        for entry in &diff.added {
            match self.start(entry, &new, EntrySlots::of(entry)) {
                Ok(()) => applied.started.push(entry.name.clone()),
                Err(error) => {
                    applied.failed.push(FailedEntry {
                        name: entry.name.clone(),
                        error,
                    });
                    keep_entry(&mut running, &entry.name, None);
                }
            }
        }
        let failed = applied.failed.iter().map(|f| &f.name);
        self.failed = failed.filter(|n| !running.has_entry(n)).cloned().collect();
        self.factory.config_applied(&running);
        self.config = running;
        self.generation += 1;
        applied.generation = self.generation;
        ReloadOutcome::Applied(applied)
    }

    /// Build and run the worker of `entry` under `config`; the builder's error otherwise.
    fn start(
        &mut self,
        entry: &WorkerEntry,
        config: &HostConfig,
        slots: EntrySlots,
    ) -> Result<(), String> {
        let handle = EntryHandle::start(
            &self.factory,
            entry.clone(),
            entry.grace(&config.host),
            slots,
            self.backoff,
        )
        .map_err(|e| format!("{e:#}"))?;
        self.entries.insert(entry.name.clone(), handle);
        Ok(())
    }

    /// Stop an entry's polling and let it drain in the background, logging the outcome. A
    /// replaced worker first releases its sticky queue (its workflows' next tasks go to the
    /// normal queue, which its `successor` polls too), and stops polling only [`POLL_OVERLAP`]
    /// after its successor polls: a task put on its sticky queue just as it stopped would wait
    /// there for the sticky schedule-to-start timeout.
    fn retire(&mut self, old: EntryHandle, successor: Option<LocalBoxFuture<'static, ()>>) {
        if successor.is_none() {
            old.begin_stop();
        } else {
            old.release_sticky();
        }
        // Finished drains were logged already; only those still running matter to a shutdown.
        self.draining.retain(|task| !task.is_finished());
        self.draining.push(tokio::task::spawn_local(async move {
            if let Some(successor) = successor {
                successor.await;
                tokio::time::sleep(POLL_OVERLAP).await;
                old.begin_stop();
            }
            let (entry, report) = old.finish().await;
            log_drain(&entry.name, &report);
            (entry.name, report)
        }));
    }

    /// Stop every entry, wait for in-flight work up to each grace period, and report.
    pub async fn shutdown(mut self) -> ShutdownReport {
        let entries = std::mem::take(&mut self.entries);
        let in_flight: usize = entries.values().map(EntryHandle::in_flight).sum();
        tracing::info!(
            entries = entries.len(),
            in_flight,
            "stopping: polling stopped, draining in-flight activities"
        );
        for handle in entries.values() {
            handle.begin_stop();
        }
        let mut report = ShutdownReport::default();
        let finishing = entries.into_values().map(EntryHandle::finish);
        for (entry, drain) in futures::future::join_all(finishing).await {
            log_drain(&entry.name, &drain);
            report.entries.push((entry.name, drain));
        }
        for task in std::mem::take(&mut self.draining) {
            if let Ok(done) = task.await {
                report.entries.push(done);
            }
        }
        report
    }
}

/// Make the running config hold `entry` as it runs: its previous settings, or nothing.
fn keep_entry(config: &mut HostConfig, name: &str, entry: Option<WorkerEntry>) {
    match (config.workers.iter().position(|e| e.name == name), entry) {
        (Some(i), Some(e)) => config.workers[i] = e,
        (Some(i), None) => {
            config.workers.remove(i);
        }
        (None, _) => {}
    }
}

fn log_drain(entry: &str, report: &DrainReport) {
    let names = |v: &[ActivityRef]| v.iter().map(ToString::to_string).collect::<Vec<_>>();
    if report.is_clean() {
        tracing::info!(
            entry,
            drained = report.drained.len(),
            activities = ?names(&report.drained),
            "entry stopped; in-flight activities drained"
        );
    } else {
        tracing::warn!(
            entry,
            drained = report.drained.len(),
            cancelled = ?names(&report.cancelled),
            abandoned = ?names(&report.abandoned),
            "entry stopped; grace period ran out"
        );
    }
}
