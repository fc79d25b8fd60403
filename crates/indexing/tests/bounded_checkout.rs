//! A small pack cannot expand into a huge tree: the bytes, entries and path depth of the
//! fetched commit's tree are checked against the limits before any file is read (nothing is
//! checked out), and a repository over one fails with a non-retryable `TooLarge` naming it,
//! leaving nothing behind. Repositories are
//! built on disk with git2 and fetched over libgit2's local transport.

mod common;

use common::local_limits;
use std::{
    fs,
    path::{Path, PathBuf},
};

use git2::{Oid, Repository, RepositoryInitOptions, Signature};
use worker_host_indexing::clone::{CloneError, CloneLimits, CloneRequest, Limit, clone_repository};

fn bare(dir: &Path) -> Repository {
    Repository::init_opts(
        dir,
        RepositoryInitOptions::new().bare(true).initial_head("main"),
    )
    .expect("init bare")
}

/// Commits a tree of `paths` (slash-separated), every one of them the blob `content`.
fn commit_paths(repo: &Repository, paths: &[String], content: &[u8]) -> Oid {
    let blob = repo.blob(content).expect("blob");
    let mut index = git2::Index::new().expect("index");
    for path in paths {
        let entry = git2::IndexEntry {
            ctime: git2::IndexTime::new(0, 0),
            mtime: git2::IndexTime::new(0, 0),
            dev: 0,
            ino: 0,
            mode: 0o100644,
            uid: 0,
            gid: 0,
            file_size: 0,
            id: blob,
            flags: 0,
            flags_extended: 0,
            path: path.as_bytes().to_vec(),
        };
        index.add(&entry).expect("add");
    }
    let tree = repo
        .find_tree(index.write_tree_to(repo).expect("tree"))
        .expect("find tree");
    let sig = Signature::now("Test", "test@example.invalid").expect("signature");
    repo.commit(Some("refs/heads/main"), &sig, &sig, "bomb", &tree, &[])
        .expect("commit")
}

/// Bytes of the files under `dir` (0 when it is gone).
fn bytes_under(dir: &Path) -> u64 {
    let Ok(entries) = fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|e| {
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                bytes_under(&e.path())
            } else {
                e.metadata().map_or(0, |m| m.len())
            }
        })
        .sum()
}

struct Attempt {
    result: Result<(), CloneError>,
    /// The most bytes seen under the destination while the clone ran.
    peak_bytes: u64,
    dest: PathBuf,
}

fn attempt(source: &Path, out: &Path, limits: &CloneLimits) -> Attempt {
    let dest = out.join("clone");
    let request = CloneRequest {
        url: source.to_str().expect("utf-8").to_owned(),
        reference: None,
    };
    let mut peak_bytes = 0;
    let result = clone_repository(&request, &dest, limits, |_| {
        peak_bytes = peak_bytes.max(bytes_under(&dest));
        true
    })
    .map(|_| ());
    peak_bytes = peak_bytes.max(bytes_under(&dest));
    Attempt {
        result,
        peak_bytes,
        dest,
    }
}

#[test]
fn one_blob_at_thousands_of_paths_is_refused_before_any_file_is_read() {
    let dir = tempfile::tempdir().expect("tempdir");
    let source = dir.path().join("bomb.git");
    let repo = bare(&source);
    // 3,000 paths of one 1 MiB blob: ~3 GiB of files from a pack of a few KiB.
    let paths: Vec<String> = (0..3000).map(|i| format!("d{}/f{i}.txt", i % 30)).collect();
    commit_paths(&repo, &paths, &vec![b'a'; 1 << 20]);

    let limit: u64 = 256 << 20;
    let out = tempfile::tempdir().expect("tempdir");
    let run = attempt(
        &source,
        out.path(),
        &CloneLimits {
            max_bytes: limit,
            ..local_limits()
        },
    );
    let err = run.result.expect_err("over the limit");
    let CloneError::TooLarge {
        exceeded, found, ..
    } = &err
    else {
        panic!("expected TooLarge, got {err}");
    };
    assert_eq!(*exceeded, Limit::TreeBytes);
    assert!(*found > limit);
    assert!(err.to_string().contains("max_repo_bytes"), "{err}");
    assert!(!err.is_retryable());
    assert!(
        run.peak_bytes < 1 << 20,
        "{} bytes were written for a {limit}-byte limit",
        run.peak_bytes
    );
    assert!(!run.dest.exists());
}

#[test]
fn too_many_entries_or_too_deep_a_path_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let wide = dir.path().join("wide.git");
    let paths: Vec<String> = (0..200).map(|i| format!("f{i}.txt")).collect();
    commit_paths(&bare(&wide), &paths, b"x\n");
    let deep = dir.path().join("deep.git");
    let path = format!("{}/leaf.txt", ["d"; 12].join("/"));
    commit_paths(&bare(&deep), &[path], b"x\n");

    let strict = CloneLimits {
        max_tree_entries: 100,
        max_path_depth: 8,
        ..local_limits()
    };
    for (source, limit, key) in [
        (&wide, Limit::TreeEntries, "max_tree_entries"),
        (&deep, Limit::PathDepth, "max_path_depth"),
    ] {
        let out = tempfile::tempdir().expect("tempdir");
        let run = attempt(source, out.path(), &strict);
        let err = run.result.expect_err("over a limit");
        assert!(
            matches!(err, CloneError::TooLarge { exceeded, .. } if exceeded == limit),
            "{err}"
        );
        assert!(err.to_string().contains(key), "{err}");
        assert!(!run.dest.exists());

        // Within the default limits the same repository clones.
        let out = tempfile::tempdir().expect("tempdir");
        let run = attempt(source, out.path(), &local_limits());
        assert!(run.result.is_ok(), "{:?}", run.result.err());
    }
}

#[test]
fn created_folders_are_private() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().expect("tempdir");
    let source = dir.path().join("small.git");
    commit_paths(&bare(&source), &["a.txt".to_owned()], b"x\n");
    let out = tempfile::tempdir().expect("tempdir");
    let dest = out.path().join("mirrors/small.git");
    let request = CloneRequest {
        url: source.to_str().expect("utf-8").to_owned(),
        reference: None,
    };
    clone_repository(&request, &dest, &local_limits(), |_| true).expect("clone");
    for folder in ["mirrors", "mirrors/small.git"] {
        let mode = fs::metadata(out.path().join(folder))
            .expect("metadata")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o700, "{folder}: {mode:o}");
    }
}
