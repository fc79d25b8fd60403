//! How indexing errors travel through Temporal: activities fail with an application failure
//! whose type names the cause (a constant here, or the clone's or the graph store's own error
//! kind, passed through) and whose retryability says whether another attempt can help; the
//! workflow reads those types back to decide whether to start over on another host, and fails
//! with the same type.

use crate::{clone::CloneError, graph::GraphError};
use temporalio_common::error::IncomingError;
use temporalio_sdk::activities::ActivityError;
use temporalio_sdk::{ActivityExecutionError, ApplicationFailure, TimeoutType};

/// A host-local activity finds no clone (the host lost its files): the run starts over from
/// the clone.
pub const CLONE_MISSING: &str = "CloneMissing";
/// A clone activity's host serves none of the run's later activities.
pub const NOT_ROUTABLE: &str = "HostNotRoutable";
/// A run key that cannot name a folder.
pub const BAD_RUN_KEY: &str = "BadRunKey";
/// The run's folder cannot be created, cleared or removed.
pub const IO: &str = "Io";
/// The parse could not list the clone or write its output.
pub const PARSE_FAILED: &str = "ParseFailed";
/// The parse output or its digest cannot be read or written.
pub const PARSE_OUTPUT_UNREADABLE: &str = "ParseOutputUnreadable";
/// The run lost the host holding its clone more often than it may start over.
pub const HOST_LOST: &str = "HostLost";
/// An activity's input or result could not be converted.
pub const PAYLOAD_CONVERSION: &str = "PayloadConversion";
/// An activity ran out of time (start-to-close or heartbeat) on its last attempt.
pub const ACTIVITY_TIMEOUT: &str = "ActivityTimeout";
/// An activity failed in a way that names no kind.
pub const ACTIVITY_FAILED: &str = "ActivityFailed";
/// A write found no space left on the host's disk (its `data_dir`, or the embedded store's
/// file): whatever the failure's own kind, it becomes this one, never retried — the run fails
/// at once and its cleanup frees the folder.
pub const DISK_FULL: &str = "DiskFull";

/// How the OS (ENOSPC, through `std::io` and libgit2) and SQLite word a full disk.
const DISK_FULL_SIGNS: [&str; 3] = [
    "No space left on device",
    "os error 28",
    "database or disk is full",
];

/// A failure of type `kind` that another attempt cannot fix.
pub fn fatal(kind: &str, message: impl Into<String>) -> ActivityError {
    failure(kind, message.into(), true)
}

/// A failure of type `kind` that a later attempt may not meet.
pub fn transient(kind: &str, message: impl Into<String>) -> ActivityError {
    failure(kind, message.into(), false)
}

/// A failed clone: its kind (`UnknownRef`, `AuthFailed`, ...) and retryability.
pub fn of_clone(e: &CloneError) -> ActivityError {
    failure(e.kind(), e.to_string(), !e.is_retryable())
}

/// A failed graph store call: its kind (`GraphUnreachable`, `GraphAuthFailed`, ...) and
/// retryability.
pub fn of_graph(e: GraphError) -> ActivityError {
    failure(e.kind(), e.to_string(), !e.is_retryable())
}

fn failure(kind: &str, message: String, non_retryable: bool) -> ActivityError {
    let (kind, message, non_retryable) = if is_disk_full(&message) {
        let message = format!("the host's disk is full: {message}");
        (DISK_FULL, message, true)
    } else {
        (kind, message, non_retryable)
    };
    ActivityError::application(
        ApplicationFailure::builder(message)
            .type_name(kind.to_owned())
            .non_retryable(non_retryable)
            .build(),
    )
}

/// Whether `message` reports a write that found no space left.
pub fn is_disk_full(message: &str) -> bool {
    DISK_FULL_SIGNS.iter().any(|sign| message.contains(sign))
}

/// Why an activity of the run failed, as the workflow sees it.
pub enum Cause {
    /// The host holding the clone did not pick the work up in time, or lost the clone: start
    /// over from the clone.
    HostLost(String),
    /// The workflow was cancelled.
    Cancelled,
    /// Anything else: the run fails with this failure type and message.
    Failed { kind: String, message: String },
}

impl Cause {
    /// Classify a failed activity.
    pub fn of(err: &ActivityExecutionError) -> Self {
        let failed = |kind: &str, message: String| Cause::Failed {
            kind: kind.to_owned(),
            message,
        };
        match err {
            ActivityExecutionError::Cancelled(_) => return Cause::Cancelled,
            ActivityExecutionError::Serialization(e) => {
                return failed(PAYLOAD_CONVERSION, format!("payload conversion: {e}"));
            }
            _ => {}
        }
        let message = message_of(err);
        match err.cause() {
            Some(IncomingError::Timeout(t)) if t.timeout_type() == TimeoutType::ScheduleToStart => {
                Cause::HostLost(format!(
                    "the host holding the clone did not answer: {message}"
                ))
            }
            Some(IncomingError::Application(a)) if a.type_name() == Some(CLONE_MISSING) => {
                Cause::HostLost(message)
            }
            Some(IncomingError::Application(a)) => {
                failed(a.type_name().unwrap_or(ACTIVITY_FAILED), message)
            }
            Some(IncomingError::Cancelled(_)) => Cause::Cancelled,
            Some(IncomingError::Timeout(_)) => failed(ACTIVITY_TIMEOUT, message),
            _ => failed(ACTIVITY_FAILED, message),
        }
    }
}

/// The most specific message of a failed activity: its cause's, else its own.
pub fn message_of(err: &ActivityExecutionError) -> String {
    let top = err.failure();
    let cause = top.and_then(|f| f.cause.as_deref());
    match (top, cause) {
        (_, Some(c)) if !c.message.is_empty() => c.message.clone(),
        (Some(f), _) => f.message.clone(),
        _ => err.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::is_disk_full;

    #[test]
    fn a_full_disk_is_recognised_as_the_os_libgit2_and_sqlite_word_it() {
        assert!(is_disk_full(
            "file system error at /d/runs/x: No space left on device (os error 28)"
        ));
        assert!(is_disk_full(
            "could not write '/d/runs/x/a.py': No space left on device"
        ));
        assert!(is_disk_full("database or disk is full"));
        assert!(!is_disk_full(
            "network error while cloning https://example.com/r.git"
        ));
    }
}
