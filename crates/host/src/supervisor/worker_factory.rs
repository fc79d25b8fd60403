//! Turns a config entry into a running worker. [`WorkerFactory`] is the seam between the
//! supervisor and the SDK (tests put a fake behind it); [`SdkWorkerFactory`] builds real SDK
//! workers: limits onto the tuner, pollers, rate limits, grace period, deployment version, and
//! the registry's workflows and activities.

use super::{interceptor::HostInterceptor, ledger::Ledger, slot_gate::SlotGate};
use crate::{
    Registry,
    config::{DeploymentSettings, HostConfig, Pollers, Rate, WorkerEntry},
    services::HostServices,
    status::HostStatus,
    temporal::deployment,
};
use anyhow::{Context, Result};
use futures::future::LocalBoxFuture;
use std::{sync::Arc, time::Duration};
use temporalio_sdk::{
    Runtime, Worker, WorkerOptions,
    runtime::{
        AutoscalingOptions, PollerBehavior,
        worker_tuner::{FixedSizeSlotSupplier, TunerHolder},
    },
};

/// Nexus is never enabled by the host; its slot supplier is still required by the tuner.
const NEXUS_SLOTS: usize = 1;

/// What the supervisor needs to run entries.
pub trait WorkerFactory {
    /// Build the worker of `entry`: in-flight activities get `grace` after a stop, pass `gate`
    /// and report to `ledger`.
    fn build(
        &self,
        entry: &WorkerEntry,
        grace: Duration,
        ledger: &Ledger,
        gate: &SlotGate,
    ) -> Result<Box<dyn EntryWorker>>;
    /// Where entries report their state.
    fn status(&self) -> &HostStatus;
    /// The queue the worker of `entry` polls on this host.
    fn polled_queue(&self, entry: &WorkerEntry) -> String;
    /// `config` runs now: tell the activities.
    fn config_applied(&self, config: &HostConfig);
}

/// A built worker, run by its entry's task.
pub trait EntryWorker {
    /// Stops polling; in-flight work drains (callable while [`EntryWorker::run`] runs).
    fn shutdown_handle(&self) -> Box<dyn Fn()>;
    /// Poll and run tasks until stopped (`Ok`) or failed.
    fn run(self: Box<Self>) -> LocalBoxFuture<'static, Result<()>>;
}

impl EntryWorker for Worker {
    fn shutdown_handle(&self) -> Box<dyn Fn()> {
        Box::new(Worker::shutdown_handle(self))
    }
    fn run(mut self: Box<Self>) -> LocalBoxFuture<'static, Result<()>> {
        Box::pin(async move { Ok(Worker::run(&mut self).await?) })
    }
}

/// What every worker of the host shares: one runtime, one client, one registry.
pub struct SdkWorkerFactory {
    runtime: Runtime,
    services: Arc<HostServices>,
    registry: Registry,
    identity: String,
    deployment: Option<DeploymentSettings>,
}

impl SdkWorkerFactory {
    /// A factory whose workers report `identity/<entry name>` to the server, their state and
    /// activities to the services' status, and lend `services` to their activities.
    pub fn new(
        runtime: Runtime,
        services: Arc<HostServices>,
        registry: Registry,
        identity: String,
    ) -> Self {
        Self {
            runtime,
            services,
            registry,
            identity,
            deployment: None,
        }
    }

    /// Workers poll as versions of `deployment` (Worker Versioning); `None`: unversioned.
    pub fn with_deployment(mut self, deployment: Option<DeploymentSettings>) -> Self {
        self.deployment = deployment;
        self
    }
}

impl WorkerFactory for SdkWorkerFactory {
    fn status(&self) -> &HostStatus {
        self.services.status()
    }

    fn polled_queue(&self, entry: &WorkerEntry) -> String {
        entry.polled_queue(self.services.host_id())
    }

    fn config_applied(&self, config: &HostConfig) {
        let routes = self
            .registry
            .host_local_routes(config, self.services.host_id());
        self.services.set_config(config.clone(), routes);
    }

    fn build(
        &self,
        entry: &WorkerEntry,
        grace: Duration,
        ledger: &Ledger,
        gate: &SlotGate,
    ) -> Result<Box<dyn EntryWorker>> {
        let pollers = entry.pollers.map(poller_behavior);
        let tuner = TunerHolder::builder()
            .workflow_task_slot_supplier(FixedSizeSlotSupplier::new(
                entry.workflow_task_slots() as usize
            ))
            .activity_task_slot_supplier(
                FixedSizeSlotSupplier::new(entry.activity_slots() as usize),
            )
            .local_activity_task_slot_supplier(FixedSizeSlotSupplier::new(
                entry.local_activity_slots() as usize,
            ))
            .nexus_task_slot_supplier(FixedSizeSlotSupplier::new(NEXUS_SLOTS))
            .build();
        let mut options = WorkerOptions::new(self.polled_queue(entry))
            .tuner(tuner)
            .max_cached_workflows(entry.cached_workflows() as usize)
            .maybe_workflow_task_poller_behavior(pollers)
            .maybe_activity_task_poller_behavior(pollers)
            .maybe_max_worker_activities_per_second(entry.max_activities_per_second.map(Rate::get))
            .maybe_max_task_queue_activities_per_second(
                entry.max_task_queue_activities_per_second.map(Rate::get),
            )
            .graceful_shutdown_period(grace)
            .client_identity_override(format!("{}/{}", self.identity, entry.name))
            .maybe_deployment_options(
                self.deployment
                    .as_ref()
                    .map(|d| deployment::options(d, entry)),
            )
            .build();
        options.activity_inbound_interceptor(HostInterceptor {
            entry: entry.name.clone(),
            ledger: ledger.clone(),
            gate: gate.clone(),
            status: self.services.status().clone(),
        });
        self.registry.install(
            &mut options,
            &self.services,
            &entry.workflows,
            &entry.activities,
        )?;
        let worker = Worker::new(&self.runtime, self.services.client().clone(), options)
            .with_context(|| format!("cannot create the worker of entry `{}`", entry.name))?;
        Ok(Box::new(worker))
    }
}

fn poller_behavior(p: Pollers) -> PollerBehavior {
    match p {
        Pollers::Fixed(n) => PollerBehavior::SimpleMaximum(n.get() as usize),
        Pollers::Autoscaling { min, max, initial } => PollerBehavior::Autoscaling(
            AutoscalingOptions::builder()
                .minimum(min.get() as usize)
                .maximum(max.get() as usize)
                .initial(initial.get() as usize)
                .build(),
        ),
    }
}
