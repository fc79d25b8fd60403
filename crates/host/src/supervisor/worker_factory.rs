//! Turns a config entry into a running worker. [`WorkerFactory`] is the seam between the
//! supervisor and the SDK (tests put a fake behind it); [`SdkWorkerFactory`] builds real SDK
//! workers: the entry's own slot suppliers as the tuner, pollers, rate limits, grace period,
//! deployment version, and the registry's workflows and activities.
//!
//! The SDK's `WorkerOptions` only take fixed-size or resource-based suppliers, so the factory
//! builds SDK core's worker itself (with the tuner put in the core config) and wraps it in an
//! SDK `Worker`. The core config also allows two workers of an entry on one connection at once,
//! so that a replacement polls before its predecessor stops.

use super::{interceptor::HostInterceptor, ledger::Ledger, slot_supplier::EntrySlots};
use crate::{
    Registry,
    config::{DeploymentSettings, HostConfig, Pollers, Rate, SlotSizing, WorkerEntry},
    services::HostServices,
    status::HostStatus,
    temporal::deployment,
};
use anyhow::{Context, Result, anyhow};
use futures::future::LocalBoxFuture;
use std::{cell::RefCell, sync::Arc, time::Duration};
use temporalio_client::NamespacedClient;
use temporalio_sdk::{
    Worker, WorkerOptions,
    runtime::{AutoscalingOptions, PollerBehavior},
};
use temporalio_sdk_core::{
    CoreRuntime, FixedSizeSlotSupplier, ResourceBasedSlotsOptions, ResourceBasedTunerConfig,
    ResourceController, ResourceSlotOptions, SlotSupplierOptions, TunerBuilder, TunerHolderOptions,
    Worker as CoreWorker, WorkerTuner, init_worker,
};

/// Nexus is never enabled by the host; its slot supplier is still required by the tuner.
const NEXUS_SLOTS: usize = 1;
/// Least time between two resource-based slots above `min` (SDK core's default for
/// activities): lets resource use show before more slots are handed out.
const RESOURCE_RAMP: Duration = Duration::from_millis(50);

/// How long a workflow task may wait on a worker's sticky queue before the server moves it to
/// the entry's normal queue (SDK core's default: 10 s). A task the server puts on the sticky
/// queue of a worker that is being replaced, just before it stops, is taken by no one until then;
/// with 1 s it goes to the successor about 1 s later. A busy worker that takes longer than this
/// to pick up a sticky task gets it from the normal queue instead, with the whole history.
const STICKY_SCHEDULE_TO_START: Duration = Duration::from_secs(1);

/// The one resource controller of the host, with the targets it was made for.
type SharedController = ((f64, f64), Arc<ResourceController>);

/// Everything one worker of an entry is built from.
#[derive(Clone)]
pub struct WorkerSpec {
    /// The entry's config.
    pub entry: WorkerEntry,
    /// How long in-flight activities get after a stop before they are cancelled.
    pub grace: Duration,
    /// Where its activities report.
    pub ledger: Ledger,
    /// The entry's slots, shared by every generation of its worker.
    pub slots: EntrySlots,
}

/// What the supervisor needs to run entries.
pub trait WorkerFactory {
    /// Build the worker `spec` describes.
    fn build(&self, spec: &WorkerSpec) -> Result<Box<dyn EntryWorker>>;
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
    /// Sets how long in-flight activities get after the stop before they are cancelled
    /// (callable until the stop). A worker without activities may ignore it.
    fn grace_handle(&self) -> Box<dyn Fn(Duration)> {
        Box::new(|_| {})
    }
    /// Stops keeping workflows on this worker's sticky queue, so that their next tasks go to
    /// the normal queue (callable while [`EntryWorker::run`] runs). A worker without workflows
    /// may ignore it.
    fn sticky_release_handle(&self) -> Box<dyn Fn()> {
        Box::new(|| {})
    }
    /// Poll and run tasks until stopped (`Ok`) or failed.
    fn run(self: Box<Self>) -> LocalBoxFuture<'static, Result<()>>;
}

/// An SDK worker with its core worker, whose grace period can change until it stops.
struct SdkWorker {
    worker: Worker,
    core: Arc<CoreWorker>,
}

impl EntryWorker for SdkWorker {
    fn shutdown_handle(&self) -> Box<dyn Fn()> {
        Box::new(self.worker.shutdown_handle())
    }
    fn grace_handle(&self) -> Box<dyn Fn(Duration)> {
        let core = self.core.clone();
        Box::new(move |grace| core.set_activity_graceful_shutdown_period(Some(grace)))
    }
    fn sticky_release_handle(&self) -> Box<dyn Fn()> {
        let core = self.core.clone();
        Box::new(move || core.release_sticky_queue())
    }
    fn run(mut self: Box<Self>) -> LocalBoxFuture<'static, Result<()>> {
        Box::pin(async move { Ok(self.worker.run().await?) })
    }
}

/// What every worker of the host shares: one runtime, one client, one registry.
pub struct SdkWorkerFactory {
    runtime: CoreRuntime,
    services: Arc<HostServices>,
    registry: Registry,
    identity: String,
    deployment: Option<DeploymentSettings>,
    /// Made by the first entry with resource-based slots and shared by all of them: one sampler
    /// of the machine's CPU and memory for the whole host.
    controller: RefCell<Option<SharedController>>,
}

impl SdkWorkerFactory {
    /// A factory whose workers report `identity/<entry name>` to the server, their state and
    /// activities to the services' status, and lend `services` to their activities.
    pub fn new(
        runtime: CoreRuntime,
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
            controller: RefCell::default(),
        }
    }

    /// Workers poll as versions of `deployment` (Worker Versioning); `None`: unversioned.
    pub fn with_deployment(mut self, deployment: Option<DeploymentSettings>) -> Self {
        self.deployment = deployment;
        self
    }

    /// The host's resource controller for these targets (validation makes every resource-based
    /// entry name the same; a reload that changes them makes a new controller).
    fn controller(&self, target_cpu: f64, target_mem: f64) -> Arc<ResourceController> {
        let mut shared = self.controller.borrow_mut();
        match shared.as_ref() {
            Some((targets, controller)) if *targets == (target_cpu, target_mem) => {
                controller.clone()
            }
            _ => {
                let controller = Arc::new(ResourceController::new(
                    ResourceBasedSlotsOptions::builder()
                        .target_cpu_usage(target_cpu)
                        .target_mem_usage(target_mem)
                        .build(),
                ));
                *shared = Some(((target_cpu, target_mem), controller.clone()));
                controller
            }
        }
    }

    /// SDK core's tuner for `entry`: its own resizable slot suppliers, or for resource-based
    /// `slots`, the host's controller for activities and local activities.
    fn tuner(
        &self,
        entry: &WorkerEntry,
        slots: &EntrySlots,
    ) -> Result<Arc<dyn WorkerTuner + Send + Sync>> {
        let Some(SlotSizing::Resource {
            target_cpu,
            target_mem,
            min,
            max,
        }) = entry.slots
        else {
            return Ok(Arc::new(
                TunerBuilder::default()
                    .workflow_slot_supplier(Arc::new(slots.workflow.clone()))
                    .activity_slot_supplier(Arc::new(slots.activity.clone()))
                    .local_activity_slot_supplier(Arc::new(slots.local_activity.clone()))
                    .nexus_slot_supplier(Arc::new(FixedSizeSlotSupplier::new(NEXUS_SLOTS)))
                    .build(),
            ));
        };
        let per_kind =
            ResourceSlotOptions::new(min.get() as usize, max.get() as usize, RESOURCE_RAMP);
        let controller = self.controller(target_cpu.get(), target_mem.get());
        let holder = TunerHolderOptions::builder()
            .workflow_slot_options(SlotSupplierOptions::Custom(Arc::new(
                slots.workflow.clone(),
            )))
            .activity_slot_options(SlotSupplierOptions::ResourceBased(per_kind))
            .local_activity_slot_options(SlotSupplierOptions::ResourceBased(per_kind))
            .nexus_slot_options(SlotSupplierOptions::FixedSize { slots: NEXUS_SLOTS })
            .resource_based_config(ResourceBasedTunerConfig::Controller(controller))
            .build_tuner_holder()?;
        Ok(Arc::new(holder))
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

    fn build(&self, spec: &WorkerSpec) -> Result<Box<dyn EntryWorker>> {
        let WorkerSpec {
            entry,
            grace,
            ledger,
            slots,
        } = spec;
        let pollers = entry.pollers.map(poller_behavior);
        // With fixed slots, `max_activities_per_second` is enforced by the activity slots (in
        // place); resource-based slots leave it to the worker.
        let worker_rate = entry
            .slots
            .and(entry.max_activities_per_second)
            .map(Rate::get);
        let mut options = WorkerOptions::new(self.polled_queue(entry))
            .max_cached_workflows(entry.cached_workflows() as usize)
            .maybe_workflow_task_poller_behavior(pollers)
            .maybe_activity_task_poller_behavior(pollers)
            .maybe_max_worker_activities_per_second(worker_rate)
            .maybe_max_task_queue_activities_per_second(
                entry.max_task_queue_activities_per_second.map(Rate::get),
            )
            .graceful_shutdown_period(*grace)
            .sticky_queue_schedule_to_start_timeout(STICKY_SCHEDULE_TO_START)
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
            status: self.services.status().clone(),
        });
        self.registry.install(
            &mut options,
            &self.services,
            &entry.workflows,
            &entry.activities,
        )?;
        let cannot = || format!("cannot create the worker of entry `{}`", entry.name);
        let client = self.services.client();
        let mut core_config = options
            .to_core_options(client.namespace(), client.identity())
            .map_err(|e| anyhow!(e))
            .with_context(cannot)?;
        core_config.tuner = Some(self.tuner(entry, slots).with_context(cannot)?);
        // A replacement polls while its predecessor still runs (make-before-break).
        core_config.skip_client_worker_set_check = true;
        let core = Arc::new(
            init_worker(&self.runtime, core_config, client.connection().clone())
                .with_context(cannot)?,
        );
        let worker = Worker::new_from_core_options(core.clone(), client.options().clone(), options)
            .with_context(cannot)?;
        Ok(Box::new(SdkWorker { worker, core }))
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
