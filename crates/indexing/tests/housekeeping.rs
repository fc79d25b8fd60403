//! Housekeeping of a host's files: the folders of runs that are gone (untouched for longer than
//! `sweep_after`) are removed and fresh ones kept; the index cache is trimmed to its cap, the
//! repository cached longest ago first; the workspace, cache and mirrors are made private
//! (0700). The mirrors' sweep is in `mirror.rs`.

use std::{
    fs,
    os::unix::fs::PermissionsExt,
    path::Path,
    time::{Duration, SystemTime},
};

use worker_host_indexing::{
    settings::IndexingSettings,
    workspace::{INDEX_CACHE, MIRRORS, RunFolder, housekeep, run_key, sweep},
};

const HOUR: Duration = Duration::from_secs(3600);

/// Sets the modification time of `path` (a file or a folder) to `age` ago.
fn age(path: &Path, age: Duration) {
    let when = SystemTime::now() - age;
    fs::File::open(path)
        .and_then(|f| f.set_modified(when))
        .unwrap_or_else(|e| panic!("set mtime of {}: {e}", path.display()));
}

/// A run folder naming its mirror, with a parse output, all last changed `ago`.
fn run_folder(workspace: &Path, run_id: &str, ago: Duration) -> RunFolder {
    let folder = RunFolder::new(workspace, &run_key(run_id, 1)).expect("run key");
    fs::create_dir_all(folder.root()).expect("mkdir");
    fs::write(folder.mirror_link(), "/data/mirrors/r.git").expect("write");
    fs::write(folder.parse_output(), "{}\n").expect("write");
    for path in [
        folder.mirror_link(),
        folder.parse_output(),
        folder.root().to_owned(),
    ] {
        age(&path, ago);
    }
    folder
}

/// A cache entry of `bytes` bytes written `ago`.
fn cache_entry(cache: &Path, name: &str, bytes: usize, ago: Duration) {
    let dir = cache.join(name);
    fs::create_dir_all(&dir).expect("mkdir");
    fs::write(dir.join("facts.jsonl"), vec![b'x'; bytes]).expect("write");
    age(&dir.join("facts.jsonl"), ago);
    age(&dir, ago);
}

#[test]
fn old_run_folders_go_and_fresh_ones_stay() {
    let dir = tempfile::tempdir().expect("tempdir");
    let workspace = dir.path().join("runs");
    let old = run_folder(&workspace, "lost-run", 30 * HOUR);
    let fresh = run_folder(&workspace, "live-run", HOUR);
    // An old run folder whose parse output was written a minute ago is in use.
    let busy = run_folder(&workspace, "busy-run", 30 * HOUR);
    fs::write(busy.parse_output(), "{}\n{}\n").expect("write");
    // Not a run folder: left alone whatever its age.
    let other = workspace.join("notes");
    fs::create_dir_all(&other).expect("mkdir");
    age(&other, 300 * HOUR);

    let report = sweep(
        &workspace,
        &dir.path().join(INDEX_CACHE),
        24 * HOUR,
        u64::MAX,
        SystemTime::now(),
    );
    assert_eq!(report.run_folders, 1, "{report:?}");
    assert!(!old.root().exists());
    assert!(fresh.mirror_link().exists());
    assert!(busy.parse_output().exists());
    assert!(other.exists());
}

#[test]
fn the_index_cache_is_trimmed_to_its_cap_oldest_first() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cache = dir.path().join(INDEX_CACHE);
    cache_entry(&cache, "oldest-0001", 4000, 10 * HOUR);
    cache_entry(&cache, "older-0002", 4000, 5 * HOUR);
    cache_entry(&cache, "newest-0003", 4000, HOUR);
    // A cache update interrupted long ago, and one under way.
    cache_entry(&cache, "crashed-0004.new", 4000, 48 * HOUR);
    cache_entry(&cache, "updating-0005.new", 4000, Duration::ZERO);

    let report = sweep(
        &dir.path().join("runs"),
        &cache,
        24 * HOUR,
        9000,
        SystemTime::now(),
    );
    assert_eq!(report.cache_entries, 1, "{report:?}");
    assert_eq!(report.cache_bytes, 8000);
    assert!(!cache.join("oldest-0001").exists());
    assert!(cache.join("older-0002").exists() && cache.join("newest-0003").exists());
    assert!(!cache.join("crashed-0004.new").exists());
    assert!(cache.join("updating-0005.new").exists());

    // A cap below every entry empties the cache; under the cap nothing more goes.
    let report = sweep(
        &dir.path().join("runs"),
        &cache,
        24 * HOUR,
        0,
        SystemTime::now(),
    );
    assert_eq!((report.cache_entries, report.cache_bytes), (2, 0));
}

#[test]
fn housekeeping_makes_the_workspace_and_cache_private() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data_dir = dir.path();
    let settings = IndexingSettings::default();
    let workspace = settings.workspace(data_dir);
    fs::create_dir_all(&workspace).expect("mkdir");
    fs::set_permissions(&workspace, fs::Permissions::from_mode(0o755)).expect("chmod");
    let old = run_folder(&workspace, "lost-run", 48 * HOUR);

    let report = housekeep(&settings, data_dir);
    assert_eq!(report.run_folders, 1);
    assert!(!old.root().exists());
    for folder in [
        workspace,
        data_dir.join(INDEX_CACHE),
        data_dir.join(MIRRORS),
    ] {
        let mode = fs::metadata(&folder)
            .expect("metadata")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o700, "{}: {mode:o}", folder.display());
    }
}
