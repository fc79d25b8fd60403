//! The difference between two configs, by entry name. Start-up is the difference from an
//! empty config, so start-up and hot reload take the same path.

use super::{HostConfig, SectionReload, WorkerEntry};
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
    /// `[host]` keys (and `deployment`) that differ and take effect only when the host starts.
    pub restart_only: Vec<&'static str>,
    /// Workload tables that differ, with what their change does.
    pub sections: Vec<(&'static str, SectionReload)>,
}

impl ConfigDiff {
    /// What turns `old` into `new`. An entry counts as changed when any of its keys differs,
    /// including its effective grace period when `[host] shutdown_grace` changed.
    pub fn between(old: &HostConfig, new: &HostConfig) -> Self {
        let grace = |c: &HostConfig, e: &WorkerEntry| -> Duration { e.grace(&c.host) };
        let (h, n) = (&old.host, &new.host);
        let restart_only = [
            ("host.listen", h.listen != n.listen),
            ("host.data_dir", h.data_dir != n.data_dir),
            ("host.reload", h.reload != n.reload),
            ("deployment", old.deployment != new.deployment),
        ];
        let mut diff = ConfigDiff {
            temporal_changed: old.temporal != new.temporal,
            restart_only: restart_only
                .into_iter()
                .filter_map(|(key, changed)| changed.then_some(key))
                .collect(),
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

    /// Whether nothing needs to happen.
    pub fn is_empty(&self) -> bool {
        self.added.is_empty()
            && self.removed.is_empty()
            && self.changed.is_empty()
            && !self.temporal_changed
            && self.restart_only.is_empty()
            && self.sections.is_empty()
    }
}
