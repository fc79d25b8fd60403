//! Everything that talks to the Temporal server: the one shared connection, and the local dev
//! server the host can start for local use.

pub mod connection;
pub mod dev_server;

pub use connection::connect;
pub use dev_server::DevServer;
