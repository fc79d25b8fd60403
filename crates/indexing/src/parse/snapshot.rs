//! A plain folder as a commit, for the benchmarks and tests that parse one: the parser reads
//! commits only ([`super::walk`]).

use std::path::Path;

use git2::{IndexAddOption, Oid, Repository, RepositoryInitOptions, Signature};

/// Commits every file under `dir` — ignored ones too, as if they had been committed with
/// `git add --force` — into a new bare repository at `repo` (outside `dir`), on its `HEAD`.
/// Symbolic links are committed as links. Returns the commit.
pub fn commit_directory(dir: &Path, repo: &Path) -> Result<Oid, git2::Error> {
    let mut options = RepositoryInitOptions::new();
    options.bare(true).mkpath(true);
    let repository = Repository::init_opts(repo, &options)?;
    repository.set_workdir(dir, false)?;
    let mut index = repository.index()?;
    index.add_all(["*"], IndexAddOption::FORCE, None)?;
    let tree = repository.find_tree(index.write_tree()?)?;
    let signature = Signature::now("worker-host", "dev@worker-host.local")?;
    repository.commit(Some("HEAD"), &signature, &signature, "snapshot", &tree, &[])
}
