//! The supervisor: keeps one running worker per config entry and moves from one config to the
//! next by applying their difference. Start-up is the difference from an empty config.
//!
//! Workers run on the current `tokio::task::LocalSet` (the SDK's `Worker::run` is not `Send`).

pub mod entry;
mod interceptor;
pub mod ledger;
pub mod signals;
pub mod slot_gate;
pub mod watcher;
pub mod worker_factory;

use crate::config::{ConfigDiff, HostConfig};
use entry::EntryHandle;
pub use ledger::{ActivityRef, DrainReport};
use slot_gate::SlotGate;
use std::{collections::BTreeMap, rc::Rc};
use tokio::task::JoinHandle;
pub use worker_factory::WorkerFactory;

/// What applying a config did.
#[derive(Debug, Clone, PartialEq)]
pub enum ApplyOutcome {
    /// The new config runs now.
    Applied {
        /// Generation number of the config now running.
        generation: u64,
        /// Entries started.
        started: Vec<String>,
        /// Entries whose worker was replaced.
        replaced: Vec<String>,
        /// Entries stopped (draining in the background).
        stopped: Vec<String>,
    },
    /// Nothing differs; the running config stays.
    Unchanged {
        /// Generation number of the config still running.
        generation: u64,
    },
    /// The new config was refused; the running one stays.
    Rejected {
        /// Why.
        reason: String,
    },
}

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
    factory: Rc<WorkerFactory>,
    config: HostConfig,
    generation: u64,
    entries: BTreeMap<String, EntryHandle>,
    draining: Vec<JoinHandle<(String, DrainReport)>>,
}

impl Supervisor {
    /// A supervisor running nothing yet; [`Supervisor::apply`] starts the entries.
    pub fn new(factory: WorkerFactory) -> Self {
        Self {
            factory: Rc::new(factory),
            config: HostConfig::default(),
            generation: 0,
            entries: BTreeMap::new(),
            draining: Vec::new(),
        }
    }

    /// The config running now.
    pub fn config(&self) -> &HostConfig {
        &self.config
    }

    /// Generation of the running config: 0 before the first apply, then +1 per applied change.
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// Move to `new`: start added entries, replace changed ones (the new worker polls while the
    /// old one drains), stop removed ones, leave the rest alone.
    pub fn apply(&mut self, new: HostConfig) -> ApplyOutcome {
        let diff = ConfigDiff::between(&self.config, &new);
        if diff.temporal_changed && self.generation > 0 {
            return ApplyOutcome::Rejected {
                reason: "[temporal] changed: a new connection needs a restart of the host; \
                         revert [temporal] to apply the other changes"
                    .into(),
            };
        }
        if diff.is_empty()
            && self.config.host == new.host
            && self.config.indexing == new.indexing
            && self.generation > 0
        {
            return ApplyOutcome::Unchanged {
                generation: self.generation,
            };
        }
        for name in &diff.removed {
            if let Some(old) = self.entries.remove(name) {
                self.retire(old);
            }
            self.factory.status().entry_removed(name);
        }
        for entry in &diff.changed {
            let gate = match self.entries.remove(&entry.name) {
                Some(old) => {
                    let gate = old.gate();
                    self.retire(old);
                    gate
                }
                None => SlotGate::new(0),
            };
            self.entries.insert(
                entry.name.clone(),
                EntryHandle::start(&self.factory, entry.clone(), entry.grace(&new.host), gate),
            );
        }
        for entry in &diff.added {
            self.entries.insert(
                entry.name.clone(),
                EntryHandle::start(
                    &self.factory,
                    entry.clone(),
                    entry.grace(&new.host),
                    SlotGate::new(0),
                ),
            );
        }
        self.factory.services().set_config(new.clone());
        self.config = new;
        self.generation += 1;
        ApplyOutcome::Applied {
            generation: self.generation,
            started: diff.added.iter().map(|e| e.name.clone()).collect(),
            replaced: diff.changed.iter().map(|e| e.name.clone()).collect(),
            stopped: diff.removed,
        }
    }

    /// Stop an entry's polling and let it drain in the background, logging the outcome.
    fn retire(&mut self, old: EntryHandle) {
        old.begin_stop();
        // Finished drains were logged already; only those still running matter to a shutdown.
        self.draining.retain(|task| !task.is_finished());
        self.draining.push(tokio::task::spawn_local(async move {
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
