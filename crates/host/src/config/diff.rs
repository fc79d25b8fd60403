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
    /// Entries whose only changes are limits their running worker takes in place
    /// ([`WorkerEntry::with_tuning_of`]): no worker is replaced.
    pub tuned: Vec<WorkerEntry>,
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
    /// What turns `old` into `new`. An entry is tuned when only keys its worker takes in place
    /// differ (including its effective grace period when `[host] shutdown_grace` changed), and
    /// changed when any other key differs.
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
                Some(o) if o.with_tuning_of(e) != *e => diff.changed.push(e.clone()),
                Some(o) if o != e || grace(old, o) != grace(new, e) => diff.tuned.push(e.clone()),
                Some(_) => diff.unchanged.push(e.name.clone()),
            }
        }
        let names = old.workers.iter().map(|o| &o.name);
        diff.removed = names.filter(|n| !new.has_entry(n)).cloned().collect();
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
            && self.tuned.is_empty()
            && !self.temporal_changed
            && !self.deployment_changed
            && self.restart_only.is_empty()
            && self.sections.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Limit, Pollers};

    fn config(entry: WorkerEntry) -> HostConfig {
        HostConfig {
            workers: vec![entry],
            ..HostConfig::default()
        }
    }

    fn entry() -> WorkerEntry {
        WorkerEntry {
            name: "e".into(),
            task_queue: "q".into(),
            activities: vec!["a".into()],
            max_concurrent_activities: Limit::new(10),
            ..WorkerEntry::default()
        }
    }

    #[test]
    fn limits_and_grace_alone_tune_and_anything_else_replaces() {
        let old = config(entry());
        let limits = config(WorkerEntry {
            max_concurrent_activities: Limit::new(11),
            max_concurrent_workflow_tasks: Limit::new(3),
            ..entry()
        });
        let diff = ConfigDiff::between(&old, &limits);
        assert_eq!(diff.tuned, limits.workers);
        assert!(diff.changed.is_empty() && !diff.is_empty());

        let pollers = config(WorkerEntry {
            max_concurrent_activities: Limit::new(11),
            pollers: Limit::new(3).map(Pollers::Fixed),
            ..entry()
        });
        let diff = ConfigDiff::between(&old, &pollers);
        assert_eq!(
            diff.changed, pollers.workers,
            "a limit and a structural key: replaced"
        );
        assert!(diff.tuned.is_empty());

        let mut grace = old.clone();
        grace.host.shutdown_grace = Duration::from_secs(1);
        let diff = ConfigDiff::between(&old, &grace);
        assert_eq!(diff.tuned, grace.workers, "an inherited grace period tunes");
        assert!(diff.changed.is_empty());

        let own_grace = config(WorkerEntry {
            shutdown_grace: Some(Duration::from_secs(2)),
            ..entry()
        });
        let diff = ConfigDiff::between(&old, &own_grace);
        assert_eq!(
            diff.tuned, own_grace.workers,
            "an entry's grace period tunes"
        );
        assert!(diff.changed.is_empty());
    }
}
