//! The host process: load the config, reach Temporal (starting a dev server if asked), run the
//! supervisor, follow reload requests, and drain on SIGINT/SIGTERM.

use crate::{
    Registry,
    config::{self, HostConfig},
    sdk_metrics::SdkMetrics,
    services::{HostServices, load_or_create_host_id},
    status::{DeploymentReport, HostStatus},
    supervisor::{
        ReloadOutcome, SdkWorkerFactory, Supervisor,
        signals::StopSignals,
        watcher::{ReloadRequests, ReloadTrigger},
    },
    temporal::{self, DevServer, connection::default_identity},
};
use anyhow::{Context, Result};
use std::{
    path::{Path, PathBuf},
    process::ExitCode,
    time::{Duration, Instant},
};
use temporalio_client::Client;
use temporalio_sdk_core::{CoreRuntime, RuntimeOptions};

/// Exit code when the config is invalid.
pub const EXIT_BAD_CONFIG: u8 = 2;
/// Exit code when the shutdown had to cancel or abandon activities.
pub const EXIT_UNCLEAN_DRAIN: u8 = 3;
/// How long the host keeps trying to reach Temporal at start-up.
const CONNECT_PATIENCE: Duration = Duration::from_secs(60);
/// How often each worker reports itself to the server (`temporal worker list`, the UI).
const WORKER_HEARTBEAT_INTERVAL: Duration = Duration::from_secs(10);

/// What `worker-host run` was asked to do.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// The config file.
    pub config: PathBuf,
    /// Start a dev server when nothing listens at the address (as `dev_server = true`).
    pub dev: bool,
}

/// Run the host until SIGINT/SIGTERM. Must be called inside a `tokio::task::LocalSet`.
///
/// The first signal drains in-flight work; a second one ends the process at once
/// (`std::process::exit` with [`EXIT_UNCLEAN_DRAIN`]): the dev server is killed, and
/// blocking work (parsing, ...) is abandoned rather than waited for.
pub async fn run(options: RunOptions, registry: Registry) -> Result<ExitCode> {
    let config = match config::load(&options.config, &registry) {
        Ok(c) => c,
        Err(errors) => {
            eprint!("{errors}");
            return Ok(ExitCode::from(EXIT_BAD_CONFIG));
        }
    };
    let mut signals = StopSignals::listen().context("cannot listen for SIGINT/SIGTERM")?;
    crate::data_dir::ensure(&config.host.data_dir)?;
    let mut dev_server = if options.dev || config.temporal.dev_server {
        DevServer::start_if_needed(
            &config.temporal.address,
            &config.temporal.namespace,
            &config.host.data_dir,
        )
        .await?
    } else {
        None
    };
    let result = serve(
        &options.config,
        config,
        registry,
        &mut signals,
        dev_server.as_mut(),
    )
    .await;
    if let Some(server) = dev_server.as_mut() {
        let interrupted = tokio::select! {
            _ = server.stop() => None,
            signal = signals.next() => Some(signal),
        };
        if let Some(signal) = interrupted {
            exit_at_once(signal, Some(server));
        }
    }
    result
}

/// End the process now: kill the dev server and abandon whatever still runs.
fn exit_at_once(signal: &str, dev_server: Option<&mut DevServer>) -> ! {
    tracing::error!(
        signal,
        "second signal: exiting at once without waiting for in-flight work"
    );
    if let Some(server) = dev_server {
        server.kill_now();
    }
    std::process::exit(i32::from(EXIT_UNCLEAN_DRAIN))
}

async fn serve(
    path: &Path,
    config: HostConfig,
    registry: Registry,
    signals: &mut StopSignals,
    dev_server: Option<&mut DevServer>,
) -> Result<ExitCode> {
    // The endpoints answer while Temporal is still being reached: /readyz says why it is not.
    let sdk_metrics = SdkMetrics::start()?;
    let telemetry = sdk_metrics.telemetry_options();
    let status = HostStatus::new();
    status.set_deployment(config.deployment.as_ref().map(|d| DeploymentReport {
        name: d.name.clone(),
        build_id: temporal::deployment::build_id(d),
    }));
    crate::http::serve(&config.host.listen, status.clone(), sdk_metrics).await?;
    let client = tokio::select! {
        c = connect_patiently(&config, &status) => c?,
        s = signals.next() => {
            tracing::info!(signal = s, "stopped before Temporal answered");
            return Ok(ExitCode::SUCCESS);
        }
    };
    match temporal::connection::completes_polls_on_shutdown(&client, &config.temporal.namespace)
        .await
    {
        Ok(true) => {}
        Ok(false) => tracing::warn!(
            "this Temporal server does not complete polls of stopping workers \
             (dynamic config frontend.enableCancelWorkerPollsOnShutdown=true turns it on): a task \
             handed out at the instant a worker stops for a reload or shutdown waits for its \
             timeout before it is retried"
        ),
        Err(e) => tracing::warn!(
            error = format!("{e:#}"),
            "cannot read namespace capabilities"
        ),
    }
    // SDK core's runtime: the host builds core workers itself (see `SdkWorkerFactory`).
    let runtime = CoreRuntime::new_assume_tokio(
        RuntimeOptions::builder()
            .telemetry_options(telemetry)
            .heartbeat_interval(Some(WORKER_HEARTBEAT_INTERVAL))
            .build()
            .map_err(anyhow::Error::msg)?,
    )
    .context("cannot start the Temporal SDK runtime")?;
    let identity = config
        .temporal
        .identity
        .clone()
        .unwrap_or_else(default_identity);
    temporal::reachability::watch(
        client.clone(),
        config.temporal.address.clone(),
        status.clone(),
    );
    temporal::queue_depth::watch(
        client.clone(),
        config.temporal.namespace.clone(),
        status.clone(),
    );
    let host_id = load_or_create_host_id(&config.host.data_dir)?;
    tracing::info!(host_id, "host-local queues are <task_queue>@{host_id}");
    let services = HostServices::new(host_id, client, status.clone());
    let factory = SdkWorkerFactory::new(runtime, services, registry.clone(), identity)
        .with_deployment(config.deployment.clone());
    #[cfg(feature = "fault-injection")]
    let factory = crate::fault_injection::FaultyFactory::from_env(factory)?;
    let mut reloads = ReloadRequests::start(path, config.host.reload)?;
    let mut supervisor = Supervisor::new(factory);
    record(&status, &supervisor.apply(config), None);

    let signal = loop {
        tokio::select! {
            s = signals.next() => break s,
            trigger = reloads.next() => {
                let outcome = supervisor.reload(config::load(path, &registry));
                record(&status, &outcome, Some(trigger));
            }
        }
    };
    tracing::info!(signal, "stop requested; a second signal exits at once");
    status.stopping();
    let report = tokio::select! {
        r = supervisor.shutdown() => r,
        s = signals.next() => exit_at_once(s, dev_server),
    };
    Ok(if report.is_clean() {
        tracing::info!("all in-flight work drained; exiting");
        ExitCode::SUCCESS
    } else {
        tracing::warn!("exiting after cancelling in-flight work");
        ExitCode::from(EXIT_UNCLEAN_DRAIN)
    })
}

/// Log a config outcome (one line) and count it in the status (which shows what an applied
/// config changed).
fn record(status: &HostStatus, outcome: &ReloadOutcome, trigger: Option<ReloadTrigger>) {
    match outcome {
        ReloadOutcome::Applied(applied) => {
            let mut details = serde_json::to_value(applied).unwrap_or_default();
            if let Some(fields) = details.as_object_mut() {
                fields.insert("trigger".into(), serde_json::json!(trigger));
            }
            status.applied(applied.generation, trigger.is_some(), details);
            status.entries_changed("tuned", &applied.tuned);
            status.entries_changed("replaced", &applied.replaced);
            tracing::info!(
                generation = applied.generation,
                ?trigger,
                started = ?applied.started,
                tuned = ?applied.tuned,
                replaced = ?applied.replaced,
                stopped = ?applied.stopped,
                sections = ?applied.sections,
                pending_restart = ?applied.pending_restart,
                "config applied"
            );
            for failed in &applied.failed {
                tracing::error!(
                    entry = failed.name,
                    error = failed.error,
                    "entry not started: its worker cannot be built"
                );
            }
        }
        ReloadOutcome::Unchanged { generation } => {
            status.unchanged();
            tracing::info!(generation, ?trigger, "config unchanged");
        }
        ReloadOutcome::Rejected { reason } => {
            let reason = reason.to_string();
            status.rejected(&reason);
            tracing::error!(
                ?trigger,
                "config rejected; the running config stays:\n{reason}"
            );
        }
    }
}

async fn connect_patiently(config: &HostConfig, status: &HostStatus) -> Result<Client> {
    let deadline = Instant::now() + CONNECT_PATIENCE;
    loop {
        match temporal::connect(&config.temporal).await {
            Ok(client) => return Ok(client),
            Err(e) if Instant::now() < deadline => {
                status.temporal_checked(Err(format!("{e:#}")));
                tracing::warn!(
                    error = format!("{e:#}"),
                    "Temporal not reachable yet; retrying"
                );
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
            Err(e) => return Err(e),
        }
    }
}
