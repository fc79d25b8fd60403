//! The difference between two configs, by entry name. Start-up is the difference from an
//! empty config, so start-up and hot reload take the same path.

use super::{HostConfig, HostSettings, SectionReload, WorkerEntry};
use std::time::Duration;

/// What has to happen to go from one config to another.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ConfigDiff {
    /// Entries to start.
    pub added: Vec<WorkerEntry>,
    /// Entries to drain and stop (by name).
    pub removed: Vec<String>,
    /// Entries whose worker is replaced: the new worker starts while the old one drains.
    pub changed: Vec<WorkerEntry>,
    /// Entries left untouched.
    pub unchanged: Vec<String>,
    /// Whether `[temporal]` differs (a new connection is needed).
    pub temporal_changed: bool,
    /// Whether `[deployment]` differs (workers must poll as another version: a restart).
    pub deployment_changed: bool,
    /// `[host]` keys that differ and take effect only when the host starts.
    pub restart_only: Vec<&'static str>,
    /// Workload tables that differ, with what their change does.
    pub sections: Vec<(&'static str, SectionReload)>,
}

impl ConfigDiff {
    /// What turns `old` into `new`. An entry counts as changed when any of its keys differs,
    /// including its effective grace period when `[host] shutdown_grace` changed.
    pub fn between(old: &HostConfig, new: &HostConfig) -> Self {
        let grace = |c: &HostConfig, e: &WorkerEntry| -> Duration { e.grace(&c.host) };
        let mut diff = ConfigDiff {
            temporal_changed: old.temporal != new.temporal,
            deployment_changed: old.deployment != new.deployment,
            restart_only: Self::restart_only_keys(&old.host, &new.host),
            sections: old.sections.changes(&new.sections),
            ..Default::default()
        };
        for e in &new.workers {
            match old.workers.iter().find(|o| o.name == e.name) {
                None => diff.added.push(e.clone()),
                Some(o) if o != e || grace(old, o) != grace(new, e) => diff.changed.push(e.clone()),
                Some(_) => diff.unchanged.push(e.name.clone()),
            }
        }
        diff.removed = old
            .workers
            .iter()
            .filter(|o| !new.workers.iter().any(|e| e.name == o.name))
            .map(|o| o.name.clone())
            .collect();
        diff
    }

    /// The `[host]` keys read only at start-up that differ between `old` and `new`.
    pub fn restart_only_keys(old: &HostSettings, new: &HostSettings) -> Vec<&'static str> {
        [
            ("host.listen", old.listen != new.listen),
            ("host.data_dir", old.data_dir != new.data_dir),
            ("host.reload", old.reload != new.reload),
        ]
        .into_iter()
        .filter_map(|(key, changed)| changed.then_some(key))
        .collect()
    }

    /// Whether nothing needs to happen.
    pub fn is_empty(&self) -> bool {
        self.added.is_empty()
            && self.removed.is_empty()
            && self.changed.is_empty()
            && !self.temporal_changed
            && !self.deployment_changed
            && self.restart_only.is_empty()
            && self.sections.is_empty()
    }
}
