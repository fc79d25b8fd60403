//! The named workflows, activities, activity sets and workload tables that a `workers.toml` may
//! refer to. Workloads register into it; the host knows them only through it.
//!
//! A program composes its registry from [`Registry::new`] and the workloads it ships (the
//! `worker-host` binary: the canary and repository indexing) before handing it to the host.

use crate::{
    config::{Catalog, HostConfig, Section, SectionType, host_local_queue, section_type},
    services::HostServices,
};
use anyhow::Context;
use std::{collections::BTreeMap, sync::Arc};
use temporalio_common::ActivityDefinition;
use temporalio_sdk::{WorkerOptions, activities::ExecutableActivity};
use temporalio_workflow::workflows::WorkflowImplementation;

type Install =
    Arc<dyn Fn(&mut WorkerOptions, &Arc<HostServices>) -> anyhow::Result<()> + Send + Sync>;

/// Everything a config entry can name, each with the code that registers it on a worker.
#[derive(Clone, Default)]
pub struct Registry {
    workflows: BTreeMap<String, Install>,
    activities: BTreeMap<String, Install>,
    activity_sets: BTreeMap<String, Vec<String>>,
    sections: BTreeMap<&'static str, SectionType>,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registry")
            .field("workflows", &self.workflows.keys().collect::<Vec<_>>())
            .field("activities", &self.activities.keys().collect::<Vec<_>>())
            .field("activity_sets", &self.activity_sets)
            .field("sections", &self.sections.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl Registry {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// Add a workload's own table (`[S::NAME]` in `workers.toml`); its activities read it
    /// with [`HostServices::section`].
    pub fn section<S: Section>(mut self) -> Self {
        self.sections.insert(S::NAME, section_type::<S>());
        self
    }

    /// Add a workflow type, named by its Temporal workflow type name.
    pub fn workflow<W>(mut self) -> Self
    where
        W: WorkflowImplementation,
        <W::Run as temporalio_common::WorkflowDefinition>::Input: Send,
    {
        let install: Install = Arc::new(|options: &mut WorkerOptions, _: &Arc<HostServices>| {
            options
                .register_workflow::<W>()
                .map(|_| ())
                .with_context(|| format!("registering workflow {}", W::name()))
        });
        self.workflows.insert(W::name().to_owned(), install);
        self
    }

    /// Add one activity, named by its Temporal activity type name; `instance` holds its state.
    /// `activity` is the marker the SDK's `#[activities]` macro makes (`MyActivities::fetch`).
    pub fn activity<A>(self, activity: A, instance: Arc<A::Implementer>) -> Self
    where
        A: ActivityDefinition + ExecutableActivity + 'static,
        A::Input: Send + Sync,
        A::Output: Send + Sync,
    {
        self.activity_with(activity, move |_| instance.clone())
    }

    /// Add one activity whose state is made from the host's services when a worker is built
    /// (the host id, the running config, the client).
    pub fn activity_with<A, F>(mut self, activity: A, make: F) -> Self
    where
        A: ActivityDefinition + ExecutableActivity + 'static,
        A::Input: Send + Sync,
        A::Output: Send + Sync,
        F: Fn(&Arc<HostServices>) -> Arc<A::Implementer> + Send + Sync + 'static,
    {
        let name = activity.name().to_owned();
        let install: Install = Arc::new(
            move |options: &mut WorkerOptions, services: &Arc<HostServices>| {
                options.register_activity::<A>(make(services));
                Ok(())
            },
        );
        self.activities.insert(name, install);
        self
    }

    /// Name a group of already added activities, so an entry can take them all at once.
    pub fn activity_set<I, S>(mut self, name: &str, activities: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.activity_sets.insert(
            name.to_owned(),
            activities.into_iter().map(Into::into).collect(),
        );
        self
    }

    /// Register the named workflows and activities on `options`. The names were validated with
    /// the config; an unknown one here is an error all the same.
    pub fn install(
        &self,
        options: &mut WorkerOptions,
        services: &Arc<HostServices>,
        workflows: &[String],
        activities: &[String],
    ) -> anyhow::Result<()> {
        for w in workflows {
            let install = self
                .workflows
                .get(w)
                .with_context(|| format!("unknown workflow {w}"))?;
            install(options, services)?;
        }
        let mut done = std::collections::BTreeSet::new();
        for name in activities {
            let members = Catalog::resolve_activities(self, name)
                .with_context(|| format!("unknown activity or activity set {name}"))?;
            for a in members {
                if done.insert(a) {
                    (self.activities[a])(options, services)?;
                }
            }
        }
        Ok(())
    }
}

impl Registry {
    /// Where this host runs each activity host-locally under `config`: the host-local copy of
    /// the queue of the first `host_local` entry that lists it (by name or through a set).
    pub fn host_local_routes(
        &self,
        config: &HostConfig,
        host_id: &str,
    ) -> BTreeMap<String, String> {
        let mut routes = BTreeMap::new();
        for entry in config.workers.iter().filter(|e| e.host_local) {
            for name in &entry.activities {
                for activity in self.resolve_activities(name).unwrap_or_default() {
                    routes
                        .entry(activity.to_owned())
                        .or_insert_with(|| host_local_queue(&entry.task_queue, host_id));
                }
            }
        }
        routes
    }
}

impl Catalog for Registry {
    fn has_workflow(&self, name: &str) -> bool {
        self.workflows.contains_key(name)
    }

    fn resolve_activities(&self, name: &str) -> Option<Vec<&str>> {
        if let Some(set) = self.activity_sets.get(name) {
            return set
                .iter()
                .map(|a| self.activities.get_key_value(a).map(|(k, _)| k.as_str()))
                .collect();
        }
        self.activities
            .get_key_value(name)
            .map(|(k, _)| vec![k.as_str()])
    }

    fn workflow_names(&self) -> Vec<&str> {
        self.workflows.keys().map(String::as_str).collect()
    }

    fn activity_names(&self) -> Vec<&str> {
        self.activities.keys().map(String::as_str).collect()
    }

    fn activity_set_names(&self) -> Vec<&str> {
        self.activity_sets.keys().map(String::as_str).collect()
    }

    fn sections(&self) -> Vec<(&'static str, SectionType)> {
        self.sections.iter().map(|(n, l)| (*n, *l)).collect()
    }
}
