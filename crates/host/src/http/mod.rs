//! The host's HTTP endpoints on `[host] listen` (loopback by default): `/healthz` (the process
//! answers), `/readyz` (config loaded, Temporal answers and every entry running; JSON with each
//! entry, its queue's backlog, the last reload error and the reason when not ready) and
//! `/metrics` (Prometheus text: the host's series, then the SDK's). [`listener`] accepts the
//! connections, with the limits a port that may face a network needs.

pub mod listener;

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
    if !addr.ip().is_loopback() {
        tracing::warn!(
            %addr,
            "the health and metrics endpoints listen beyond loopback: anyone who reaches {addr} \
             can read the host's entries, queues and metrics; prefer 127.0.0.1 behind a proxy"
        );
    }
    let app = Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .with_state(Sources {
            status,
            sdk: Arc::new(sdk),
        });
    tokio::spawn(listener::run(listener, app));
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
