//! The `workers.toml` schema: what a user may write, with the defaults that apply when a key is
//! left out. Loading (file + environment) lives in [`load`], checks in [`validate`], and the
//! difference between two configs, which drives start-up and hot reload alike, in [`diff`].

mod catalog;
pub mod diff;
pub mod error;
pub mod key_path;
pub mod load;
pub mod section;
mod source_map;
pub mod validate;

use serde::{Deserialize, Deserializer, Serialize};
use std::{path::PathBuf, time::Duration};

pub use catalog::Catalog;
pub use diff::ConfigDiff;
pub use error::{ConfigError, ConfigErrors, Location};
pub use key_path::KeyPath;
pub use load::{load, section_loader};
pub use section::{Section, SectionReload, Sections};

/// Default address of the Temporal frontend.
pub const DEFAULT_TEMPORAL_ADDRESS: &str = "127.0.0.1:7233";
/// Default address of the health and metrics server.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:9464";

/// A whole `workers.toml`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct HostConfig {
    /// How to reach Temporal.
    pub temporal: TemporalSettings,
    /// Settings of the host process itself.
    pub host: HostSettings,
    /// The workloads' own tables (`[indexing]`, ...), each parsed by the workload that
    /// registered it.
    #[serde(skip)]
    pub sections: Sections,
    /// One Temporal worker per entry.
    pub workers: Vec<WorkerEntry>,
}

/// The `[temporal]` section.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct TemporalSettings {
    /// `host:port` of the Temporal frontend. Default `127.0.0.1:7233`; `TEMPORAL_ADDRESS` overrides.
    pub address: String,
    /// Namespace every worker polls in. Default `default`; `TEMPORAL_NAMESPACE` overrides.
    pub namespace: String,
    /// Worker identity shown in the Temporal UI; each entry appends `/<name>`.
    /// Default `<pid>@<hostname>`.
    pub identity: Option<String>,
    /// Start `temporal server start-dev` on loopback when nothing listens at `address`.
    /// Default `false`.
    pub dev_server: bool,
    /// Compress gRPC requests: `"none"` or `"gzip"`. Default `"none"` (gzip costs CPU on every
    /// request and pays off only on slow links).
    pub compression: Compression,
    /// TLS / mTLS / API key. Absent means plaintext.
    pub tls: Option<TlsSettings>,
}

/// gRPC compression between the host and Temporal.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Compression {
    /// No compression.
    #[default]
    None,
    /// Gzip requests and accept gzip responses.
    Gzip,
}

impl Default for TemporalSettings {
    fn default() -> Self {
        Self {
            address: DEFAULT_TEMPORAL_ADDRESS.to_owned(),
            namespace: "default".to_owned(),
            identity: None,
            dev_server: false,
            compression: Compression::None,
            tls: None,
        }
    }
}

/// The `[temporal.tls]` section. Secrets never live in the file: the API key is read from the
/// environment variable named by `api_key_env`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct TlsSettings {
    /// PEM client certificate for mTLS.
    pub client_cert: Option<PathBuf>,
    /// PEM private key of `client_cert`.
    pub client_key: Option<PathBuf>,
    /// PEM CA that signed the server certificate; default: the system roots.
    pub server_ca_cert: Option<PathBuf>,
    /// Server name to verify instead of the host of `address`.
    pub domain: Option<String>,
    /// Name of the environment variable that holds an API key (e.g. `TEMPORAL_API_KEY`).
    pub api_key_env: Option<String>,
}

/// The `[host]` section.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct HostSettings {
    /// Address of `/healthz`, `/readyz` and `/metrics`. Default `127.0.0.1:9464` (loopback).
    pub listen: String,
    /// How long in-flight activities may run after a stop before they are cancelled.
    /// Default `30s`; an entry's own `shutdown_grace` overrides it.
    #[serde(with = "humantime_serde")]
    pub shutdown_grace: Duration,
    /// Follow edits of the config file. Default `true`.
    pub reload: bool,
    /// Where the host keeps its files (dev-server database, clones). Default `.worker-host`.
    pub data_dir: PathBuf,
}

impl Default for HostSettings {
    fn default() -> Self {
        Self {
            listen: DEFAULT_LISTEN.to_owned(),
            shutdown_grace: Duration::from_secs(30),
            reload: true,
            data_dir: PathBuf::from(".worker-host"),
        }
    }
}

/// One `[[workers]]` entry: one Temporal worker on one task queue.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct WorkerEntry {
    /// Unique name of the entry (used in logs, metrics and reloads).
    #[serde(default)]
    pub name: String,
    /// Task queue the worker polls.
    #[serde(default)]
    pub task_queue: String,
    /// Workflow types to run, by registry name.
    #[serde(default)]
    pub workflows: Vec<String>,
    /// Activity-set names or single activity names from the registry.
    #[serde(default)]
    pub activities: Vec<String>,
    /// Poll this host's own copy of the queue, `<task_queue>@<host id>`, instead of the shared
    /// one: work sent there runs on this host only (activities that need files an earlier
    /// activity left on this host). Default `false`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub host_local: bool,
    /// Activity task slots. Default 100.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_concurrent_activities: Option<Limit>,
    /// Workflow task slots. Default 100.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_concurrent_workflow_tasks: Option<Limit>,
    /// Local activity slots. Default 100.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_concurrent_local_activities: Option<Limit>,
    /// Workflows kept in the sticky cache; 0 turns the cache off. Default 1000.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_cached_workflows: Option<u32>,
    /// Concurrent polls per task type: a number, or `{ min, max, initial }` for autoscaling.
    /// Default: the SDK's (5, autoscaling where the server offers it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pollers: Option<Pollers>,
    /// Activities per second this worker starts at most. Default unlimited.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_activities_per_second: Option<Rate>,
    /// Activities per second the server dispatches on this queue (all workers). Default unlimited.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_task_queue_activities_per_second: Option<Rate>,
    /// Grace period for this entry's in-flight activities on stop. Default `[host] shutdown_grace`.
    #[serde(
        default,
        with = "humantime_serde",
        skip_serializing_if = "Option::is_none"
    )]
    pub shutdown_grace: Option<Duration>,
}

/// SDK defaults, used where an entry leaves a limit out.
pub mod defaults {
    /// Activity, workflow-task and local-activity slots.
    pub const SLOTS: u32 = 100;
    /// Sticky cache size.
    pub const MAX_CACHED_WORKFLOWS: u32 = 1000;
}

impl WorkerEntry {
    /// Activity slots after defaults.
    pub fn activity_slots(&self) -> u32 {
        self.max_concurrent_activities
            .map_or(defaults::SLOTS, Limit::get)
    }
    /// Workflow-task slots after defaults.
    pub fn workflow_task_slots(&self) -> u32 {
        self.max_concurrent_workflow_tasks
            .map_or(defaults::SLOTS, Limit::get)
    }
    /// Local-activity slots after defaults.
    pub fn local_activity_slots(&self) -> u32 {
        self.max_concurrent_local_activities
            .map_or(defaults::SLOTS, Limit::get)
    }
    /// Sticky cache size after defaults.
    pub fn cached_workflows(&self) -> u32 {
        self.max_cached_workflows
            .unwrap_or(defaults::MAX_CACHED_WORKFLOWS)
    }
    /// Grace period after falling back to the host's.
    pub fn grace(&self, host: &HostSettings) -> Duration {
        self.shutdown_grace.unwrap_or(host.shutdown_grace)
    }
    /// The queue this entry's worker polls on the host `host_id`: the task queue itself, or
    /// its host-local copy.
    pub fn polled_queue(&self, host_id: &str) -> String {
        if self.host_local {
            host_local_queue(&self.task_queue, host_id)
        } else {
            self.task_queue.clone()
        }
    }
}

/// The host-local copy of `task_queue` on the host `host_id`.
pub fn host_local_queue(task_queue: &str, host_id: &str) -> String {
    format!("{task_queue}@{host_id}")
}

/// A count that must be at least 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Limit(u32);

impl Limit {
    /// A limit of `n`; `None` when `n` is 0.
    pub fn new(n: u32) -> Option<Self> {
        (n > 0).then_some(Self(n))
    }
    /// The value.
    pub fn get(self) -> u32 {
        self.0
    }
}

impl<'de> Deserialize<'de> for Limit {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let n = i64::deserialize(d)?;
        u32::try_from(n).ok().and_then(Limit::new).ok_or_else(|| {
            serde::de::Error::custom(format!(
                "must be a whole number from 1 to {} (got {n})",
                u32::MAX
            ))
        })
    }
}

/// A rate in events per second: finite and above zero.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Rate(f64);

impl Rate {
    /// The value.
    pub fn get(self) -> f64 {
        self.0
    }
}

impl<'de> Deserialize<'de> for Rate {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let r = f64::deserialize(d)?;
        if r.is_finite() && r > 0.0 {
            Ok(Rate(r))
        } else {
            Err(serde::de::Error::custom(format!(
                "must be a number of events per second above 0 (got {r})"
            )))
        }
    }
}

/// How many polls a worker keeps open per task type.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(
    untagged,
    expecting = "a number of pollers (e.g. 5) or an autoscaling table { min = 1, max = 10, initial = 2 }"
)]
pub enum Pollers {
    /// Exactly this many concurrent polls at most.
    Fixed(Limit),
    /// Let the server's feedback scale polls between `min` and `max`.
    Autoscaling {
        /// Lowest number of polls.
        min: Limit,
        /// Highest number of polls.
        max: Limit,
        /// Polls at start.
        initial: Limit,
    },
}
