//! The named workflows, activities and activity sets that a `workers.toml` may refer to.
//!
//! The binary ships [`Registry::builtin`]; an embedding program starts from it (or from
//! [`Registry::new`]) and adds its own definitions before handing it to the host.

use crate::services::HostServices;
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
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registry")
            .field("workflows", &self.workflows.keys().collect::<Vec<_>>())
            .field("activities", &self.activities.keys().collect::<Vec<_>>())
            .field("activity_sets", &self.activity_sets)
            .finish()
    }
}

impl Registry {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// What the `worker-host` binary ships with.
    pub fn builtin() -> Self {
        crate::indexing::register(crate::canary::register(Self::new()))
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

    /// Workflow type names.
    pub fn workflow_names(&self) -> impl Iterator<Item = &str> {
        self.workflows.keys().map(String::as_str)
    }

    /// Single activity names.
    pub fn activity_names(&self) -> impl Iterator<Item = &str> {
        self.activities.keys().map(String::as_str)
    }

    /// Activity-set names.
    pub fn activity_set_names(&self) -> impl Iterator<Item = &str> {
        self.activity_sets.keys().map(String::as_str)
    }

    /// Whether `name` is a registered workflow type.
    pub fn has_workflow(&self, name: &str) -> bool {
        self.workflows.contains_key(name)
    }

    /// The activities `name` stands for: the members of a set, or the activity itself.
    /// `None` when it is neither (or a set names an activity that was never added).
    pub fn resolve_activities(&self, name: &str) -> Option<Vec<&str>> {
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
            let members = self
                .resolve_activities(name)
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
