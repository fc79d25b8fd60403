//! The host's data directory (`[host] data_dir`): the dev server's database, the host id, the
//! workloads' clones and caches. It may hold private source code, so the host creates it
//! readable by its owner only (0700) and warns when an existing one is open to others.

use anyhow::{Context, Result};
use std::{
    fs::DirBuilder,
    os::unix::fs::{DirBuilderExt, PermissionsExt},
    path::Path,
};

/// Permission bits of a data directory the host creates.
pub const MODE: u32 = 0o700;

/// Create `dir` (and missing parents) with mode 0700 unless it exists.
pub fn ensure(dir: &Path) -> Result<()> {
    DirBuilder::new()
        .recursive(true)
        .mode(MODE)
        .create(dir)
        .with_context(|| format!("cannot create the data directory {}", dir.display()))?;
    let mode = std::fs::metadata(dir)
        .with_context(|| format!("cannot read {}", dir.display()))?
        .permissions()
        .mode();
    if mode & 0o077 != 0 {
        tracing::warn!(
            data_dir = %dir.display(),
            mode = format!("{:o}", mode & 0o777),
            "the data directory is open to other users; `chmod 700` it to keep clones and the \
             dev server's database private"
        );
    }
    Ok(())
}
