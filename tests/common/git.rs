//! Small git repositories written by the tests, with the `git` command line.

use std::{path::Path, process::Command};

/// Run `git args` in `dir`; panics with git's output on failure.
pub fn git(dir: &Path, args: &[&str]) {
    let author = [("NAME", "test"), ("EMAIL", "test@example.com")];
    let identity = author.iter().flat_map(|(key, value)| {
        ["AUTHOR", "COMMITTER"].map(|who| (format!("GIT_{who}_{key}"), *value))
    });
    super::run_ok(
        Command::new("git")
            .args(args)
            .current_dir(dir)
            .envs(identity),
    );
}

/// A new repository on branch `main` holding `files`, committed.
pub fn repo(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    git(dir.path(), &["init", "-q", "-b", "main"]);
    commit(dir.path(), files, &[], "initial");
    dir
}

/// Write `files`, delete `deleted`, and commit everything.
pub fn commit(dir: &Path, files: &[(&str, &str)], deleted: &[&str], message: &str) {
    for (path, text) in files {
        let path = dir.join(path);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(path, text).expect("write");
    }
    for path in deleted {
        std::fs::remove_file(dir.join(path)).expect("delete");
    }
    git(dir, &["add", "-A"]);
    git(dir, &["commit", "-q", "-m", message]);
}
