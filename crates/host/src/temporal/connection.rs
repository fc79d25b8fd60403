//! One client connection to Temporal, shared by every worker of the host: plaintext, TLS, mTLS
//! and API keys, from `[temporal]` and, under it, Temporal's client config profile.

use crate::config::{Compression, ProfileSecrets, TemporalSettings, TlsSettings};
use anyhow::{Context, Result};
use std::time::Duration;
use temporalio_client::{
    Client, ClientOptions, ClientTlsOptions, Connection, ConnectionOptions, GrpcCompression,
    TlsOptions,
};

/// The identity workers report when the config sets none: `<pid>@<hostname>`.
pub fn default_identity() -> String {
    let host = nix::unistd::gethostname()
        .ok()
        .and_then(|h| h.into_string().ok())
        .unwrap_or_else(|| "localhost".into());
    format!("{}@{host}", std::process::id())
}

/// Connect to the server of `settings` and bind a client to its namespace.
pub async fn connect(settings: &TemporalSettings) -> Result<Client> {
    let tls = settings.tls.as_ref();
    let scheme = if tls.is_some() { "https" } else { "http" };
    let target = url::Url::parse(&format!("{scheme}://{}", settings.address))
        .with_context(|| format!("temporal.address `{}` is not valid", settings.address))?;
    let profile = &settings.from_profile;
    let api_key = tls
        .and_then(|t| t.api_key_env.as_deref())
        .map(|var| {
            std::env::var(var).with_context(|| {
                format!("environment variable {var} (temporal.tls.api_key_env) is not set")
            })
        })
        .transpose()?
        .or_else(|| profile.api_key.clone());
    let headers =
        (!profile.headers.is_empty()).then(|| profile.headers.clone().into_iter().collect());
    let options = ConnectionOptions::new(target)
        .identity(settings.identity.clone().unwrap_or_else(default_identity))
        .maybe_tls_options(tls.map(|t| tls_options(t, profile)).transpose()?)
        .maybe_api_key(api_key)
        .maybe_headers(headers)
        .connect_timeout(Duration::from_secs(10))
        .grpc_compression(match settings.compression {
            Compression::None => GrpcCompression::None,
            Compression::Gzip => GrpcCompression::Gzip,
        })
        .build();
    let connection = Connection::connect(options)
        .await
        .with_context(|| format!("cannot connect to Temporal at {}", settings.address))?;
    Client::new(connection, ClientOptions::new(&settings.namespace).build())
        .context("cannot create the Temporal client")
}

/// TLS options: each PEM from its file when `[temporal.tls]` (or the profile) names one, else
/// the profile's inline data.
fn tls_options(tls: &TlsSettings, profile: &ProfileSecrets) -> Result<TlsOptions> {
    let pem = |path: &Option<std::path::PathBuf>, inline: &Option<Vec<u8>>| match path {
        Some(p) => std::fs::read(p)
            .map(Some)
            .with_context(|| format!("cannot read TLS file {}", p.display())),
        None => Ok(inline.clone()),
    };
    let client = match (
        pem(&tls.client_cert, &profile.client_cert)?,
        pem(&tls.client_key, &profile.client_key)?,
    ) {
        (Some(cert), Some(key)) => Some(
            ClientTlsOptions::builder()
                .client_cert(cert)
                .client_private_key(key)
                .build(),
        ),
        _ => None,
    };
    Ok(TlsOptions::builder()
        .maybe_server_root_ca_cert(pem(&tls.server_ca_cert, &profile.server_ca_cert)?)
        .maybe_domain(tls.domain.clone())
        .maybe_client_tls_options(client)
        .build())
}

/// Whether the server completes a stopping worker's open polls (namespace capability
/// `workerPollCompleteOnShutdown`). Without it, a task handed to a poll at the instant a worker
/// stops (a reload, a shutdown) waits for its timeout before Temporal retries it.
pub async fn completes_polls_on_shutdown(client: &Client, namespace: &str) -> Result<bool> {
    use temporalio_client::tonic::Request;
    use temporalio_common::protos::temporal::api::workflowservice::v1::DescribeNamespaceRequest;
    let response = client
        .connection()
        .workflow_service()
        .describe_namespace(Request::new(DescribeNamespaceRequest {
            namespace: namespace.to_owned(),
            ..Default::default()
        }))
        .await
        .with_context(|| format!("cannot describe namespace {namespace}"))?;
    Ok(response
        .into_inner()
        .namespace_info
        .and_then(|i| i.capabilities)
        .is_some_and(|c| c.worker_poll_complete_on_shutdown))
}
