//! The bounds on one file: how deep its scopes may nest, how long a qualified name and how
//! many facts it may have, and when its time is up. Hostile input stays cheap: a file over a
//! bound is skipped with its [`SkipReason`] as soon as the bound is crossed, so time and memory
//! grow with the file's size, never with the square of its nesting depth.

use std::time::{Duration, Instant};

use super::ParseOptions;
use super::model::SkipReason;

/// Default of [`ParseOptions::max_nesting`].
pub const DEFAULT_MAX_NESTING: usize = 128;
/// Default of [`ParseOptions::max_name_bytes`].
pub const DEFAULT_MAX_NAME_BYTES: usize = 1024;
/// Default of [`ParseOptions::max_facts`].
pub const DEFAULT_MAX_FACTS: usize = 100_000;

/// When a file's time is up: a point in time, or never.
#[derive(Debug, Clone, Copy, Default)]
pub struct Deadline(Option<Instant>);

impl Deadline {
    /// `timeout` from now; `None` never passes.
    pub fn after(timeout: Option<Duration>) -> Self {
        Self(timeout.map(|timeout| Instant::now() + timeout))
    }

    pub fn passed(&self) -> bool {
        self.0.is_some_and(|deadline| Instant::now() >= deadline)
    }

    /// The time left: `None` for no deadline, zero once passed.
    pub fn left(&self) -> Option<Duration> {
        self.0
            .map(|deadline| deadline.saturating_duration_since(Instant::now()))
    }

    /// `Err(SkipReason::Timeout)` once passed.
    pub fn check(&self) -> Result<(), SkipReason> {
        if self.passed() {
            Err(SkipReason::Timeout)
        } else {
            Ok(())
        }
    }
}

/// What one file may cost.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Enclosing scopes (definitions, modules, `impl` blocks) allowed around a definition.
    pub max_nesting: usize,
    /// Bytes of one qualified name.
    pub max_name_bytes: usize,
    /// Definitions, calls, imports and bases of the file together.
    pub max_facts: usize,
    pub deadline: Deadline,
}

impl Default for Limits {
    /// The default bounds, without a deadline.
    fn default() -> Self {
        Self {
            max_nesting: DEFAULT_MAX_NESTING,
            max_name_bytes: DEFAULT_MAX_NAME_BYTES,
            max_facts: DEFAULT_MAX_FACTS,
            deadline: Deadline::default(),
        }
    }
}

impl Limits {
    /// The bounds of `options` for a file whose work starts now.
    pub fn of(options: &ParseOptions) -> Self {
        Self {
            max_nesting: options.max_nesting,
            max_name_bytes: options.max_name_bytes,
            max_facts: options.max_facts,
            deadline: Deadline::after(options.file_timeout),
        }
    }
}
