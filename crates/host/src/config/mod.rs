//! The `workers.toml` schema: what a user may write, with the defaults that apply when a key is
//! left out. Loading (Temporal profile + file + environment) lives in [`load`] and [`profile`],
//! checks in [`validate`], the JSON Schema for editors in [`schema`], and the difference between
//! two configs, which drives start-up and hot reload alike, in [`diff`].

mod catalog;
pub mod diff;
pub mod error;
pub mod key_path;
pub mod load;
pub mod profile;
pub mod schema;
pub mod section;
mod source_map;
pub mod validate;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Deserializer, Serialize};
use std::{borrow::Cow, path::PathBuf, time::Duration};

pub use catalog::Catalog;
pub use diff::ConfigDiff;
pub use error::{ConfigError, ConfigErrors, Location};
pub use key_path::KeyPath;
pub use load::{load, load_or_default, section_type};
pub use profile::ProfileSecrets;
pub use section::{Section, SectionReload, SectionType, Sections};

/// Default address of the Temporal frontend.
pub const DEFAULT_TEMPORAL_ADDRESS: &str = "127.0.0.1:7233";
/// Default address of the health and metrics server.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:9464";

/// A whole `workers.toml`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default)]
#[schemars(
    title = "workers.toml",
    description = "The workers a worker-host process runs"
)]
pub struct HostConfig {
    /// How to reach Temporal.
    pub temporal: TemporalSettings,
    /// Settings of the host process itself.
    pub host: HostSettings,
    /// Worker Versioning: the Worker Deployment this host's workers belong to and their build
    /// id. Absent: versioning is off (workers are unversioned).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deployment: Option<DeploymentSettings>,
    /// The workloads' own tables (`[indexing]`, ...), each parsed by the workload that
    /// registered it.
    #[serde(skip)]
    #[schemars(skip)]
    pub sections: Sections,
    /// One Temporal worker per entry.
    pub workers: Vec<WorkerEntry>,
}

impl HostConfig {
    /// Whether an entry is named `name`.
    pub fn has_entry(&self, name: &str) -> bool {
        self.workers.iter().any(|e| e.name == name)
    }
}

/// The `[temporal]` section.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default)]
pub struct TemporalSettings {
    /// Profile of Temporal's client config file (`TEMPORAL_CONFIG_FILE`, default
    /// `~/.config/temporalio/temporal.toml`) whose address, namespace, TLS and API key apply
    /// where this file and the environment set none. `TEMPORAL_PROFILE` overrides. Default: the
    /// file's `default` profile when it has one.
    pub profile: Option<String>,
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
    /// What the Temporal profile gives that no key of this file holds (its API key, PEM data,
    /// gRPC headers).
    #[serde(skip)]
    #[schemars(skip)]
    pub from_profile: ProfileSecrets,
}

/// gRPC compression between the host and Temporal.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
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
            profile: None,
            address: DEFAULT_TEMPORAL_ADDRESS.to_owned(),
            namespace: "default".to_owned(),
            identity: None,
            dev_server: false,
            compression: Compression::None,
            tls: None,
            from_profile: ProfileSecrets::default(),
        }
    }
}

/// The `[temporal.tls]` section. Secrets never live in the file: the API key is read from the
/// environment variable named by `api_key_env`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
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
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default)]
pub struct HostSettings {
    /// Address of `/healthz`, `/readyz` and `/metrics`. Default `127.0.0.1:9464` (loopback).
    pub listen: String,
    /// How long in-flight activities may run after a stop before they are cancelled.
    /// Default `30s`; an entry's own `shutdown_grace` overrides it.
    #[serde(with = "humantime_serde")]
    #[schemars(with = "HumanDuration")]
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

/// The `[deployment]` section: Worker Versioning. Every worker of the host polls as version
/// `name` / `build_id` of a Worker Deployment; `temporal worker deployment set-current-version`
/// (or `set-ramping-version`) then decides which version new workflows run on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct DeploymentSettings {
    /// Name of the Worker Deployment (the same on every host of every build). Required.
    pub name: String,
    /// Build id of this host's code. Default: a hash of the executable. A CI pipeline sets
    /// `WORKER_HOST_DEPLOYMENT__BUILD_ID` instead of editing the file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub build_id: Option<String>,
}

/// What a workflow does when a new version of the deployment becomes current.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Versioning {
    /// Moves to the current version at its next workflow task (its code must replay on it).
    #[default]
    AutoUpgrade,
    /// Stays on the version it started on until it completes.
    Pinned,
}

impl Versioning {
    /// Its name in `workers.toml`.
    pub fn label(self) -> &'static str {
        match self {
            Self::AutoUpgrade => "auto_upgrade",
            Self::Pinned => "pinned",
        }
    }
}

/// One `[[workers]]` entry: one Temporal worker on one task queue.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[schemars(transform = entry_requires_name_and_queue)]
pub struct WorkerEntry {
    /// Unique name of the entry (used in logs, metrics and reloads).
    #[serde(default)]
    #[schemars(length(min = 1))]
    pub name: String,
    /// Task queue the worker polls.
    #[serde(default)]
    #[schemars(length(min = 1))]
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
    /// Size activity and local-activity slots by the machine's CPU and memory use instead of
    /// the fixed counts above: `{ kind = "resource", target_cpu, target_mem, min, max }`.
    /// Default: fixed counts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slots: Option<SlotSizing>,
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
    #[schemars(with = "Option<HumanDuration>")]
    pub shutdown_grace: Option<Duration>,
    /// Versioning behaviour of this entry's workflows under `[deployment]`: `"auto_upgrade"` or
    /// `"pinned"`. Default `"auto_upgrade"`; only with a `[deployment]`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub versioning: Option<Versioning>,
}

/// `name` and `task_queue` default to empty so that loading can say which entry lacks them; the
/// schema still requires them.
fn entry_requires_name_and_queue(schema: &mut Schema) {
    schema.insert("required".into(), serde_json::json!(["name", "task_queue"]));
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
    /// Versioning behaviour after the default.
    pub fn versioning_behavior(&self) -> Versioning {
        self.versioning.unwrap_or_default()
    }
    /// This entry with `other`'s in-place keys: the limits and the activity rate, which the
    /// entry's own slot suppliers take without a new worker (for an entry with resource-based
    /// `slots`, only `max_concurrent_workflow_tasks`), and `shutdown_grace`, which the running
    /// worker takes until it stops. Equal to `other` when nothing else differs.
    pub fn with_tuning_of(&self, other: &WorkerEntry) -> WorkerEntry {
        let mut tuned = WorkerEntry {
            max_concurrent_workflow_tasks: other.max_concurrent_workflow_tasks,
            shutdown_grace: other.shutdown_grace,
            ..self.clone()
        };
        if self.slots.is_none() {
            tuned.max_concurrent_activities = other.max_concurrent_activities;
            tuned.max_concurrent_local_activities = other.max_concurrent_local_activities;
            tuned.max_activities_per_second = other.max_activities_per_second;
        }
        tuned
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
    fn one() -> Self {
        Self(1)
    }
    fn five_hundred() -> Self {
        Self(500)
    }
}

impl JsonSchema for Limit {
    fn schema_name() -> Cow<'static, str> {
        "Limit".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "A whole number from 1 up",
            "type": "integer",
            "minimum": 1,
            "maximum": u32::MAX,
        })
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

/// How an entry's activity and local-activity slots are sized when not by fixed counts.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(
    tag = "kind",
    rename_all = "snake_case",
    deny_unknown_fields,
    expecting = "a table { kind = \"resource\", target_cpu = 0.8, target_mem = 0.8, min = 1, max = 500 }"
)]
pub enum SlotSizing {
    /// Hand out slots while the host's CPU and memory use stay under the targets (SDK core's
    /// resource-based slot supplier; one controller samples the machine for all such entries).
    Resource {
        /// Target share of the machine's CPU in use, above 0 and at most 1.
        target_cpu: Fraction,
        /// Target share of the machine's memory in use, above 0 and at most 1.
        target_mem: Fraction,
        /// Slots per kind handed out without looking at resources. Default 1.
        #[serde(default = "Limit::one")]
        min: Limit,
        /// Slots per kind at most. Default 500.
        #[serde(default = "Limit::five_hundred")]
        max: Limit,
    },
}

/// A share of a resource: above 0 and at most 1.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Fraction(f64);

impl Fraction {
    /// The value.
    pub fn get(self) -> f64 {
        self.0
    }
}

impl<'de> Deserialize<'de> for Fraction {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let f = f64::deserialize(d)?;
        if f > 0.0 && f <= 1.0 {
            Ok(Fraction(f))
        } else {
            Err(serde::de::Error::custom(format!(
                "must be a share above 0 and at most 1, e.g. 0.8 (got {f})"
            )))
        }
    }
}

impl JsonSchema for Fraction {
    fn schema_name() -> Cow<'static, str> {
        "Fraction".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "A share above 0 and at most 1, e.g. 0.8",
            "type": "number",
            "exclusiveMinimum": 0,
            "maximum": 1,
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

impl JsonSchema for Rate {
    fn schema_name() -> Cow<'static, str> {
        "Rate".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "Events per second, above 0",
            "type": "number",
            "exclusiveMinimum": 0,
        })
    }
}

/// A duration as written in the file: `"30s"`, `"2m"`, `"1h 30m"` (humantime).
struct HumanDuration;

impl JsonSchema for HumanDuration {
    fn schema_name() -> Cow<'static, str> {
        "Duration".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "A duration such as \"30s\", \"2m\" or \"1h 30m\"",
            "type": "string",
            "pattern": "^\\s*[0-9]+\\s*[a-zA-Zµ]+(\\s*[0-9]+\\s*[a-zA-Zµ]+)*\\s*$",
        })
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
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, JsonSchema)]
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
