//! The signals that stop the host: SIGINT (Ctrl-C) and SIGTERM. The first asks for a drain, a
//! second one for an exit at once; both are read from the same streams, which listen from the
//! host's start, so a signal that arrives while the first is being handled is not lost.

use tokio::signal::unix::{Signal, SignalKind, signal};

/// SIGINT and SIGTERM, from the moment [`StopSignals::listen`] is called.
pub struct StopSignals {
    term: Signal,
    int: Signal,
}

impl StopSignals {
    /// Take over SIGINT and SIGTERM (their default action, exiting, no longer applies).
    pub fn listen() -> std::io::Result<Self> {
        Ok(Self {
            term: signal(SignalKind::terminate())?,
            int: signal(SignalKind::interrupt())?,
        })
    }

    /// Resolves at the next SIGINT or SIGTERM, with the signal's name.
    pub async fn next(&mut self) -> &'static str {
        tokio::select! {
            _ = self.term.recv() => "SIGTERM",
            _ = self.int.recv() => "SIGINT",
        }
    }
}
