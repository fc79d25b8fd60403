//! The host's mirror of a repository: a second fetch of the same repository lands in the same
//! bare mirror and brings only what is new; two fetches at once are serialised; a fetch waits
//! (and can give up) while another holds the mirror; a damaged mirror is made again; unused
//! mirrors are swept. Repositories are built on disk with git2 and fetched over the local
//! transport without borrowing their objects, so that transfers are real.

mod common;

use common::local_limits;
use std::{
    fs,
    path::Path,
    time::{Duration, SystemTime},
};

use git2::{Oid, Repository, RepositoryInitOptions, Signature};
use worker_host_indexing::{
    clone::{
        CloneOutcome, CloneRequest, Stage, clone_repository,
        mirror::{MARKER, MirrorLock},
    },
    workspace::sweep_mirrors,
};

fn bare(dir: &Path) -> Repository {
    Repository::init_opts(
        dir,
        RepositoryInitOptions::new().bare(true).initial_head("main"),
    )
    .expect("init bare")
}

/// Commits `files` on `main`, on top of its tip.
fn commit(repo: &Repository, files: &[(&str, &str)]) -> Oid {
    let parent = repo
        .find_reference("refs/heads/main")
        .ok()
        .and_then(|r| r.peel_to_commit().ok());
    let mut builder = repo
        .treebuilder(parent.as_ref().map(|p| p.tree().expect("tree")).as_ref())
        .expect("builder");
    for (name, text) in files {
        let blob = repo.blob(text.as_bytes()).expect("blob");
        builder.insert(name, blob, 0o100644).expect("insert");
    }
    let tree = repo
        .find_tree(builder.write().expect("tree"))
        .expect("tree");
    let signature = Signature::now("t", "t@example.com").expect("signature");
    let parents: Vec<_> = parent.iter().collect();
    repo.commit(
        Some("refs/heads/main"),
        &signature,
        &signature,
        "c",
        &tree,
        &parents,
    )
    .expect("commit")
}

fn fetch(source: &Path, mirror: &Path) -> CloneOutcome {
    let request = CloneRequest {
        url: source.to_str().expect("utf-8").to_owned(),
        reference: None,
    };
    clone_repository(&request, mirror, &local_limits(), |_| true).expect("fetch")
}

/// The content of `path` in the fetched commit.
fn file_at(outcome: &CloneOutcome, path: &str) -> String {
    let repo = Repository::open_bare(&outcome.path).expect("open the mirror");
    let oid = Oid::from_str(&outcome.commit_sha).expect("id");
    let tree = repo.find_commit(oid).expect("commit").tree().expect("tree");
    let entry = tree.get_path(Path::new(path)).expect("path");
    String::from_utf8(repo.find_blob(entry.id()).expect("blob").content().to_vec()).expect("utf-8")
}

#[test]
fn a_second_run_fetches_only_what_is_new_into_the_same_mirror() {
    let dir = tempfile::tempdir().expect("tempdir");
    let source = dir.path().join("source.git");
    let repo = bare(&source);
    let files: Vec<(String, String)> = (0..50)
        .map(|i| (format!("f{i}.py"), format!("x = {i}\n")))
        .collect();
    let borrowed: Vec<(&str, &str)> = files
        .iter()
        .map(|(p, t)| (p.as_str(), t.as_str()))
        .collect();
    commit(&repo, &borrowed);
    let mirror = dir.path().join("mirrors/source.git");

    let first = fetch(&source, &mirror);
    assert!(first.objects >= 52, "commit, tree, 50 blobs: {first:?}");
    let marker = fs::metadata(mirror.join(MARKER)).expect("marker");

    let next = commit(&repo, &[("f0.py", "x = 100\n")]);
    let second = fetch(&source, &mirror);
    assert_eq!(second.commit_sha, next.to_string());
    assert_eq!(second.path, first.path);
    assert!(
        second.objects < 10,
        "only the new commit's objects arrive: {second:?}"
    );
    assert_eq!(file_at(&second, "f0.py"), "x = 100\n");
    assert_eq!(file_at(&second, "f49.py"), "x = 49\n");
    // The same mirror, not a new one: the marker of the first fetch is still there.
    let again = fs::metadata(mirror.join(MARKER)).expect("marker");
    assert_eq!(
        std::os::unix::fs::MetadataExt::ino(&again),
        std::os::unix::fs::MetadataExt::ino(&marker)
    );
    assert!(!mirror.join("f0.py").exists(), "a bare mirror: no checkout");
}

#[test]
fn two_fetches_at_once_share_the_mirror_one_after_the_other() {
    let dir = tempfile::tempdir().expect("tempdir");
    let source = dir.path().join("source.git");
    let tip = commit(&bare(&source), &[("a.py", "x = 1\n")]);
    let mirror = dir.path().join("m.git");
    let outcomes: Vec<CloneOutcome> = std::thread::scope(|scope| {
        let runs: Vec<_> = (0..4)
            .map(|_| scope.spawn(|| fetch(&source, &mirror)))
            .collect();
        runs.into_iter()
            .map(|r| r.join().expect("thread"))
            .collect()
    });
    for outcome in &outcomes {
        assert_eq!(outcome.commit_sha, tip.to_string());
        assert_eq!(file_at(outcome, "a.py"), "x = 1\n");
    }
}

#[test]
fn a_fetch_waits_for_the_mirror_and_can_give_up() {
    let dir = tempfile::tempdir().expect("tempdir");
    let source = dir.path().join("source.git");
    commit(&bare(&source), &[("a.py", "x = 1\n")]);
    let mirror = dir.path().join("m.git");
    let held = MirrorLock::take(&mirror, || true)
        .expect("lock")
        .expect("free");
    let request = CloneRequest {
        url: source.to_str().expect("utf-8").to_owned(),
        reference: None,
    };
    let mut waited = 0;
    let err = clone_repository(&request, &mirror, &local_limits(), |p| {
        assert_eq!(p.stage, Stage::Waiting);
        waited += 1;
        waited < 3
    })
    .expect_err("gave up");
    assert_eq!(err.kind(), "Aborted");
    assert_eq!(waited, 3);
    assert!(!mirror.exists());
    drop(held);
    fetch(&source, &mirror);
}

#[test]
fn a_damaged_mirror_is_made_again() {
    let dir = tempfile::tempdir().expect("tempdir");
    let source = dir.path().join("source.git");
    let repo = bare(&source);
    commit(&repo, &[("a.py", "x = 1\n")]);
    let mirror = dir.path().join("m.git");
    fetch(&source, &mirror);

    // Its objects are gone: it no longer opens as a repository.
    fs::remove_dir_all(mirror.join("objects")).expect("remove objects");
    let outcome = fetch(&source, &mirror);
    assert_eq!(file_at(&outcome, "a.py"), "x = 1\n");

    // Its packs are garbage: reading the commit fails.
    commit(&repo, &[("b.py", "y = 2\n")]);
    let packs = mirror.join("objects/pack");
    for entry in fs::read_dir(&packs).expect("packs").flatten() {
        let len = entry.metadata().expect("metadata").len();
        fs::write(entry.path(), vec![0x5a; len as usize]).expect("overwrite");
    }
    let outcome = fetch(&source, &mirror);
    assert_eq!(file_at(&outcome, "a.py"), "x = 1\n");
    assert_eq!(file_at(&outcome, "b.py"), "y = 2\n");
}

#[test]
fn unused_mirrors_are_swept_and_used_or_busy_ones_stay() {
    let dir = tempfile::tempdir().expect("tempdir");
    let source = dir.path().join("source.git");
    commit(&bare(&source), &[("a.py", "x = 1\n")]);
    let mirrors = dir.path().join("mirrors");
    let (old, busy, fresh) = (
        mirrors.join("old.git"),
        mirrors.join("busy.git"),
        mirrors.join("fresh.git"),
    );
    for mirror in [&old, &busy, &fresh] {
        fetch(&source, mirror);
    }
    let long_ago = SystemTime::now() - Duration::from_secs(48 * 3600);
    for mirror in [&old, &busy] {
        fs::File::open(mirror.join(MARKER))
            .and_then(|f| f.set_modified(long_ago))
            .expect("age");
    }
    let held = MirrorLock::take(&busy, || true)
        .expect("lock")
        .expect("free");
    let removed = sweep_mirrors(&mirrors, Duration::from_secs(24 * 3600), SystemTime::now());
    assert_eq!(removed, 1);
    assert!(!old.exists() && !mirrors.join("old.git.lock").exists());
    assert!(busy.exists() && fresh.exists());
    drop(held);
}
