//! The host's HTTP endpoints on `[host] listen` (loopback by default): `/healthz` (the process
//! answers), `/readyz` (config loaded, Temporal answers and every entry running; JSON with each
//! entry, its queue's backlog, the last reload error and the reason when not ready) and
//! `/metrics` (Prometheus text: the host's series, then the SDK's).

use crate::{sdk_metrics::SdkMetrics, status::HostStatus};
use anyhow::{Context, Result};
use axum::{Json, Router, extract::State, http::StatusCode, response::IntoResponse, routing::get};
use std::{net::SocketAddr, sync::Arc};

#[derive(Clone)]
struct Sources {
    status: HostStatus,
    sdk: Arc<SdkMetrics>,
}

/// Serve the endpoints on `listen` in the background; returns the bound address.
pub async fn serve(listen: &str, status: HostStatus, sdk: SdkMetrics) -> Result<SocketAddr> {
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("cannot listen on {listen} ([host] listen)"))?;
    let addr = listener.local_addr()?;
    let app = Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .with_state(Sources {
            status,
            sdk: Arc::new(sdk),
        });
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            tracing::error!(error = %e, "the health and metrics server stopped");
        }
    });
    tracing::info!(%addr, "health and metrics endpoints listening");
    Ok(addr)
}

async fn readyz(State(sources): State<Sources>) -> impl IntoResponse {
    let report = sources.status.ready_report();
    let code = if report.ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (code, Json(report))
}

async fn metrics(State(sources): State<Sources>) -> impl IntoResponse {
    let mut text = sources.status.metrics_text();
    match sources.sdk.scrape().await {
        Ok(sdk) => text.push_str(&sdk),
        Err(e) => tracing::warn!(
            error = format!("{e:#}"),
            "SDK metrics unavailable; serving the host's alone"
        ),
    }
    ([("content-type", "text/plain; version=0.0.4")], text)
}
