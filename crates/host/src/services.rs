//! What the host lends to the activities it runs: its id (which names its host-local queues),
//! the config running now (followed across reloads) with the workloads' tables, the Temporal
//! client, and the status that `/metrics` reports.

use crate::{
    config::{HostConfig, Section},
    status::HostStatus,
};
use anyhow::{Context, Result};
use std::{
    collections::BTreeMap,
    hash::{BuildHasher, Hasher},
    path::{Path, PathBuf},
    sync::{Arc, RwLock},
};
use temporalio_client::Client;

/// Name of the file in the data directory that keeps the host's id across restarts.
const HOST_ID_FILE: &str = "host-id";

/// Shared by every worker of the host and every activity instance.
pub struct HostServices {
    host_id: String,
    client: Client,
    status: HostStatus,
    current: RwLock<Arc<Running>>,
}

/// The config running now, with the host-local queue of each activity under it.
#[derive(Default)]
struct Running {
    config: HostConfig,
    host_local: BTreeMap<String, String>,
}

impl HostServices {
    /// Services of the host `host_id`; [`HostServices::set_config`] tells them what runs.
    pub fn new(host_id: String, client: Client, status: HostStatus) -> Arc<Self> {
        Arc::new(Self {
            host_id,
            client,
            status,
            current: RwLock::default(),
        })
    }

    /// This host's id: host-local queues are `<task_queue>@<host id>`.
    pub fn host_id(&self) -> &str {
        &self.host_id
    }

    /// The client every worker shares.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// The host's status and metrics.
    pub fn status(&self) -> &HostStatus {
        &self.status
    }

    fn running(&self) -> Arc<Running> {
        match self.current.read() {
            Ok(c) => c.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Follow a newly applied config; `host_local` maps each activity this host runs
    /// host-locally to its queue.
    pub fn set_config(&self, config: HostConfig, host_local: BTreeMap<String, String>) {
        let running = Arc::new(Running { config, host_local });
        match self.current.write() {
            Ok(mut c) => *c = running,
            Err(poisoned) => *poisoned.into_inner() = running,
        }
    }

    /// The workload table `S` of the config running now (its defaults when the file has none).
    pub fn section<S: Section>(&self) -> Arc<S> {
        self.running().config.sections.get::<S>()
    }

    /// Where the host keeps its files (`[host] data_dir`).
    pub fn data_dir(&self) -> PathBuf {
        self.running().config.host.data_dir.clone()
    }

    /// The queue on which this host runs `activity` host-locally, if any entry does.
    pub fn host_local_queue(&self, activity: &str) -> Option<String> {
        self.running().host_local.get(activity).cloned()
    }
}

/// The host id kept in `data_dir`, created (`<hostname>-<random hex>`) on the first start. A
/// restarted host keeps its id, so work already routed to its host-local queues (and the files
/// that work needs, which stay in `data_dir`) finds it again.
pub fn load_or_create_host_id(data_dir: &Path) -> Result<String> {
    let path = data_dir.join(HOST_ID_FILE);
    if let Ok(id) = std::fs::read_to_string(&path) {
        let id = id.trim();
        if !id.is_empty() {
            return Ok(id.to_owned());
        }
    }
    crate::data_dir::ensure(data_dir)?;
    let hostname = nix::unistd::gethostname()
        .ok()
        .and_then(|h| h.into_string().ok())
        .unwrap_or_else(|| "host".into());
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u32(std::process::id());
    let id = format!("{hostname}-{:08x}", hasher.finish() as u32);
    std::fs::write(&path, format!("{id}\n"))
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(id)
}
