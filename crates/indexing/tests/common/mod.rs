//! Shared by the indexing crate's clone tests.

use worker_host_indexing::clone::CloneLimits;

/// Limits that allow local repositories and copy their objects (no borrowing through
/// alternates), so that every transfer is real.
pub fn local_limits() -> CloneLimits {
    CloneLimits {
        allow_local: true,
        borrow_local_objects: false,
        ..CloneLimits::default()
    }
}
