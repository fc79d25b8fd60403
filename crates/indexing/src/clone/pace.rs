//! The floor under a transfer's rate, like git's `http.lowSpeedLimit`/`lowSpeedTime`: a server
//! that trickles bytes to hold a clone's slot is cut off when fewer than `floor × window` bytes
//! arrive within a window. (A server that sends nothing at all is cut off by the read timeout.)

use std::time::{Duration, Instant};

/// The rate of one transfer, measured in consecutive windows.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Pace {
    /// Bytes per second; 0 turns the floor off.
    floor: u64,
    window: Duration,
    start: Instant,
    start_bytes: u64,
}

impl Pace {
    /// A transfer that has received `bytes` at `now`.
    pub(crate) fn new(floor: u64, window: Duration, now: Instant, bytes: u64) -> Self {
        Self {
            floor,
            window,
            start: now,
            start_bytes: bytes,
        }
    }

    /// Records that `bytes` have arrived by `now`; at the end of a window, returns its rate
    /// (bytes per second) when that was under the floor.
    pub(crate) fn under_floor(&mut self, bytes: u64, now: Instant) -> Option<u64> {
        let elapsed = now.saturating_duration_since(self.start);
        if self.floor == 0 || self.window.is_zero() || elapsed < self.window {
            return None;
        }
        let got = bytes.saturating_sub(self.start_bytes);
        let rate = (got as f64 / elapsed.as_secs_f64()) as u64;
        self.start = now;
        self.start_bytes = bytes;
        (rate < self.floor).then_some(rate)
    }

    /// The window, in whole seconds.
    pub(crate) fn window_secs(&self) -> u64 {
        self.window.as_secs()
    }

    /// The floor in bytes per second.
    pub(crate) fn floor(&self) -> u64 {
        self.floor
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_window_under_the_floor_is_reported_once_it_ends() {
        let t0 = Instant::now();
        let s = Duration::from_secs;
        let mut pace = Pace::new(1000, s(10), t0, 0);
        assert_eq!(pace.under_floor(10, t0 + s(5)), None, "window not over");
        assert_eq!(
            pace.under_floor(20_000, t0 + s(10)),
            None,
            "2000 B/s is fine"
        );
        assert_eq!(pace.under_floor(25_000, t0 + s(20)), Some(500));
    }

    #[test]
    fn a_zero_floor_never_stops() {
        let t0 = Instant::now();
        let mut pace = Pace::new(0, Duration::from_secs(1), t0, 0);
        assert_eq!(pace.under_floor(0, t0 + Duration::from_secs(3600)), None);
    }
}
