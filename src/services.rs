//! What the host lends to the activities it runs: its id (which names its host-local queues),
//! the config running now (followed across reloads), the Temporal client, and the status that
//! `/metrics` reports.

use crate::{
    Registry,
    config::{HostConfig, host_local_queue},
    status::HostStatus,
};
use anyhow::{Context, Result};
use std::{
    hash::{BuildHasher, Hasher},
    path::Path,
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
    registry: Registry,
    current: RwLock<Arc<HostConfig>>,
}

impl HostServices {
    /// Services of the host `host_id` running `config`.
    pub fn new(
        host_id: String,
        client: Client,
        status: HostStatus,
        registry: Registry,
        config: HostConfig,
    ) -> Arc<Self> {
        Arc::new(Self {
            host_id,
            client,
            status,
            registry,
            current: RwLock::new(Arc::new(config)),
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

    /// The config running now.
    pub fn config(&self) -> Arc<HostConfig> {
        match self.current.read() {
            Ok(c) => c.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Follow a newly applied config.
    pub fn set_config(&self, config: HostConfig) {
        let config = Arc::new(config);
        match self.current.write() {
            Ok(mut c) => *c = config,
            Err(poisoned) => *poisoned.into_inner() = config,
        }
    }

    /// The queue on which this host runs `activity` host-locally: the host-local copy of the
    /// queue of the first `host_local` entry that lists it (by name or through a set).
    pub fn host_local_queue(&self, activity: &str) -> Option<String> {
        self.config()
            .workers
            .iter()
            .filter(|e| e.host_local)
            .find(|e| {
                e.activities.iter().any(|a| {
                    self.registry
                        .resolve_activities(a)
                        .is_some_and(|members| members.contains(&activity))
                })
            })
            .map(|e| host_local_queue(&e.task_queue, &self.host_id))
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
    std::fs::create_dir_all(data_dir)
        .with_context(|| format!("cannot create the data directory {}", data_dir.display()))?;
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
