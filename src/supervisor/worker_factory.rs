//! Turns a config entry into an SDK worker: limits onto the tuner, pollers, rate limits, grace
//! period, and the registry's workflows and activities.

use super::{interceptor::HostInterceptor, ledger::Ledger, slot_gate::SlotGate};
use crate::{
    config::{Pollers, Rate, WorkerEntry},
    services::HostServices,
    status::HostStatus,
};
use anyhow::{Context, Result};
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

/// What every worker of the host shares: one runtime, one client, one registry.
pub struct WorkerFactory {
    runtime: Runtime,
    services: Arc<HostServices>,
    registry: crate::Registry,
    identity: String,
}

impl WorkerFactory {
    /// A factory whose workers report `identity/<entry name>` to the server, their state and
    /// activities to the services' status, and lend `services` to their activities.
    pub fn new(
        runtime: Runtime,
        services: Arc<HostServices>,
        registry: crate::Registry,
        identity: String,
    ) -> Self {
        Self {
            runtime,
            services,
            registry,
            identity,
        }
    }

    /// The host's status, where entries report their state.
    pub fn status(&self) -> &HostStatus {
        self.services.status()
    }

    /// The host's services.
    pub fn services(&self) -> &Arc<HostServices> {
        &self.services
    }

    /// The queue the worker of `entry` polls on this host.
    pub fn polled_queue(&self, entry: &WorkerEntry) -> String {
        entry.polled_queue(self.services.host_id())
    }

    /// Build the worker of `entry`: in-flight activities get `grace` after a stop, pass `gate`
    /// and report to `ledger`.
    pub fn build(
        &self,
        entry: &WorkerEntry,
        grace: Duration,
        ledger: &Ledger,
        gate: &SlotGate,
    ) -> Result<Worker> {
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
        Worker::new(&self.runtime, self.services.client().clone(), options)
            .with_context(|| format!("cannot create the worker of entry `{}`", entry.name))
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
