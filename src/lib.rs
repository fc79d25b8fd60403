//! worker-host: many Temporal workers in one process, declared in a `workers.toml`.
//!
//! Data flows one way: [`config`] (load, validate, diff) → [`supervisor`] (one worker task per
//! entry) → the workflows and activities of the [`registry`] (built in: the [`canary`]). [`temporal`] holds the connection
//! and the optional local dev server; [`cli`] wires them into the `worker-host` command, which
//! an embedding program can reuse with its own registry. [`status`] and [`http`] expose health
//! and metrics. [`parse`] turns a code repository into the facts of a code knowledge graph. [`clone`] fetches a repository to index (a library for activities to wrap). [`graph`] stores the graph in Neo4j or an embedded SQLite file.

pub mod canary;
pub mod cli;
pub mod clone;
pub mod config;
pub mod graph;
pub mod host;
pub mod http;
pub mod http_get;
pub mod index_command;
pub mod indexing;
pub mod parse;
pub mod registry;
pub mod sdk_metrics;
pub mod services;
pub mod status;
pub mod status_command;
pub mod supervisor;
pub mod temporal;

pub use config::HostConfig;
pub use registry::Registry;
