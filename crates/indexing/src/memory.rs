//! Freeing big values without making anyone wait, and handing the freed memory back: glibc
//! keeps what a thread frees in that thread's arena, where another thread's allocations do not
//! reuse it, so after a large repository a process on glibc's malloc would otherwise stay at
//! its peak and the next stage (on another thread) would grow it further. The `worker-host`
//! binary allocates with mimalloc, which hands freed pages back on its own; there the trim
//! finds nothing to do.

/// Drop `value` on a thread of its own: freeing a repository's facts or rows takes a good
/// part of what parsing a change takes, and nobody waits for it.
pub fn drop_in_background<T: Send + 'static>(value: T) {
    in_background("drop", move || drop(value));
}

/// Drop `value` on a thread of its own, then hand the freed memory back to the system.
pub fn release_in_background<T: Send + 'static>(value: T) {
    in_background("release", move || {
        drop(value);
        trim();
    });
}

/// Hand the memory already freed back to the system, on a thread of its own.
pub fn release_freed_memory() {
    in_background("trim", trim);
}

fn in_background(name: &str, work: impl FnOnce() + Send + 'static) {
    let spawned = std::thread::Builder::new().name(name.into()).spawn(work);
    if let Err(e) = spawned {
        // The closure (and what it owns) was dropped with the failed spawn.
        tracing::debug!(error = %e, "no thread for background work; skipped");
    }
}

fn trim() {
    // SAFETY: malloc_trim only returns free pages of the allocator's arenas to the system (it
    // locks each arena in turn); it touches no memory in use.
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    unsafe {
        libc::malloc_trim(0);
    }
}
