//! The host's disk fills up during a run: its `data_dir` is a 4 MiB tmpfs (mounted by the
//! test; it needs root, as CI runs) and the run's parse output is larger. The run fails at
//! once with a clear, non-retryable `DiskFull` failure, its folder is removed, and the host
//! stays ready and indexes the next (small) repository.

mod common;

use common::indexer::{Indexer, Store, config, path_str};
use common::{git, history_has, temporal_address, unique};
use std::{path::PathBuf, process::Command, time::Duration};

/// The size of the host's disk.
const DISK: &str = "4m";

#[tokio::test(flavor = "multi_thread")]
async fn a_full_disk_fails_the_run_clearly_and_the_host_serves_on() {
    let dir = tempfile::tempdir().expect("tempdir");
    let disk = SmallDisk::mount(dir.path().join(".worker-host"));
    let queue = unique("full");
    let indexer = Indexer::start_with(
        dir,
        &queue,
        &config(&queue, Store::Embedded),
        Store::Embedded,
        &temporal_address(),
    );

    // Nothing is checked out and a local repository's objects are borrowed: what fills the
    // disk is the parse output, ~1 KiB for each of 12,000 definitions with long names.
    let files: Vec<(String, String)> = (0..20)
        .map(|f| {
            let defs: String = (0..600)
                .map(|d| format!("def f{f}_{d}_{}():\n    pass\n", "n".repeat(200)))
                .collect();
            (format!("m{f}.py"), defs)
        })
        .collect();
    let borrowed: Vec<(&str, &str)> = files
        .iter()
        .map(|(p, t)| (p.as_str(), t.as_str()))
        .collect();
    let repo = git::repo(&borrowed);
    let repo_id = unique("full");
    let started = std::time::Instant::now();
    let out = indexer.index(path_str(repo.path()), &["--repo-id", &repo_id]);
    let took = started.elapsed();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(
        stderr.contains("the host's disk is full") && stderr.contains("No space left on device"),
        "{stderr}\nhost log:\n{}",
        indexer.host.log()
    );
    let workflow_id = worker_host::indexing::workflow_id_of(&repo_id);
    assert!(history_has(&workflow_id, "DiskFull"), "the failure type");
    let clone_attempts = indexer
        .host
        .log()
        .lines()
        .filter(|l| l.contains("activity started") && l.contains("clone_repo_activity"))
        .count();
    assert_eq!(clone_attempts, 1, "a full disk is not retried");
    eprintln!("the run failed {took:?} after it started");

    assert_eq!(
        indexer.workspace_entries(),
        0,
        "the run's folder is removed"
    );
    indexer
        .host
        .wait_ready("ready", Duration::from_secs(10), |r| r["ready"] == true);
    let small = git::repo(&[("ok.py", "def fine():\n    return 1\n")]);
    let summary = indexer.index_ok(small.path(), &unique("after"));
    assert_eq!(summary["files"], 1, "{summary:#}");
    drop(indexer);
    drop(disk);
}

/// A size-limited tmpfs, unmounted when dropped.
struct SmallDisk(PathBuf);

impl SmallDisk {
    fn mount(at: PathBuf) -> Self {
        std::fs::create_dir_all(&at).expect("mount point");
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={DISK}"), "tmpfs"])
            .arg(&at)
            .output()
            .expect("run mount");
        assert!(
            out.status.success(),
            "this test mounts a {DISK} tmpfs as the host's data_dir and needs root (CAP_SYS_ADMIN): {}",
            String::from_utf8_lossy(&out.stderr)
        );
        SmallDisk(at)
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).output();
    }
}
