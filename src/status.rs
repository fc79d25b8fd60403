//! What the host knows about itself, for `/readyz` and `/metrics`: the config generation, the
//! outcome of reloads (with the last rejection's reason), and each entry's state, restarts and
//! activity outcomes.

use prometheus::{IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry};
use serde::Serialize;
use std::{
    collections::BTreeMap,
    sync::{Arc, Mutex, MutexGuard},
    time::Instant,
};

/// The life of one entry's worker.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EntryState {
    /// Built, not polling yet.
    Starting,
    /// Polling its queue.
    Running,
    /// Failed; waiting for the next attempt.
    Restarting,
}

impl EntryState {
    const ALL: [EntryState; 3] = [Self::Starting, Self::Running, Self::Restarting];

    fn label(self) -> &'static str {
        match self {
            Self::Starting => "starting",
            Self::Running => "running",
            Self::Restarting => "restarting",
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

#[derive(Debug, Default)]
struct State {
    generation: u64,
    last_reload_error: Option<String>,
    entries: BTreeMap<String, Entry>,
}

/// One entry as `/readyz` reports it.
#[derive(Debug, Clone, Serialize)]
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
}

/// The body of `/readyz`.
#[derive(Debug, Clone, Serialize)]
pub struct ReadyReport {
    /// Config loaded and every entry running.
    pub ready: bool,
    /// Generation of the config running now (0: none yet).
    pub config_generation: u64,
    /// Why the last reload was rejected, if the last reload was.
    pub last_reload_error: Option<String>,
    /// Every entry of the running config.
    pub entries: Vec<EntryReport>,
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
    activities: IntCounterVec,
    uptime: IntGauge,
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
        for m in [
            Box::new(generation.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(reloads.clone()),
            Box::new(entries.clone()),
            Box::new(restarts.clone()),
            Box::new(activities.clone()),
            Box::new(uptime.clone()),
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
            activities,
            uptime,
        }
    }

    /// Serve `collector` on `/metrics` too (a workload's own series). A collector whose names
    /// are taken already is logged and left out.
    pub fn register_collector(&self, collector: Box<dyn prometheus::core::Collector>) {
        if let Err(e) = self.registry.register(collector) {
            tracing::error!(error = %e, "cannot register metrics");
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A config was applied (at start-up or by a reload).
    pub fn applied(&self, generation: u64, is_reload: bool) {
        let mut s = self.state();
        s.generation = generation;
        s.last_reload_error = None;
        self.generation.set(generation as i64);
        if is_reload {
            self.reloads.with_label_values(&["applied"]).inc();
        }
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
        entry.task_queue = task_queue.to_owned();
        if state == EntryState::Restarting {
            entry.restarts += 1;
            self.restarts.with_label_values(&[name]).inc();
        }
    }

    /// An entry left the config.
    pub fn entry_removed(&self, name: &str) {
        self.state().entries.remove(name);
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
            })
            .collect();
        ReadyReport {
            ready: s.generation > 0 && entries.iter().all(|e| e.state == EntryState::Running),
            config_generation: s.generation,
            last_reload_error: s.last_reload_error.clone(),
            entries,
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
