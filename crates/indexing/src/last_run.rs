//! What a host remembers of the indexing runs of its repositories: the last finished run of
//! each (its unresolved facts, blob ids and graph digest: what the next run starts from, see
//! [`crate::incremental`]) and the runs in flight. The last runs are kept in memory, so a
//! re-index reads and hashes nothing it already knows, and saved in the repository's
//! [`CacheDir`] in the background for after a restart; a read from disk waits for the saves
//! under way. Memory holds at most [`MAX_REMEMBERED_FILES`] files' facts: the runs of the
//! least recently indexed repositories beyond that, and a run bigger than that, are only on
//! disk.

use crate::incremental::{CacheDir, CachedFacts, RowsDigest, read_facts, write_facts};
use crate::parse::FileFacts;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

/// How many files' facts the host keeps in memory, all repositories together.
pub const MAX_REMEMBERED_FILES: usize = 20_000;

/// A finished run: what the next run of its repository starts from.
#[derive(Debug)]
pub struct LastRun {
    pub facts: CachedFacts,
    pub digest: RowsDigest,
}

impl LastRun {
    /// The run saved in `cache`, if it is whole and readable.
    fn read(cache: &CacheDir) -> Option<Self> {
        Some(Self {
            facts: read_facts(&cache.facts())?,
            digest: RowsDigest::read(&cache.digest())?,
        })
    }

    /// Save the run in `cache`: written next to it, then put in its place at once.
    fn save(&self, cache: &CacheDir) -> std::io::Result<()> {
        let scratch = cache.scratch();
        std::fs::create_dir_all(&scratch)?;
        let (facts, digest) = (
            scratch.join("facts.jsonl"),
            scratch.join("rows.digest.json"),
        );
        let facts_by_path = {
            let mut files: Vec<&FileFacts> = self.facts.files.values().map(|f| &**f).collect();
            files.sort_by(|a, b| a.path.cmp(&b.path));
            files
        };
        write_facts(&facts, &self.facts.commit, &self.facts.blobs, facts_by_path)?;
        self.digest.write(&digest)?;
        let replaced = cache.replace(&facts, &digest);
        let _ = std::fs::remove_dir_all(&scratch);
        replaced
    }
}

/// A run in flight: its commit, facts and digest, from the parse.
#[derive(Debug)]
pub struct Pending {
    pub repo_id: String,
    pub commit: String,
    pub blobs: HashMap<String, String>,
    pub files: Vec<Arc<FileFacts>>,
    /// `None` when the run's rows have no digest: the next run is a full one.
    pub digest: Option<RowsDigest>,
}

/// The host's memory of runs (one per host, shared by the activities).
#[derive(Default)]
pub struct RunMemory {
    state: Mutex<State>,
    /// Held by each save from the moment its run is promoted until it is on disk, and by each
    /// read from disk: a read never sees an older run than the last one promoted.
    disk: Arc<tokio::sync::Mutex<()>>,
}

#[derive(Default)]
struct State {
    /// The last finished run of each remembered repository, least recently indexed first.
    last: Vec<(String, Arc<LastRun>)>,
    /// Runs in flight, by run key.
    pending: HashMap<String, Pending>,
}

impl RunMemory {
    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The last finished run of `repo_id` whose commit is `commit`: from memory, else from
    /// `cache` on disk (after the saves under way).
    pub async fn last(
        &self,
        repo_id: &str,
        commit: &str,
        cache: &CacheDir,
    ) -> Option<Arc<LastRun>> {
        if let Some(run) = self.remembered(repo_id) {
            return (run.facts.commit == commit).then_some(run);
        }
        let _saves_done = self.disk.lock().await;
        let (cache, commit) = (cache.clone(), commit.to_owned());
        tokio::task::spawn_blocking(move || {
            // The header first: a cache of another commit is not read whole.
            if cache.commit()? != commit {
                return None;
            }
            LastRun::read(&cache)
        })
        .await
        .ok()
        .flatten()
        .map(Arc::new)
    }

    /// The commit of the last finished run of `repo_id` this host knows (memory, else disk).
    pub async fn last_commit(&self, repo_id: &str, cache: &CacheDir) -> Option<String> {
        if let Some(run) = self.remembered(repo_id) {
            return Some(run.facts.commit.clone());
        }
        let _saves_done = self.disk.lock().await;
        let cache = cache.clone();
        tokio::task::spawn_blocking(move || cache.commit())
            .await
            .ok()
            .flatten()
    }

    fn remembered(&self, repo_id: &str) -> Option<Arc<LastRun>> {
        let state = self.state();
        let found = state.last.iter().find(|(repo, _)| repo == repo_id);
        found.map(|(_, run)| Arc::clone(run))
    }

    /// Remember run `run_key` in flight. What an earlier run of the same repository left (an
    /// attempt that started over elsewhere and never cleaned up here) is dropped: a repository
    /// has one run at a time, and a run whose facts are dropped only makes the next one full.
    pub fn begin(&self, run_key: &str, pending: Pending) {
        let mut state = self.state();
        state.pending.retain(|_, p| p.repo_id != pending.repo_id);
        state.pending.insert(run_key.to_owned(), pending);
    }

    /// Run `run_key` is in the store: make it the last run of its repository, in memory, and
    /// save it to `cache` in the background. Without its facts (another process parsed it)
    /// or its digest there is nothing to promote: the next run is a full one. The run it
    /// replaces is dropped in the background too.
    pub async fn promote(&self, run_key: &str, cache: &CacheDir) {
        let Some(pending) = self.state().pending.remove(run_key) else {
            tracing::info!("no facts of this run in memory; the next run is a full one");
            return;
        };
        let Some(digest) = pending.digest else {
            return;
        };
        let run = Arc::new(LastRun {
            facts: CachedFacts {
                commit: pending.commit,
                blobs: pending.blobs,
                files: pending
                    .files
                    .into_iter()
                    .map(|f| (f.path.clone(), f))
                    .collect(),
            },
            digest,
        });
        self.remember(&pending.repo_id, Arc::clone(&run));
        let saving = Arc::clone(&self.disk).lock_owned().await;
        let cache = cache.clone();
        tokio::task::spawn_blocking(move || {
            let _saving = saving;
            if let Err(e) = run.save(&cache) {
                tracing::warn!(error = %e, "cannot save the run's facts; after a restart the next run is a full one");
            }
        });
    }

    fn remember(&self, repo_id: &str, run: Arc<LastRun>) {
        let mut state = self.state();
        let mut forgotten = Vec::new();
        state.last.retain(|(repo, run)| {
            let keep = repo != repo_id;
            if !keep {
                forgotten.push(Arc::clone(run));
            }
            keep
        });
        if run.facts.files.len() > MAX_REMEMBERED_FILES {
            return;
        }
        state.last.push((repo_id.to_owned(), run));
        let mut files = 0;
        let mut keep = state.last.len();
        for (i, (_, run)) in state.last.iter().enumerate().rev() {
            files += run.facts.files.len();
            if files > MAX_REMEMBERED_FILES {
                break;
            }
            keep = i;
        }
        forgotten.extend(state.last.drain(..keep).map(|(_, run)| run));
        drop(state);
        crate::incremental::drop_in_background(forgotten);
    }

    /// Forget run `run_key` in flight (it ended, whatever the outcome).
    pub fn forget(&self, run_key: &str) {
        self.state().pending.remove(run_key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::parse_source;

    fn pending(repo_id: &str, commit: &str, files: &[&str]) -> Pending {
        let files: Vec<Arc<FileFacts>> = files
            .iter()
            .map(|p| Arc::new(parse_source(p, "def f():\n    return 1\n").expect("parse")))
            .collect();
        Pending {
            repo_id: repo_id.to_owned(),
            commit: commit.to_owned(),
            blobs: files.iter().map(|f| (f.path.clone(), "b".into())).collect(),
            files,
            digest: None,
        }
    }

    #[tokio::test]
    async fn a_promoted_run_is_remembered_and_saved_for_after_a_restart() {
        let dir = tempfile::tempdir().expect("tempdir");
        let cache = CacheDir::of(dir.path(), "r");
        let memory = RunMemory::default();
        let mut run_1 = pending("r", "c1", &["a.py", "b.py"]);
        run_1.digest = Some(RowsDigest::default());
        memory.begin("run-1", run_1);
        memory.promote("run-1", &cache).await;
        let run = memory.last("r", "c1", &cache).await.expect("in memory");
        assert_eq!(run.facts.files.len(), 2);
        assert!(
            memory.last("r", "c0", &cache).await.is_none(),
            "another commit"
        );

        let restarted = RunMemory::default();
        // The save may still be under way: reading from disk waits for it.
        let _ = memory.disk.lock().await;
        assert_eq!(
            restarted.last_commit("r", &cache).await.as_deref(),
            Some("c1")
        );
        let read = restarted.last("r", "c1", &cache).await.expect("from disk");
        assert_eq!(read.facts.files, run.facts.files);
        assert_eq!(read.facts.blobs, run.facts.blobs);
    }

    #[tokio::test]
    async fn a_run_without_digest_or_forgotten_is_not_promoted() {
        let dir = tempfile::tempdir().expect("tempdir");
        let cache = CacheDir::of(dir.path(), "r");
        let memory = RunMemory::default();
        memory.begin("run-1", pending("r", "c1", &["a.py"]));
        memory.promote("run-1", &cache).await;
        let mut run_2 = pending("r", "c2", &["a.py"]);
        run_2.digest = Some(RowsDigest::default());
        memory.begin("run-2", run_2);
        memory.forget("run-2");
        memory.promote("run-2", &cache).await;
        assert!(memory.last_commit("r", &cache).await.is_none());
    }

    #[test]
    fn memory_keeps_the_most_recent_runs_within_its_bound() {
        let memory = RunMemory::default();
        let one = parse_source("m.py", "x = 1\n").expect("parse");
        let run = |n: usize| {
            Arc::new(LastRun {
                facts: CachedFacts {
                    files: (0..n)
                        .map(|i| {
                            let path = format!("m{i}.py");
                            let facts = FileFacts {
                                path: path.clone(),
                                ..one.clone()
                            };
                            (path, Arc::new(facts))
                        })
                        .collect(),
                    ..CachedFacts::default()
                },
                digest: RowsDigest::default(),
            })
        };
        let half = MAX_REMEMBERED_FILES / 2;
        memory.remember("a", run(half));
        memory.remember("b", run(half));
        assert!(memory.remembered("a").is_some() && memory.remembered("b").is_some());
        memory.remember("c", run(1));
        assert!(
            memory.remembered("a").is_none(),
            "the least recent goes first"
        );
        assert!(memory.remembered("b").is_some() && memory.remembered("c").is_some());
        memory.remember("c", run(MAX_REMEMBERED_FILES + 1));
        assert!(memory.remembered("c").is_none(), "too big for memory");
        assert!(memory.remembered("b").is_some(), "the others stay");
    }
}
