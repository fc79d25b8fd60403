//! The generic worker host: many Temporal workers in one process, declared in a `workers.toml`.
//! It knows no workload: workloads register their workflows, activities and config tables in a
//! [`Registry`].
//!
//! Data flows one way: [`config`] (load, validate, diff) → [`supervisor`] (one worker task per
//! entry) → the workflows and activities of the [`registry`] → the workloads' own stores.
//! [`temporal`] holds the connection and the optional local dev server; [`host`] runs it all
//! until a signal, with its files in [`data_dir`]; [`cli`] offers the host's commands for a program's command line. [`status`]
//! and [`http`] expose health and metrics; [`services`] is what the host lends to activities.

pub mod cli;
pub mod config;
pub mod data_dir;
#[cfg(feature = "fault-injection")]
pub mod fault_injection;
pub mod host;
pub mod http;
pub mod http_get;
pub mod registry;
pub mod sdk_metrics;
pub mod services;
pub mod status;
pub mod status_command;
pub mod supervisor;
pub mod temporal;
pub mod text_table;

pub use config::HostConfig;
pub use registry::Registry;
