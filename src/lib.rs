//! worker-host: many Temporal workers in one process, declared in a `workers.toml`, with the
//! repository-indexing workload built in.
//!
//! This crate composes the pieces: the generic host ([`host`], crate `worker-host-core`), the
//! indexing workload ([`indexing`], crate `worker-host-indexing`) and the [`canary`]. [`builtin`]
//! is the registry the `worker-host` binary runs; [`cli`] its command line, which an embedding
//! program reuses with a registry of its own.

pub mod canary;
pub mod cli;

pub use worker_host_core as host;
pub use worker_host_core::{HostConfig, Registry, config};
pub use worker_host_indexing as indexing;
pub use worker_host_indexing::{clone, graph, parse};

/// What the `worker-host` binary ships: the canary and repository indexing.
pub fn builtin() -> Registry {
    indexing::register(canary::register(Registry::new()))
}
