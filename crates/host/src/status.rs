//! What the host knows about itself, for `/readyz` and `/metrics`: the config generation, the
//! outcome of reloads (with the last rejection's reason), each entry's state, restarts, slots
//! (limit, held, used; read from its slot suppliers at each scrape), tuned and replaced workers,
//! activity outcomes, whether Temporal answers, and the backlog of every configured task queue.
//!
//! Other parts of the host add their own series with [`HostStatus::register`] (indexing totals:
//! files parsed, nodes written, ... belong there), so one `/metrics` scrape shows everything.

use prometheus::{GaugeVec, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry, core::Collector};
use serde::{Deserialize, Serialize};
use std::{
    collections::{BTreeMap, BTreeSet},
    sync::{Arc, Mutex, MutexGuard},
    time::Instant,
};
use tokio::sync::Notify;

/// The life of one entry's worker.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EntryState {
    /// Built, not polling yet.
    Starting,
    /// Polling its queue.
    Running,
    /// Failed; waiting for the next attempt.
    Restarting,
    /// Its worker cannot be built from the config (see the last reload outcome).
    Failed,
}

impl EntryState {
    const ALL: [EntryState; 4] = [
        Self::Starting,
        Self::Running,
        Self::Restarting,
        Self::Failed,
    ];

    /// Its name in metrics, JSON and `worker-host status`.
    pub fn label(self) -> &'static str {
        match self {
            Self::Starting => "starting",
            Self::Running => "running",
            Self::Restarting => "restarting",
            Self::Failed => "failed",
        }
    }
}

#[derive(Debug, Clone)]
struct Entry {
    task_queue: String,
    state: EntryState,
    restarts: u64,
    since: Instant,
}

/// Whether Temporal answered the last reachability check.
#[derive(Debug, Clone, Default)]
enum Temporal {
    /// Not checked yet.
    #[default]
    Unknown,
    Reachable,
    /// Why not, e.g. "Temporal at 127.0.0.1:7233 unreachable: ...".
    Unreachable(String),
}

/// One slot kind of an entry at the moment of a scrape.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SlotReading {
    /// `workflow`, `activity` or `local_activity`.
    pub kind: &'static str,
    /// The limit in force.
    pub limit: usize,
    /// Reservations held (pollers waiting for a task, and running tasks).
    pub issued: usize,
    /// Reservations that carry a task.
    pub used: usize,
}

/// Reads an entry's slots when `/metrics` is scraped.
pub type SlotReader = Arc<dyn Fn() -> Vec<SlotReading> + Send + Sync>;

#[derive(Default)]
struct State {
    generation: u64,
    last_reload_error: Option<String>,
    last_applied: Option<serde_json::Value>,
    stopping: bool,
    entries: BTreeMap<String, Entry>,
    temporal: Temporal,
    /// By task queue, then task type (`workflow`, `activity`).
    backlogs: BTreeMap<String, BTreeMap<String, Backlog>>,
    deployment: Option<DeploymentReport>,
    slots: BTreeMap<String, SlotReader>,
}

/// The Worker Deployment version every worker of a versioned host polls as.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeploymentReport {
    /// Worker Deployment name.
    pub name: String,
    /// Build id of this host.
    pub build_id: String,
}

/// A task queue's backlog of one task type, as the server approximates it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Backlog {
    /// Tasks waiting for a worker.
    pub count: u64,
    /// Age of the oldest waiting task, in seconds (0 when none waits).
    pub age_seconds: f64,
}

/// One entry as `/readyz` reports it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EntryReport {
    /// Entry name.
    pub name: String,
    /// Its task queue.
    pub task_queue: String,
    /// Its state.
    pub state: EntryState,
    /// Restarts after failures since the entry (or its last replacement) started.
    pub restarts: u64,
    /// Seconds in the current state.
    pub uptime_seconds: u64,
    /// Its queue's backlog by task type (`workflow`, `activity`); empty until first read.
    #[serde(default)]
    pub backlog: BTreeMap<String, Backlog>,
}

/// The body of `/readyz`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ReadyReport {
    /// Config loaded, Temporal answers, and every entry running.
    pub ready: bool,
    /// Why the host is not ready (`None` when it is).
    pub reason: Option<String>,
    /// Temporal answered the last check (every couple of seconds).
    pub temporal_reachable: bool,
    /// Generation of the config running now (0: none yet).
    pub config_generation: u64,
    /// Why the last reload was rejected, if the last reload was.
    pub last_reload_error: Option<String>,
    /// What the last applied config changed (at start-up or by a reload): `generation`,
    /// `started`, `replaced`, `stopped`, `failed`, `sections`, `pending_restart`, and the
    /// `trigger` of the reload (`file_changed`, `sighup`; `null` at start-up).
    #[serde(default)]
    pub last_applied: Option<serde_json::Value>,
    /// Every entry of the running config.
    pub entries: Vec<EntryReport>,
    /// The deployment version the workers poll as; absent when unversioned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deployment: Option<DeploymentReport>,
}

/// Shared by the supervisor, the entries' tasks, the activity interceptor and the HTTP server.
#[derive(Clone)]
pub struct HostStatus {
    state: Arc<Mutex<State>>,
    started: Instant,
    registry: Registry,
    generation: IntGauge,
    reloads: IntCounterVec,
    entries: IntGaugeVec,
    restarts: IntCounterVec,
    changes: IntCounterVec,
    slots: IntGaugeVec,
    activities: IntCounterVec,
    uptime: IntGauge,
    temporal_reachable: IntGauge,
    backlog: IntGaugeVec,
    backlog_age: GaugeVec,
    applied_notify: Arc<Notify>,
}

impl HostStatus {
    /// A fresh status with its metrics registered.
    pub fn new() -> Self {
        let registry = Registry::new();
        let generation = IntGauge::new(
            "worker_host_config_generation",
            "Generation of the running config (+1 per applied reload)",
        )
        .expect("valid metric");
        let reloads = IntCounterVec::new(
            Opts::new("worker_host_reloads_total", "Config reloads by outcome"),
            &["outcome"],
        )
        .expect("valid metric");
        let entries = IntGaugeVec::new(
            Opts::new("worker_host_entries", "Config entries by state"),
            &["state"],
        )
        .expect("valid metric");
        let restarts = IntCounterVec::new(
            Opts::new(
                "worker_host_worker_restarts_total",
                "Workers restarted after a failure",
            ),
            &["entry"],
        )
        .expect("valid metric");
        let changes = IntCounterVec::new(
            Opts::new(
                "worker_host_entry_changes_total",
                "Entries changed by a reload, by effect: tuned (new limits in place) or replaced \
                 (a new worker)",
            ),
            &["entry", "effect"],
        )
        .expect("valid metric");
        let slots = IntGaugeVec::new(
            Opts::new(
                "worker_host_entry_slots",
                "An entry's slots by kind: the limit in force, those held (pollers and tasks) \
                 and those used by a task",
            ),
            &["entry", "kind", "state"],
        )
        .expect("valid metric");
        let activities = IntCounterVec::new(
            Opts::new(
                "worker_host_activities_total",
                "Finished activity attempts by outcome",
            ),
            &["entry", "activity_type", "outcome"],
        )
        .expect("valid metric");
        let uptime = IntGauge::new(
            "worker_host_uptime_seconds",
            "Seconds since the host started",
        )
        .expect("valid metric");
        let temporal_reachable = IntGauge::new(
            "worker_host_temporal_reachable",
            "1 when Temporal answered the last reachability check, else 0",
        )
        .expect("valid metric");
        let backlog = IntGaugeVec::new(
            Opts::new(
                "worker_host_task_queue_backlog",
                "Approximate number of tasks waiting on a configured task queue (DescribeTaskQueue)",
            ),
            &["task_queue", "task_type"],
        )
        .expect("valid metric");
        let backlog_age = GaugeVec::new(
            Opts::new(
                "worker_host_task_queue_backlog_age_seconds",
                "Age of the oldest task waiting on a configured task queue",
            ),
            &["task_queue", "task_type"],
        )
        .expect("valid metric");
        for m in [
            Box::new(generation.clone()) as Box<dyn Collector>,
            Box::new(reloads.clone()),
            Box::new(entries.clone()),
            Box::new(restarts.clone()),
            Box::new(changes.clone()),
            Box::new(slots.clone()),
            Box::new(activities.clone()),
            Box::new(uptime.clone()),
            Box::new(temporal_reachable.clone()),
            Box::new(backlog.clone()),
            Box::new(backlog_age.clone()),
        ] {
            registry.register(m).expect("metric names are unique");
        }
        Self {
            state: Arc::default(),
            started: Instant::now(),
            registry,
            generation,
            reloads,
            entries,
            restarts,
            changes,
            slots,
            activities,
            uptime,
            temporal_reachable,
            backlog,
            backlog_age,
            applied_notify: Arc::default(),
        }
    }

    /// Add a collector's series to `/metrics` (e.g. indexing totals: files parsed, nodes and
    /// relationships written). Fails if one of its names is taken.
    pub fn register(&self, collector: Box<dyn Collector>) -> prometheus::Result<()> {
        self.registry.register(collector)
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A config was applied (at start-up or by a reload); `details` is what `/readyz` shows of
    /// it.
    pub fn applied(&self, generation: u64, is_reload: bool, details: serde_json::Value) {
        let mut s = self.state();
        s.generation = generation;
        s.last_reload_error = None;
        s.last_applied = Some(details);
        self.generation.set(generation as i64);
        if is_reload {
            self.reloads.with_label_values(&["applied"]).inc();
        }
        // Read the (new) queues' backlogs now rather than at the next interval.
        self.applied_notify.notify_one();
    }

    /// Resolves after the next config apply (or at once if one happened since the last call).
    pub async fn config_applied(&self) {
        self.applied_notify.notified().await;
    }

    /// The host is stopping: not ready any more, whatever the entries do while they drain.
    pub fn stopping(&self) {
        self.state().stopping = true;
    }

    /// A reload found nothing to change.
    pub fn unchanged(&self) {
        self.state().last_reload_error = None;
        self.reloads.with_label_values(&["unchanged"]).inc();
    }

    /// A reload was refused; the running config stays.
    pub fn rejected(&self, reason: &str) {
        self.state().last_reload_error = Some(reason.to_owned());
        self.reloads.with_label_values(&["rejected"]).inc();
    }

    /// An entry's worker is in `state`.
    pub fn entry_state(&self, name: &str, task_queue: &str, state: EntryState) {
        let mut s = self.state();
        let entry = s.entries.entry(name.to_owned()).or_insert_with(|| Entry {
            task_queue: task_queue.to_owned(),
            state,
            restarts: 0,
            since: Instant::now(),
        });
        if entry.state != state {
            entry.state = state;
            entry.since = Instant::now();
        }
        if state == EntryState::Starting {
            // A new worker of the entry (a start or a replacement) counts its own restarts.
            entry.restarts = 0;
        }
        entry.task_queue = task_queue.to_owned();
        if state == EntryState::Restarting {
            entry.restarts += 1;
            self.restarts.with_label_values(&[name]).inc();
        }
    }

    /// An entry left the config.
    pub fn entry_removed(&self, name: &str) {
        let mut s = self.state();
        s.entries.remove(name);
        if s.slots.remove(name).is_some() {
            for state in ["limit", "issued", "used"] {
                for kind in ["workflow", "activity", "local_activity"] {
                    let _ = self.slots.remove_label_values(&[name, kind, state]);
                }
            }
        }
    }

    /// Where `/metrics` reads the slots of the entry `name`.
    pub fn entry_slots(&self, name: &str, reader: SlotReader) {
        self.state().slots.insert(name.to_owned(), reader);
    }

    /// A reload changed `entries` with `effect` (`tuned` or `replaced`).
    pub fn entries_changed(&self, effect: &str, entries: &[String]) {
        for entry in entries {
            self.changes.with_label_values(&[entry, effect]).inc();
        }
    }

    /// The task queues of the running config's entries.
    pub fn task_queues(&self) -> BTreeSet<String> {
        self.state()
            .entries
            .values()
            .map(|e| e.task_queue.clone())
            .collect()
    }

    /// The workers poll as this deployment version (Worker Versioning).
    pub fn set_deployment(&self, deployment: Option<DeploymentReport>) {
        self.state().deployment = deployment;
    }

    /// Result of a Temporal reachability check: `Err` says why it failed.
    pub fn temporal_checked(&self, result: Result<(), String>) {
        self.temporal_reachable.set(i64::from(result.is_ok()));
        self.state().temporal = match result {
            Ok(()) => Temporal::Reachable,
            Err(reason) => Temporal::Unreachable(reason),
        };
    }

    /// The backlog of `task_type` tasks on `task_queue`, just read from the server.
    pub fn backlog_read(&self, task_queue: &str, task_type: &str, backlog: Backlog) {
        self.backlog
            .with_label_values(&[task_queue, task_type])
            .set(backlog.count as i64);
        self.backlog_age
            .with_label_values(&[task_queue, task_type])
            .set(backlog.age_seconds);
        self.state()
            .backlogs
            .entry(task_queue.to_owned())
            .or_default()
            .insert(task_type.to_owned(), backlog);
    }

    /// Forget the backlogs of queues outside `configured` (entries removed by a reload).
    pub fn retain_backlogs(&self, configured: &BTreeSet<String>) {
        let mut s = self.state();
        s.backlogs.retain(|queue, by_type| {
            let keep = configured.contains(queue);
            if !keep {
                for task_type in by_type.keys() {
                    let _ = self.backlog.remove_label_values(&[queue, task_type]);
                    let _ = self.backlog_age.remove_label_values(&[queue, task_type]);
                }
            }
            keep
        });
    }

    /// An activity attempt of `entry` finished with `outcome`.
    pub fn activity_finished(&self, entry: &str, activity_type: &str, outcome: &str) {
        self.activities
            .with_label_values(&[entry, activity_type, outcome])
            .inc();
    }

    /// The body of `/readyz`.
    pub fn ready_report(&self) -> ReadyReport {
        let s = self.state();
        let entries: Vec<EntryReport> = s
            .entries
            .iter()
            .map(|(name, e)| EntryReport {
                name: name.clone(),
                task_queue: e.task_queue.clone(),
                state: e.state,
                restarts: e.restarts,
                uptime_seconds: e.since.elapsed().as_secs(),
                backlog: s.backlogs.get(&e.task_queue).cloned().unwrap_or_default(),
            })
            .collect();
        let mut reasons = Vec::new();
        if s.stopping {
            reasons.push("stopping: draining in-flight work".to_owned());
        }
        if s.generation == 0 {
            reasons.push("no config loaded yet".to_owned());
        }
        match &s.temporal {
            Temporal::Reachable => {}
            Temporal::Unknown => reasons.push("Temporal not checked yet".to_owned()),
            Temporal::Unreachable(why) => reasons.push(why.clone()),
        }
        let not_running: Vec<String> = entries
            .iter()
            .filter(|e| e.state != EntryState::Running)
            .map(|e| format!("{} ({})", e.name, e.state.label()))
            .collect();
        if !not_running.is_empty() {
            reasons.push(format!("entries not running: {}", not_running.join(", ")));
        }
        ReadyReport {
            ready: reasons.is_empty(),
            reason: (!reasons.is_empty()).then(|| reasons.join("; ")),
            temporal_reachable: matches!(s.temporal, Temporal::Reachable),
            config_generation: s.generation,
            last_reload_error: s.last_reload_error.clone(),
            last_applied: s.last_applied.clone(),
            entries,
            deployment: s.deployment.clone(),
        }
    }

    /// Prometheus text of the host's metrics.
    pub fn metrics_text(&self) -> String {
        self.uptime.set(self.started.elapsed().as_secs() as i64);
        {
            let s = self.state();
            for state in EntryState::ALL {
                let n = s.entries.values().filter(|e| e.state == state).count();
                self.entries
                    .with_label_values(&[state.label()])
                    .set(n as i64);
            }
            for (entry, read) in &s.slots {
                for r in read() {
                    for (state, n) in [("limit", r.limit), ("issued", r.issued), ("used", r.used)] {
                        self.slots
                            .with_label_values(&[entry, r.kind, state])
                            .set(n as i64);
                    }
                }
            }
        }
        let mut out = String::new();
        // Encoding plain counters and gauges into a String cannot fail.
        let _ = prometheus::TextEncoder::new().encode_utf8(&self.registry.gather(), &mut out);
        out
    }
}

impl Default for HostStatus {
    fn default() -> Self {
        Self::new()
    }
}
