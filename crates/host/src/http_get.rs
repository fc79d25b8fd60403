//! A plain HTTP GET to a loopback endpoint, for the two places the host is an HTTP client: the
//! SDK's Prometheus exporter (read on every `/metrics` scrape) and `worker-host status` (which
//! reads a running host's `/readyz`). It uses hyper and hyper-util, which tonic and axum already
//! bring in, so no HTTP client crate is added to the build.

use anyhow::{Context, Result};
use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use hyper_util::{client::legacy::Client, rt::TokioExecutor};
use std::time::Duration;

/// A response: status code and body text.
#[derive(Debug, Clone)]
pub struct Response {
    /// HTTP status code.
    pub status: u16,
    /// Body, decoded as UTF-8 (lossily).
    pub body: String,
}

/// `GET http://{addr}{path}`, giving up after `limit` (connect, headers and body together).
pub async fn get(addr: &str, path: &str, limit: Duration) -> Result<Response> {
    let uri: hyper::Uri = format!("http://{addr}{path}")
        .parse()
        .with_context(|| format!("`{addr}` is not a valid host:port"))?;
    let client = Client::builder(TokioExecutor::new()).build_http::<Empty<Bytes>>();
    let request = async {
        let response = client.get(uri).await?;
        let status = response.status().as_u16();
        let body = response.into_body().collect().await?.to_bytes();
        anyhow::Ok(Response {
            status,
            body: String::from_utf8_lossy(&body).into_owned(),
        })
    };
    tokio::time::timeout(limit, request)
        .await
        .map_err(|_| anyhow::anyhow!("no answer within {limit:?}"))?
        .with_context(|| format!("GET http://{addr}{path} failed"))
}
