//! The Temporal SDK's own metrics (`temporal_*`: task slots available and used, pollers,
//! activity and workflow task latencies, sticky cache, requests to the server, ...), served on
//! the host's `/metrics` next to the host's `worker_host_*` series, so one scrape sees both.
//!
//! How they get there: SDK core only records metrics through a `CoreMeter`, and its Prometheus
//! meter (`CorePrometheusMeter`) is private to `temporalio-common` together with the registry it
//! writes to — it cannot be registered into the host's `prometheus::Registry`. Writing our own
//! `CoreMeter` would mean re-implementing core's dynamic-label counters, gauges and histograms
//! (~500 lines) and following their changes. Instead the host starts core's own exporter
//! (`start_prometheus_metric_exporter`) on an ephemeral loopback port that nobody else is told
//! about, and on each scrape of `/metrics` reads its text and appends it to the host's. The names
//! cannot clash (`temporal_` vs `worker_host_` prefixes). Every worker series carries the
//! `task_queue` label (and `namespace`, `worker_type`), so each entry is visible.

use crate::http_get;
use anyhow::{Context, Result};
use std::{net::SocketAddr, sync::Arc, time::Duration};
use temporalio_common::telemetry::{
    PrometheusExporterOptions, TelemetryOptions, metrics::CoreMeter,
    start_prometheus_metric_exporter,
};
use tokio::task::AbortHandle;

/// How long a scrape waits for the SDK's exporter before serving the host's series alone.
const SCRAPE_LIMIT: Duration = Duration::from_secs(2);

/// The SDK's Prometheus exporter, running on a private loopback port. Stops on drop.
pub struct SdkMetrics {
    addr: SocketAddr,
    meter: Arc<dyn CoreMeter>,
    server: AbortHandle,
}

impl SdkMetrics {
    /// Start the exporter on `127.0.0.1:<free port>`. Must run inside a Tokio runtime.
    pub fn start() -> Result<Self> {
        let options = PrometheusExporterOptions::builder()
            .socket_addr(SocketAddr::from(([127, 0, 0, 1], 0)))
            // `_total` on counters and seconds for durations, as Prometheus naming asks and as
            // the host's own series do.
            .counters_total_suffix(true)
            .use_seconds_for_durations(true)
            .build();
        let started = start_prometheus_metric_exporter(options)
            .context("cannot start the Temporal SDK's metrics exporter")?;
        Ok(Self {
            addr: started.bound_addr,
            meter: started.meter,
            server: started.abort_handle,
        })
    }

    /// Telemetry options for the SDK runtime that record into this exporter.
    pub fn telemetry_options(&self) -> TelemetryOptions {
        TelemetryOptions::builder()
            .metrics(self.meter.clone())
            // The host's process is the service; no constant `service_name` label on each series.
            .attach_service_name(false)
            .build()
    }

    /// The SDK's series in Prometheus text format.
    pub async fn scrape(&self) -> Result<String> {
        let response = http_get::get(&self.addr.to_string(), "/metrics", SCRAPE_LIMIT).await?;
        anyhow::ensure!(
            response.status == 200,
            "the SDK's metrics exporter answered {}",
            response.status
        );
        Ok(response.body)
    }
}

impl Drop for SdkMetrics {
    fn drop(&mut self) {
        self.server.abort();
    }
}
