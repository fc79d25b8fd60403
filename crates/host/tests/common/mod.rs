//! Shared by the in-process tests of the host crate: a catalog of made-up names with two
//! workload tables, configs written as `workers.toml` text, and a fake worker factory that
//! records what the supervisor asks of it.
#![allow(dead_code)] // each test file uses a different part of this module

use anyhow::{Result, bail};
use futures::future::LocalBoxFuture;
use serde::{Deserialize, Serialize};
use std::{cell::RefCell, collections::HashMap, path::Path, rc::Rc, time::Duration};
use tokio::{sync::Notify, time::Instant};
use tokio_util::sync::CancellationToken;
use worker_host_core::{
    HostConfig,
    config::{
        Catalog, ConfigErrors, KeyPath, Section, SectionReload, SectionType, WorkerEntry, load,
        section_type,
    },
    status::HostStatus,
    supervisor::{Applied, EntryWorker, ReloadOutcome, WorkerFactory, WorkerSpec},
};

/// A workload table that applies from the next run on: `[mytable]`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(default)]
pub struct MyTable {
    pub depth: u32,
    pub mode: String,
}

impl Section for MyTable {
    const NAME: &'static str = "mytable";

    fn validate(&self) -> Vec<(KeyPath, String)> {
        if self.depth > 10 {
            vec![(KeyPath::default().key("depth"), "must be at most 10".into())]
        } else {
            Vec::new()
        }
    }
}

/// A workload table whose change needs a restart: `[frozen]`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(default)]
pub struct Frozen {
    pub size: u32,
}

impl Section for Frozen {
    const NAME: &'static str = "frozen";
    const ON_RELOAD: SectionReload = SectionReload::Restart;
}

/// The names the test configs may use: workflow `Wf`, activity `act`, the two tables.
pub struct Names;

impl Catalog for Names {
    fn has_workflow(&self, name: &str) -> bool {
        name == "Wf"
    }
    fn resolve_activities(&self, name: &str) -> Option<Vec<&str>> {
        (name == "act").then(|| vec!["act"])
    }
    fn workflow_names(&self) -> Vec<&str> {
        vec!["Wf"]
    }
    fn activity_names(&self) -> Vec<&str> {
        vec!["act"]
    }
    fn activity_set_names(&self) -> Vec<&str> {
        Vec::new()
    }
    fn sections(&self) -> Vec<(&'static str, SectionType)> {
        vec![
            (MyTable::NAME, section_type::<MyTable>()),
            (Frozen::NAME, section_type::<Frozen>()),
        ]
    }
}

/// `text` loaded as the file `workers.toml`.
pub fn parse(text: &str) -> Result<HostConfig, ConfigErrors> {
    load::parse(Path::new("workers.toml"), text, &Names)
}

/// `text` loaded, when it has no problem.
pub fn config(text: &str) -> HostConfig {
    parse(text).unwrap_or_else(|e| panic!("{e}"))
}

/// One `[[workers]]` entry on `queue` with `slots` activity slots.
pub fn entry(name: &str, queue: &str, slots: u32) -> String {
    format!(
        "\n[[workers]]\nname = \"{name}\"\ntask_queue = \"{queue}\"\nworkflows = [\"Wf\"]\n\
         activities = [\"act\"]\nmax_concurrent_activities = {slots}\n"
    )
}

/// The details of an applied config; panics on any other outcome.
pub fn applied(outcome: ReloadOutcome) -> Applied {
    match outcome {
        ReloadOutcome::Applied(applied) => applied,
        other => panic!("expected the config to be applied, got {other:?}"),
    }
}

/// What the supervisor did through the factory, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A worker of the entry was built: entry name, queue, activity slots.
    Built(String, String, u32),
    /// The entry's worker could not be built.
    Refused(String),
    /// The entry's worker was told to stop.
    Stopped(String),
    /// The entry's worker failed while running.
    Failed(String),
}

/// Shared by the fake factory, its workers and the test.
#[derive(Default)]
pub struct Script {
    events: RefCell<Vec<(Instant, Event)>>,
    failures: RefCell<HashMap<String, u32>>,
    changed: Notify,
}

impl Script {
    /// The next `n` runs of `entry`'s workers fail at once.
    pub fn fail_runs(&self, entry: &str, n: u32) {
        self.failures.borrow_mut().insert(entry.to_owned(), n);
    }

    fn record(&self, event: Event) {
        self.events.borrow_mut().push((Instant::now(), event));
        self.changed.notify_waiters();
    }

    fn take_failure(&self, entry: &str) -> bool {
        let mut failures = self.failures.borrow_mut();
        match failures.get_mut(entry) {
            Some(n) if *n > 0 => {
                *n -= 1;
                true
            }
            _ => false,
        }
    }

    /// Everything recorded so far.
    pub fn events(&self) -> Vec<Event> {
        self.events
            .borrow()
            .iter()
            .map(|(_, e)| e.clone())
            .collect()
    }

    /// Events recorded after the first `n`.
    pub fn events_since(&self, n: usize) -> Vec<Event> {
        self.events().split_off(n)
    }

    /// When each event that satisfies `keep` was recorded.
    pub fn times_of(&self, keep: impl Fn(&Event) -> bool) -> Vec<Instant> {
        self.events
            .borrow()
            .iter()
            .filter(|(_, e)| keep(e))
            .map(|(t, _)| *t)
            .collect()
    }

    /// Wait until `done` holds, at most `limit`. It is checked at every event, and every 10 ms
    /// for conditions on other things (the status), which move when the entries' tasks run.
    pub async fn wait_for(&self, limit: Duration, done: impl Fn(&[Event]) -> bool) {
        let deadline = Instant::now() + limit;
        loop {
            let changed = self.changed.notified();
            if done(&self.events()) {
                return;
            }
            if Instant::now() >= deadline {
                panic!("not reached within {limit:?}; events: {:?}", self.events());
            }
            let _ = tokio::time::timeout(Duration::from_millis(10), changed).await;
        }
    }
}

/// Builds fake workers: a worker on a queue whose name starts with `unbuildable` cannot be
/// built; the others poll nothing and run until stopped, or fail as the script says.
pub struct FakeFactory {
    pub script: Rc<Script>,
    pub status: HostStatus,
}

impl FakeFactory {
    /// A factory, and the script to drive and read it with.
    pub fn new() -> (Self, Rc<Script>, HostStatus) {
        let script = Rc::new(Script::default());
        let status = HostStatus::new();
        let factory = Self {
            script: script.clone(),
            status: status.clone(),
        };
        (factory, script, status)
    }
}

impl WorkerFactory for FakeFactory {
    fn build(&self, spec: &WorkerSpec) -> Result<Box<dyn EntryWorker>> {
        let entry = &spec.entry;
        if entry.task_queue.starts_with("unbuildable") {
            self.script.record(Event::Refused(entry.name.clone()));
            bail!("no worker can poll `{}`", entry.task_queue);
        }
        self.script.record(Event::Built(
            entry.name.clone(),
            entry.task_queue.clone(),
            entry.activity_slots(),
        ));
        Ok(Box::new(FakeWorker {
            name: entry.name.clone(),
            fails: self.script.take_failure(&entry.name),
            stop: CancellationToken::new(),
            script: self.script.clone(),
        }))
    }

    fn status(&self) -> &HostStatus {
        &self.status
    }

    fn polled_queue(&self, entry: &WorkerEntry) -> String {
        entry.task_queue.clone()
    }

    fn config_applied(&self, _config: &HostConfig) {}
}

struct FakeWorker {
    name: String,
    fails: bool,
    stop: CancellationToken,
    script: Rc<Script>,
}

impl EntryWorker for FakeWorker {
    fn shutdown_handle(&self) -> Box<dyn Fn()> {
        let (stop, script, name) = (self.stop.clone(), self.script.clone(), self.name.clone());
        Box::new(move || {
            if !stop.is_cancelled() {
                script.record(Event::Stopped(name.clone()));
                stop.cancel();
            }
        })
    }

    fn run(self: Box<Self>) -> LocalBoxFuture<'static, Result<()>> {
        Box::pin(async move {
            if self.fails {
                self.script.record(Event::Failed(self.name.clone()));
                bail!("worker of `{}` lost its connection", self.name);
            }
            self.stop.cancelled().await;
            Ok(())
        })
    }
}

/// `Built(name, queue, slots)` in short.
pub fn built(name: &str, queue: &str, slots: u32) -> Event {
    Event::Built(name.into(), queue.into(), slots)
}

/// `Stopped(name)` in short.
pub fn stopped(name: &str) -> Event {
    Event::Stopped(name.into())
}
