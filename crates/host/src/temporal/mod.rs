//! Everything that talks to the Temporal server: the one shared connection, the local dev
//! server the host can start for local use, the workers' deployment version, and the periodic
//! checks behind `/readyz` and the queue-depth metrics.

pub mod connection;
pub mod deployment;
pub mod dev_server;
pub mod queue_depth;
pub mod reachability;

pub use connection::connect;
pub use dev_server::DevServer;

use temporalio_client::{request_extensions::NoRetryOnMatching, tonic::Request};

/// A request the client sends once: a check that fails should say so now, not after the
/// connection's retries, and the next check comes soon anyway.
fn without_retries<T>(message: T) -> Request<T> {
    let mut request = Request::new(message);
    request.extensions_mut().insert(NoRetryOnMatching {
        predicate: |_| true,
    });
    request
}
