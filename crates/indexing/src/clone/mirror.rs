//! The bare repository a host keeps per remote repository (a *mirror*): every fetch of that
//! repository lands in it, so a second run fetches only what is new and no run writes a work
//! tree. The parse reads the commit's tree and blobs from it.
//!
//! One fetch at a time per mirror: [`Mirror::prepare`] takes an exclusive lock on a file next to
//! it (`<mirror>.lock`, `flock`), which serialises the threads of this process as well as other
//! processes, since each taker opens the file anew. A lock file removed while someone waited
//! (housekeeping removes unused mirrors) is noticed by comparing inodes, and taken again.
//!
//! A mirror this module made holds a marker file ([`MARKER`]), whose modification time is the
//! mirror's last use (housekeeping reads it). A damaged mirror is removed and made again by
//! [`Mirror::reset`]; a folder without the marker is never removed (it is not ours).

use std::{
    fs::{self, File, TryLockError},
    io,
    os::unix::fs::{DirBuilderExt, MetadataExt},
    path::{Path, PathBuf},
    time::Duration,
};

use git2::{Repository, RepositoryInitOptions};

use super::error::CloneError;

/// The file that marks a folder as a mirror made here; its modification time is the last use.
pub const MARKER: &str = "worker-host-mirror";
/// Above this many packs a mirror is made again: libgit2 cannot repack, and every fetch that
/// brings objects adds a pack.
const MAX_PACKS: usize = 32;
/// How often a waiting fetch tries the lock again (and asks its caller whether to go on).
const LOCK_POLL: Duration = Duration::from_millis(25);

/// The lock file of the mirror at `mirror`.
pub fn lock_path(mirror: &Path) -> PathBuf {
    let mut name = mirror.file_name().unwrap_or_default().to_os_string();
    name.push(".lock");
    mirror.with_file_name(name)
}

/// An exclusive lock on a mirror, held until dropped.
#[derive(Debug)]
pub struct MirrorLock {
    _file: File,
}

impl MirrorLock {
    /// Takes the lock of `mirror` (whose parent exists), waiting while another fetch holds it;
    /// `go_on()` is asked between tries and stops the wait with `Ok(None)` when it says no.
    pub fn take(mirror: &Path, mut go_on: impl FnMut() -> bool) -> io::Result<Option<Self>> {
        let path = lock_path(mirror);
        loop {
            let file = File::options()
                .create(true)
                .truncate(false)
                .write(true)
                .open(&path)?;
            match file.try_lock() {
                Ok(()) => {}
                Err(TryLockError::WouldBlock) => {
                    if !go_on() {
                        return Ok(None);
                    }
                    std::thread::sleep(LOCK_POLL);
                    continue;
                }
                Err(TryLockError::Error(e)) => return Err(e),
            }
            // The file may have been removed (and made again) while this one waited.
            let held = file.metadata()?;
            match fs::metadata(&path) {
                Ok(now) if (now.dev(), now.ino()) == (held.dev(), held.ino()) => {
                    return Ok(Some(Self { _file: file }));
                }
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
        }
    }

    /// Takes the lock of `mirror` only if nobody holds it.
    pub fn try_take(mirror: &Path) -> io::Result<Option<Self>> {
        let mut first = true;
        Self::take(mirror, || std::mem::take(&mut first))
    }
}

/// A locked mirror being fetched into. Whatever a failed fetch wrote into a mirror this call
/// created is removed when it drops without [`Mirror::keep`]; an older mirror is left as it
/// is (a partial fetch leaves only unreferenced objects).
#[derive(Debug)]
pub(crate) struct Mirror {
    path: PathBuf,
    /// The topmost directory this call created (the mirror or a missing ancestor), removed
    /// whole on failure; `None` when it existed.
    created: Option<PathBuf>,
    /// The mirror did not exist (or was empty) before this call, or was reset by it.
    fresh: bool,
    keep: bool,
    _lock: MirrorLock,
}

impl Mirror {
    /// Locks the mirror at `path` (made absolute; missing parents are created 0700) and checks
    /// that it is absent, an empty folder, or a mirror made here. `go_on` is asked while
    /// another fetch holds the lock; `Ok(None)` when it said no.
    pub(crate) fn prepare(
        path: &Path,
        go_on: impl FnMut() -> bool,
    ) -> Result<Option<Self>, CloneError> {
        let io_err = |source| CloneError::Io {
            path: path.to_owned(),
            source,
        };
        let path = std::path::absolute(path).map_err(io_err)?;
        let mut topmost = path.as_path();
        while let Some(parent) = topmost.parent()
            && !parent.exists()
        {
            topmost = parent;
        }
        let topmost = topmost.to_owned();
        let parent = path.parent().unwrap_or(Path::new("/"));
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(parent)
            .map_err(io_err)?;
        let Some(lock) = MirrorLock::take(&path, go_on).map_err(io_err)? else {
            return Ok(None);
        };
        let (created, fresh) = match fs::symlink_metadata(&path) {
            Ok(meta) if meta.is_dir() => {
                if path.join(MARKER).is_file() {
                    (None, false)
                } else if fs::read_dir(&path).map_err(io_err)?.next().is_none() {
                    (None, true)
                } else {
                    return Err(CloneError::DestinationNotEmpty { path });
                }
            }
            Ok(_) => return Err(CloneError::DestinationNotEmpty { path }),
            Err(e) if e.kind() == io::ErrorKind::NotFound => (Some(topmost), true),
            Err(e) => return Err(io_err(e)),
        };
        Ok(Some(Self {
            path,
            created,
            fresh,
            keep: false,
            _lock: lock,
        }))
    }

    /// The absolute path of the mirror.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Whether the mirror is new to this call: a failure then cannot be the mirror's fault.
    pub(crate) fn is_fresh(&self) -> bool {
        self.fresh
    }

    /// Opens the mirror, creating it when fresh (or made again when it has too many packs).
    /// A fresh mirror of a local repository borrows that repository's objects (git
    /// alternates) when `borrow` names it: nothing is transferred then.
    pub(crate) fn open(&mut self, borrow: Option<&Path>) -> Result<Repository, git2::Error> {
        if !self.fresh && packs(&self.path) > MAX_PACKS {
            tracing::info!(mirror = %self.path.display(), "mirror has too many packs; making it again");
            self.reset()
                .map_err(|e| git2::Error::from_str(&e.to_string()))?;
        }
        if !self.fresh {
            return Repository::open_bare(&self.path);
        }
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&self.path)
            .map_err(|e| git2::Error::from_str(&format!("cannot create the mirror: {e}")))?;
        let mut options = RepositoryInitOptions::new();
        options.bare(true).no_reinit(true);
        let repo = Repository::init_opts(&self.path, &options)?;
        let mut config = repo.config()?;
        // Redirects may stay on the host (`false` is libgit2's "no offsite redirects"); no
        // reflogs (they would grow with every fetch).
        config.set_str("http.followRedirects", "false")?;
        config.set_bool("core.logAllRefUpdates", false)?;
        drop(repo);
        if let Some(source) = borrow {
            borrow_objects(&self.path, source);
        }
        fs::write(self.path.join(MARKER), "")
            .map_err(|e| git2::Error::from_str(&format!("cannot mark the mirror: {e}")))?;
        Repository::open_bare(&self.path)
    }

    /// Removes the mirror's files: the next [`Mirror::open`] makes it again.
    pub(crate) fn reset(&mut self) -> io::Result<()> {
        match fs::remove_dir_all(&self.path) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        self.fresh = true;
        Ok(())
    }

    /// The fetch succeeded: keep the mirror and mark it used now.
    pub(crate) fn keep(mut self) {
        self.keep = true;
        if let Err(e) = fs::write(self.path.join(MARKER), "") {
            tracing::debug!(error = %e, "cannot mark the mirror used");
        }
    }

    fn clean(&self) -> io::Result<()> {
        if let Some(created) = &self.created {
            return match fs::remove_dir_all(created) {
                Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
                _ => Ok(()),
            };
        }
        let Ok(entries) = fs::read_dir(&self.path) else {
            return Ok(());
        };
        for entry in entries {
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

impl Drop for Mirror {
    fn drop(&mut self) {
        if self.keep || !self.fresh {
            return;
        }
        if let Err(e) = self.clean() {
            tracing::warn!(path = %self.path.display(), error = %e, "could not remove a failed mirror");
        }
    }
}

/// A local source lends its objects to the mirror (git alternates) instead of packing them
/// for a fetch, which costs seconds of compression for a large tree: the fetch then finds the
/// wanted commits present and transfers nothing. The mirror reads the source's objects
/// without ever writing them.
fn borrow_objects(mirror: &Path, source: &Path) {
    let Ok(source) = Repository::open(source) else {
        return; // not a repository: the fetch reports it
    };
    let info = mirror.join("objects").join("info");
    let alternates = format!("{}\n", source.path().join("objects").display());
    if let Err(e) =
        fs::create_dir_all(&info).and_then(|()| fs::write(info.join("alternates"), alternates))
    {
        tracing::debug!(error = %e, "cannot borrow the local source's objects; fetching them");
    }
}

/// Packs in the mirror at `path`.
fn packs(path: &Path) -> usize {
    fs::read_dir(path.join("objects").join("pack")).map_or(0, |entries| {
        entries
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().ends_with(".pack"))
            .count()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_absent_mirror_and_its_parents_are_removed_after_a_failure() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let path = tmp.path().join("a/b/m.git");
        let mut mirror = Mirror::prepare(&path, || true)
            .expect("prepare")
            .expect("locked");
        assert!(mirror.is_fresh());
        mirror.open(None).expect("init");
        assert!(path.join(MARKER).is_file());
        drop(mirror);
        assert!(!tmp.path().join("a").exists());
    }

    #[test]
    fn a_kept_mirror_is_reused_and_foreign_folders_are_refused() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let path = tmp.path().join("m.git");
        let mut mirror = Mirror::prepare(&path, || true)
            .expect("prepare")
            .expect("lock");
        mirror.open(None).expect("init");
        mirror.keep();
        let again = Mirror::prepare(&path, || true)
            .expect("prepare")
            .expect("lock");
        assert!(!again.is_fresh());
        drop(again);
        assert!(path.join(MARKER).is_file(), "an older mirror stays");

        let foreign = tmp.path().join("mine");
        fs::create_dir(&foreign).expect("mkdir");
        fs::write(foreign.join("keep.txt"), "x").expect("write");
        let err = Mirror::prepare(&foreign, || true).expect_err("foreign");
        assert_eq!(err.kind(), "DestinationNotEmpty");
        assert!(foreign.join("keep.txt").is_file());
    }

    #[test]
    fn a_held_lock_makes_others_wait_until_they_give_up() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let path = tmp.path().join("m.git");
        let held = MirrorLock::take(&path, || true)
            .expect("take")
            .expect("free");
        assert!(MirrorLock::try_take(&path).expect("try").is_none());
        let mut asked = 0;
        let waited = MirrorLock::take(&path, || {
            asked += 1;
            asked < 3
        });
        assert!(waited.expect("take").is_none());
        assert_eq!(asked, 3);
        drop(held);
        assert!(MirrorLock::try_take(&path).expect("try").is_some());
    }
}
