//! Reload requests: a save of the config file asks for a reload only when the file is watched;
//! SIGHUP always does. The test raises SIGHUP in its own process, so it runs alone in this file.

use std::time::Duration;
use worker_host_core::supervisor::watcher::{ReloadRequests, ReloadTrigger};

const LIMIT: Duration = Duration::from_secs(10);

async fn next(requests: &mut ReloadRequests) -> ReloadTrigger {
    tokio::time::timeout(LIMIT, requests.next())
        .await
        .expect("a reload request within the limit")
}

#[tokio::test]
async fn a_save_reloads_only_a_watched_file_and_sighup_reloads_either() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("workers.toml");
    std::fs::write(&file, "[host]\n").expect("write");
    let mut watched = ReloadRequests::start(&file, true).expect("watch");
    let mut unwatched = ReloadRequests::start(&file, false).expect("no watch");

    // Saved the way editors save: a new file renamed over the old one.
    let tmp = dir.path().join(".workers.toml.swp");
    std::fs::write(&tmp, "[host]\nreload = true\n").expect("write");
    std::fs::rename(&tmp, &file).expect("rename");
    assert_eq!(next(&mut watched).await, ReloadTrigger::FileChanged);

    // The watched stream has seen the save; the unwatched one's first request is the signal.
    nix::sys::signal::raise(nix::sys::signal::Signal::SIGHUP).expect("raise SIGHUP");
    assert_eq!(next(&mut unwatched).await, ReloadTrigger::Sighup);
    assert_eq!(next(&mut watched).await, ReloadTrigger::Sighup);
}
