//! libgit2's connect and read timeouts. They are settings of the whole process (libgit2 has no
//! per-connection timeout), set before each clone from its limits; without them a server that
//! accepts a connection and never answers holds a clone for as long as the operating system
//! lets it.

use std::{sync::Mutex, time::Duration};

/// The timeouts last given to libgit2, in milliseconds (connect, read).
static APPLIED: Mutex<Option<(i32, i32)>> = Mutex::new(None);

/// Makes `connect` and `read` libgit2's timeouts for the connections it opens from now on.
/// Zero durations are raised to 1 ms (libgit2 reads 0 as "no timeout").
pub(crate) fn apply(connect: Duration, read: Duration) -> Result<(), git2::Error> {
    let millis = |d: Duration| i32::try_from(d.as_millis()).unwrap_or(i32::MAX).max(1);
    let wanted = (millis(connect), millis(read));
    let mut applied = APPLIED
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if *applied == Some(wanted) {
        return Ok(());
    }
    // SAFETY: git2 marks these unsafe because they write a C global without synchronization.
    // Writes are serialized by `APPLIED`; libgit2 only reads the two ints when it opens a
    // socket, and an aligned int read racing a write sees the old or the new value.
    unsafe {
        git2::opts::set_server_connect_timeout_in_milliseconds(wanted.0)?;
        git2::opts::set_server_timeout_in_milliseconds(wanted.1)?;
    }
    *applied = Some(wanted);
    Ok(())
}
