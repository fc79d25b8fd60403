//! The files of the indexing work on a host, under its data dir:
//! - `mirrors/<name>.git`: one bare mirror per repository, fetched into by every run of it
//!   ([`crate::clone`]; `<name>.git.lock` serialises the fetches);
//! - `<workspace>/<run key>/`: one run's outputs — the parse output `graph.jsonl` (or, for an
//!   incremental run, the rows that changed, `rows.delta.json`), and `mirror`, the path of the
//!   mirror that holds the run's commit. No checkout: the parse reads the commit from the mirror. The run key names
//!   one attempt of one run, so a run that starts over never meets the files of its earlier
//!   attempt;
//! - `index-cache/`: the last finished run of each repository ([`crate::incremental`]).
//!
//! Folders are created readable by this user only (0700). Housekeeping ([`spawn_housekeeping`],
//! [`sweep`], [`sweep_mirrors`]) removes the folders of runs that are gone and the mirrors no
//! run used — both untouched for longer than `[indexing] sweep_after` — and trims the index
//! cache to `max_index_cache_bytes`, the repository cached longest ago first.

use std::{
    fs, io,
    os::unix::fs::{DirBuilderExt, PermissionsExt},
    path::{Path, PathBuf},
    sync::Arc,
    time::{Duration, SystemTime},
};

use worker_host_core::services::HostServices;

use crate::clone::{
    mirror::{MARKER, MirrorLock, lock_path},
    redact_url,
};
use crate::settings::IndexingSettings;

/// The index cache's folder under the data dir (see [`crate::incremental::CacheDir`]).
pub const INDEX_CACHE: &str = "index-cache";
/// The mirrors' folder under the data dir.
pub const MIRRORS: &str = "mirrors";
/// How often housekeeping runs after the sweep at start.
const SWEEP_EVERY: Duration = Duration::from_secs(15 * 60);

/// Paths of one run's files.
#[derive(Debug, Clone)]
pub struct RunFolder {
    root: PathBuf,
}

impl RunFolder {
    /// The folder of `run_key` under `workspace`. Refuses keys that could leave the workspace.
    pub fn new(workspace: &Path, run_key: &str) -> Result<Self, String> {
        let safe = !run_key.is_empty()
            && run_key != "."
            && run_key != ".."
            && run_key
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
        if !safe {
            return Err(format!(
                "run key {run_key:?} is not a plain folder name (letters, digits, - _ .)"
            ));
        }
        Ok(Self {
            root: workspace.join(run_key),
        })
    }

    /// The run's folder.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The file that names the mirror holding the run's commit.
    pub fn mirror_link(&self) -> PathBuf {
        self.root.join("mirror")
    }

    /// The parse output.
    pub fn parse_output(&self) -> PathBuf {
        self.root.join("graph.jsonl")
    }

    /// The unresolved facts of a run too big to hold them in memory until it ends
    /// ([`crate::last_run::PendingFacts::OnDisk`]).
    pub fn facts(&self) -> PathBuf {
        self.root.join("facts.jsonl")
    }

    /// An incremental run's rows that changed ([`crate::incremental::DeltaFile`]), written
    /// instead of the parse output.
    pub fn delta(&self) -> PathBuf {
        self.root.join("rows.delta.json")
    }
}

/// The mirror of the repository at `url` under `data_dir`: `mirrors/<end of the URL>-<hash>.git`
/// (the URL without userinfo names it, so every credential shares one mirror).
pub fn mirror_of(data_dir: &Path, url: &str) -> PathBuf {
    let url = redact_url(url);
    let url = url.trim_end_matches('/').trim_end_matches(".git");
    let mut hasher = std::hash::DefaultHasher::new();
    std::hash::Hash::hash(url, &mut hasher);
    let tail: Vec<char> = url.chars().rev().take(48).collect();
    let readable: String = tail
        .into_iter()
        .rev()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    let hash = std::hash::Hasher::finish(&hasher);
    data_dir
        .join(MIRRORS)
        .join(format!("{readable}-{hash:016x}.git"))
}

/// The run key of attempt `attempt` of the workflow run `run_id`.
pub fn run_key(run_id: &str, attempt: u32) -> String {
    let id: String = run_id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!("{id}.{attempt}")
}

/// Creates `path` and its missing parents readable by this user only (0700); an existing
/// `path` is made 0700 too.
pub fn create_private_dir(path: &Path) -> io::Result<()> {
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(path)?;
    fs::set_permissions(path, fs::Permissions::from_mode(0o700))
}

/// Whether `name` is a folder name [`run_key`] makes: `<id>.<attempt>`.
fn is_run_key(name: &str) -> bool {
    name.rsplit_once('.').is_some_and(|(id, attempt)| {
        !id.is_empty()
            && !attempt.is_empty()
            && attempt.bytes().all(|b| b.is_ascii_digit())
            && id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_'))
    })
}

/// What one sweep removed.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct SweepReport {
    /// Run folders removed.
    pub run_folders: usize,
    /// Repositories removed from the index cache.
    pub cache_entries: usize,
    /// Bytes the index cache holds after the sweep.
    pub cache_bytes: u64,
    /// Mirrors removed.
    pub mirrors: usize,
}

/// Removes the run folders of `workspace` untouched for longer than `sweep_after` (the newest
/// change of the folder or of an entry directly in it; only names that are run keys), and
/// trims `index_cache` to `max_cache_bytes`: leftovers of interrupted cache updates older
/// than `sweep_after`, then the repositories whose cache was written longest ago. A missing
/// folder is nothing to do; an entry that cannot be removed is logged and skipped.
pub fn sweep(
    workspace: &Path,
    index_cache: &Path,
    sweep_after: Duration,
    max_cache_bytes: u64,
    now: SystemTime,
) -> SweepReport {
    let old = |touched: SystemTime| {
        now.duration_since(touched)
            .is_ok_and(|age| age > sweep_after)
    };
    let mut report = SweepReport::default();
    for (path, name) in subfolders(workspace) {
        if is_run_key(&name) && old(last_touched(&path)) && remove(&path) {
            report.run_folders += 1;
        }
    }
    let mut cached = Vec::new();
    for (path, name) in subfolders(index_cache) {
        let touched = modified(&path);
        if name.ends_with(".new") {
            // A cache update under way, or one a crash interrupted.
            if old(touched) {
                remove(&path);
            }
            continue;
        }
        cached.push((touched, folder_bytes(&path), path));
    }
    cached.sort_by_key(|(touched, _, _)| *touched);
    let mut total: u64 = cached.iter().map(|(_, bytes, _)| bytes).sum();
    for (_, bytes, path) in &cached {
        if total <= max_cache_bytes {
            break;
        }
        if remove(path) {
            total -= bytes;
            report.cache_entries += 1;
        }
    }
    report.cache_bytes = total;
    report
}

/// Removes the mirrors under `mirrors` that no fetch used for longer than `unused_for` (the
/// time of their marker), and lock files left without a mirror as long. A mirror being
/// fetched into (its lock is held) stays. Returns how many mirrors went.
pub fn sweep_mirrors(mirrors: &Path, unused_for: Duration, now: SystemTime) -> usize {
    let old = |touched: SystemTime| {
        now.duration_since(touched)
            .is_ok_and(|age| age > unused_for)
    };
    let Ok(entries) = fs::read_dir(mirrors) else {
        return 0;
    };
    let mut removed = 0;
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        let (mirror, touched) = match name.strip_suffix(".lock") {
            Some(mirror) if !mirrors.join(mirror).exists() => {
                (mirrors.join(mirror), modified(&path))
            }
            Some(_) => continue,
            None if name.ends_with(".git") && path.join(MARKER).is_file() => {
                (path.clone(), modified(&path.join(MARKER)))
            }
            None => continue,
        };
        if !old(touched) {
            continue;
        }
        let Ok(Some(_lock)) = MirrorLock::try_take(&mirror) else {
            continue; // in use
        };
        if mirror.exists() {
            if !remove(&mirror) {
                continue;
            }
            removed += 1;
        }
        // Removed while held: a fetch waiting on it notices and takes a new one.
        if let Err(e) = fs::remove_file(lock_path(&mirror)) {
            tracing::debug!(error = %e, "cannot remove a mirror's lock file");
        }
    }
    removed
}

/// One round of housekeeping for `settings`: the workspace, index cache and mirrors are made
/// private, then swept.
pub fn housekeep(settings: &IndexingSettings, data_dir: &Path) -> SweepReport {
    let workspace = settings.workspace(data_dir);
    let index_cache = data_dir.join(INDEX_CACHE);
    let mirrors = data_dir.join(MIRRORS);
    for folder in [&workspace, &index_cache, &mirrors] {
        if let Err(e) = create_private_dir(folder) {
            tracing::warn!(folder = %folder.display(), error = %e, "cannot make a folder private");
        }
    }
    let mut report = sweep(
        &workspace,
        &index_cache,
        settings.sweep_after,
        settings.max_index_cache_bytes,
        SystemTime::now(),
    );
    report.mirrors = sweep_mirrors(&mirrors, settings.sweep_after, SystemTime::now());
    if report.run_folders + report.cache_entries + report.mirrors > 0 {
        tracing::info!(?report, "housekeeping removed old files");
    }
    report
}

/// Runs [`housekeep`] now and every 15 minutes, with the settings of the moment, for as long
/// as `services` lives. Call it once per host, from within its tokio runtime (`None`, with a
/// warning, outside one).
pub fn spawn_housekeeping(services: &Arc<HostServices>) -> Option<tokio::task::JoinHandle<()>> {
    let Ok(runtime) = tokio::runtime::Handle::try_current() else {
        tracing::warn!("no tokio runtime: housekeeping of the indexing files is off");
        return None;
    };
    let services = Arc::downgrade(services);
    Some(runtime.spawn(async move {
        while let Some(host) = services.upgrade() {
            let settings = host.section::<IndexingSettings>();
            let data_dir = host.data_dir();
            drop(host);
            let round = tokio::task::spawn_blocking(move || housekeep(&settings, &data_dir));
            if let Err(e) = round.await {
                tracing::warn!(error = %e, "housekeeping failed");
            }
            tokio::time::sleep(SWEEP_EVERY).await;
        }
    }))
}

/// The folders directly in `dir`, with their names.
fn subfolders(dir: &Path) -> Vec<(PathBuf, String)> {
    let Ok(entries) = fs::read_dir(dir) else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .filter_map(|e| Some((e.path(), e.file_name().into_string().ok()?)))
        .collect()
}

fn modified(path: &Path) -> SystemTime {
    fs::symlink_metadata(path)
        .and_then(|m| m.modified())
        .unwrap_or(SystemTime::UNIX_EPOCH)
}

/// The newest change of `folder` or of an entry directly in it.
fn last_touched(folder: &Path) -> SystemTime {
    let children = fs::read_dir(folder)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| modified(&e.path()));
    children.fold(modified(folder), SystemTime::max)
}

/// Bytes of the files under `folder`.
fn folder_bytes(folder: &Path) -> u64 {
    let Ok(entries) = fs::read_dir(folder) else {
        return 0;
    };
    entries
        .flatten()
        .map(|e| match e.file_type() {
            Ok(t) if t.is_dir() => folder_bytes(&e.path()),
            Ok(_) => e.metadata().map_or(0, |m| m.len()),
            Err(_) => 0,
        })
        .sum()
}

/// Removes `folder`; whether it is gone.
fn remove(folder: &Path) -> bool {
    match fs::remove_dir_all(folder) {
        Ok(()) => true,
        Err(e) => {
            tracing::warn!(folder = %folder.display(), error = %e, "cannot remove an old folder");
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_keys_are_recognised_and_nothing_else() {
        assert!(is_run_key(&run_key("0192-abc", 3)));
        assert!(is_run_key(&run_key("odd/run id", 1)));
        for name in ["", ".1", "x.", "x.y", "notes", "index-cache", "a.b.1"] {
            assert!(!is_run_key(name), "{name}");
        }
    }
}
