//! How long a failed worker waits before it is built again: a delay that doubles after each
//! failure up to a ceiling, and starts over once a worker has run long enough to count as
//! healthy. The supervisor takes it as a value, so an embedder (or a test) can choose its own.

use std::time::Duration;

/// The restart delays of an entry whose worker fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RestartBackoff {
    /// Delay after the first failure. Default 1 s.
    pub first: Duration,
    /// Longest delay; doubling stops here. Default 60 s.
    pub max: Duration,
    /// A worker that ran this long before failing starts again from `first`. Default 60 s.
    pub healthy_run: Duration,
}

impl Default for RestartBackoff {
    fn default() -> Self {
        Self {
            first: Duration::from_secs(1),
            max: Duration::from_secs(60),
            healthy_run: Duration::from_secs(60),
        }
    }
}

impl RestartBackoff {
    /// The delay after `current`: twice as long, at most [`RestartBackoff::max`].
    pub fn next(&self, current: Duration) -> Duration {
        (current * 2).min(self.max)
    }

    /// The delay before the next attempt of a worker that failed after running `ran` with the
    /// delay `current` in force.
    pub fn after_run(&self, current: Duration, ran: Duration) -> Duration {
        if ran >= self.healthy_run {
            self.first
        } else {
            current
        }
    }
}
