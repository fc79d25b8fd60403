//! The directory a clone writes into: it must be empty or absent, and whatever a failed (or
//! panicking) clone wrote there is removed when the guard drops without [`Destination::keep`].

use std::{
    fs, io,
    os::unix::fs::DirBuilderExt,
    path::{Path, PathBuf},
};

use super::error::CloneError;

/// A prepared destination that cleans up after itself unless kept.
#[derive(Debug)]
pub(crate) struct Destination {
    path: PathBuf,
    /// The topmost directory this clone created (the destination or a missing ancestor):
    /// removed whole on failure. `None` when the destination existed (empty): then only its
    /// contents are removed.
    created: Option<PathBuf>,
    keep: bool,
}

impl Destination {
    /// Checks that `path` is an empty directory or absent, and creates it (with any missing
    /// parents, all 0700) in the latter case. The path is made absolute against the working directory.
    pub(crate) fn prepare(path: &Path) -> Result<Self, CloneError> {
        let io_err = |source| CloneError::Io {
            path: path.to_owned(),
            source,
        };
        let path = std::path::absolute(path).map_err(io_err)?;
        match fs::symlink_metadata(&path) {
            Ok(meta) if meta.is_dir() => {
                let mut entries = fs::read_dir(&path).map_err(io_err)?;
                if entries.next().is_some() {
                    return Err(CloneError::DestinationNotEmpty { path });
                }
                Ok(Self {
                    path,
                    created: None,
                    keep: false,
                })
            }
            Ok(_) => Err(CloneError::DestinationNotEmpty { path }),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                let mut topmost = path.as_path();
                while let Some(parent) = topmost.parent()
                    && !parent.exists()
                {
                    topmost = parent;
                }
                let topmost = topmost.to_owned();
                fs::DirBuilder::new()
                    .recursive(true)
                    .mode(0o700)
                    .create(&path)
                    .map_err(io_err)?;
                Ok(Self {
                    path,
                    created: Some(topmost),
                    keep: false,
                })
            }
            Err(e) => Err(io_err(e)),
        }
    }

    /// The absolute destination path.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// The clone succeeded: leave what it wrote.
    pub(crate) fn keep(mut self) {
        self.keep = true;
    }

    fn clean(&self) -> io::Result<()> {
        if let Some(created) = &self.created {
            return fs::remove_dir_all(created);
        }
        for entry in fs::read_dir(&self.path)? {
            let entry = entry?;
            if entry.file_type()?.is_dir() {
                fs::remove_dir_all(entry.path())?;
            } else {
                fs::remove_file(entry.path())?;
            }
        }
        Ok(())
    }
}

impl Drop for Destination {
    fn drop(&mut self) {
        if self.keep {
            return;
        }
        if let Err(e) = self.clean() {
            tracing::warn!(path = %self.path.display(), error = %e, "could not remove a failed clone");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn absent_destination_and_missing_parents_are_created_then_removed() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let dest = tmp.path().join("a/b/c");
        let d = Destination::prepare(&dest).expect("prepare");
        assert!(dest.is_dir());
        fs::write(dest.join("f"), "x").expect("write");
        drop(d);
        assert!(!tmp.path().join("a").exists());
    }

    #[test]
    fn an_existing_empty_directory_is_kept_but_emptied() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let d = Destination::prepare(tmp.path()).expect("prepare");
        fs::create_dir(tmp.path().join(".git")).expect("mkdir");
        fs::write(tmp.path().join(".git/x"), "x").expect("write");
        fs::write(tmp.path().join("f"), "x").expect("write");
        drop(d);
        assert!(tmp.path().is_dir());
        assert_eq!(fs::read_dir(tmp.path()).expect("read").count(), 0);
    }

    #[test]
    fn kept_destinations_stay_and_non_empty_ones_are_refused() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let dest = tmp.path().join("d");
        let d = Destination::prepare(&dest).expect("prepare");
        fs::write(dest.join("f"), "x").expect("write");
        d.keep();
        assert!(dest.join("f").exists());
        let err = Destination::prepare(&dest).expect_err("not empty");
        assert_eq!(err.kind(), "DestinationNotEmpty");
        let err = Destination::prepare(&dest.join("f")).expect_err("a file");
        assert_eq!(err.kind(), "DestinationNotEmpty");
    }
}
