//! The host's HTTP endpoints on `[host] listen` (loopback by default): `/healthz` (the process
//! answers), `/readyz` (config loaded and every entry running; JSON with each entry and the last
//! reload error) and `/metrics` (Prometheus text).

use crate::status::HostStatus;
use anyhow::{Context, Result};
use axum::{Json, Router, extract::State, http::StatusCode, response::IntoResponse, routing::get};
use std::net::SocketAddr;

/// Serve the endpoints on `listen` in the background; returns the bound address.
pub async fn serve(listen: &str, status: HostStatus) -> Result<SocketAddr> {
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("cannot listen on {listen} ([host] listen)"))?;
    let addr = listener.local_addr()?;
    let app = Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .with_state(status);
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            tracing::error!(error = %e, "the health and metrics server stopped");
        }
    });
    tracing::info!(%addr, "health and metrics endpoints listening");
    Ok(addr)
}

async fn readyz(State(status): State<HostStatus>) -> impl IntoResponse {
    let report = status.ready_report();
    let code = if report.ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (code, Json(report))
}

async fn metrics(State(status): State<HostStatus>) -> impl IntoResponse {
    (
        [("content-type", "text/plain; version=0.0.4")],
        status.metrics_text(),
    )
}
