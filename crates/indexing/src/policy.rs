//! How `RepoIndexingWorkflow` schedules each activity: one table instead of numbers spread
//! over the workflow.
//!
//! | activity | start-to-close | heartbeat | schedule-to-start | attempts | never retried |
//! |---|---|---|---|---|---|
//! | `clone_repo_activity` | 1 h | `heartbeat_seconds` | — | 5 | `BadRunKey`, `HostNotRoutable` |
//! | `parse_repo_activity` | 1 h | `heartbeat_seconds` | `host_seconds` | 3 | `BadRunKey`, `CloneMissing` |
//! | `persist_metadata_activity` | 5 min | `heartbeat_seconds` | `host_seconds` once routed | 20 | `BadRunKey` |
//! | `persist_kg_activity` | 1 h | `heartbeat_seconds` | `host_seconds` | 20 | `BadRunKey`, `CloneMissing` |
//! | `cleanup_stale_kg_nodes_activity` | 30 min | `heartbeat_seconds` | `host_seconds` | 20 | `BadRunKey` |
//! | `cleanup_repo_activity` | 5 min | `heartbeat_seconds` | `host_seconds` once routed | 5 | `BadRunKey` |
//!
//! Every activity heartbeats, so a lost host — or a completion the server never received — is
//! noticed within `heartbeat_seconds`, not at the start-to-close timeout. Retries back off from 1 s, doubling, up to 30 s (20 attempts of a store activity wait about
//! 10 minutes for a store that does not answer). Besides the kinds listed, a failure the
//! activity marks non-retryable (a clone's `UnknownRef`, a store's `GraphAuthFailed`, ...) is
//! never retried, nor is a write that found the disk full (`DiskFull`). `heartbeat_seconds` and `host_seconds` come from the run's input
//! ([`crate::request::RunTimeouts`]); schedule-to-start applies to work sent to the host holding
//! the clone: when it passes, the host is presumed lost and the run starts over.

use crate::failure::{BAD_RUN_KEY, CLONE_MISSING, NOT_ROUTABLE};
use crate::request::RunTimeouts;
use std::time::Duration;
use temporalio_common::RetryPolicy;
use temporalio_sdk::ActivityOptions;

/// How one activity is scheduled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    /// Longest attempt.
    pub start_to_close: Duration,
    /// Most attempts.
    pub attempts: u32,
    /// Failure types never retried.
    pub never_retried: &'static [&'static str],
}

/// An hour, in the minutes [`Policy::new`] takes.
const HOUR: u64 = 60;

/// `clone_repo_activity`.
pub const CLONE: Policy = Policy::new(HOUR, 5, &[BAD_RUN_KEY, NOT_ROUTABLE]);
/// `parse_repo_activity`.
pub const PARSE: Policy = Policy::new(HOUR, 3, &[BAD_RUN_KEY, CLONE_MISSING]);
/// `persist_metadata_activity`.
pub const PERSIST_METADATA: Policy = Policy::new(5, 20, &[BAD_RUN_KEY]);
/// `persist_kg_activity`.
pub const PERSIST_KG: Policy = Policy::new(HOUR, 20, &[BAD_RUN_KEY, CLONE_MISSING]);
/// `cleanup_stale_kg_nodes_activity`.
pub const CLEANUP_STALE: Policy = Policy::new(30, 20, &[BAD_RUN_KEY]);
/// `cleanup_repo_activity`.
pub const CLEANUP_REPO: Policy = Policy::new(5, 5, &[BAD_RUN_KEY]);

/// Where an activity goes: the workflow's own queue, or the queue of the host holding the
/// clone (then schedule-to-start is `host_seconds`).
pub enum Destination {
    Shared(String),
    HostLocal(String),
}

impl Policy {
    /// A policy with a start-to-close of `minutes`.
    const fn new(minutes: u64, attempts: u32, never_retried: &'static [&'static str]) -> Self {
        Self {
            start_to_close: Duration::from_secs(minutes * 60),
            attempts,
            never_retried,
        }
    }

    /// The options that schedule this activity to `destination` with the run's `timeouts`.
    pub fn options(&self, destination: Destination, timeouts: &RunTimeouts) -> ActivityOptions {
        let (queue, schedule_to_start) = match destination {
            Destination::Shared(q) => (q, None),
            Destination::HostLocal(q) => (q, Some(Duration::from_secs(timeouts.host_seconds))),
        };
        let heartbeat = Duration::from_secs(timeouts.heartbeat_seconds);
        ActivityOptions::with_start_to_close_timeout(self.start_to_close)
            .task_queue(queue)
            .heartbeat_timeout(heartbeat)
            .maybe_schedule_to_start_timeout(schedule_to_start)
            .retry_policy(
                RetryPolicy::builder()
                    .initial_interval(Duration::from_secs(1))
                    .backoff_coefficient(2.0)
                    .maximum_interval(Duration::from_secs(30))
                    .maximum_attempts(self.attempts)
                    .non_retryable_error_types(self.never_retried.iter().copied())
                    .build(),
            )
            .build()
    }
}
