//! What a host remembers of the indexing runs of its repositories: the last finished run of
//! each (its unresolved facts, blob ids and graph digest: what the next run starts from, see
//! [`crate::incremental`]) and the runs in flight. The last runs are kept in memory, so a
//! re-index reads and hashes nothing it already knows, and saved in the repository's
//! [`CacheDir`] in the background for after a restart; a read from disk waits for the saves
//! under way. Memory holds at most [`MAX_REMEMBERED_FILES`] files' facts: the runs of the
//! least recently indexed repositories beyond that, and a run bigger than that, are only on
//! disk (a bigger run's facts are written during its parse, never held until it ends).

use crate::incremental::{CacheDir, CachedFacts, RowsDigest, read_facts, write_facts};
use crate::parse::{FileFacts, ParseOutput};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

/// How many files' facts the host keeps in memory, all repositories together.
pub const MAX_REMEMBERED_FILES: usize = 20_000;

/// Drop what a full run of `files` files holds (its parse output) on a thread of its own; after
/// a repository too big to be remembered ([`MAX_REMEMBERED_FILES`]), hand the freed memory
/// back to the system too. Not after smaller ones, whose runs a trim of every arena (each
/// locked in turn) would only slow down.
pub fn drop_after_full_run<T: Send + 'static>(value: T, files: usize) {
    if files > MAX_REMEMBERED_FILES {
        crate::memory::release_in_background(value);
    } else {
        crate::memory::drop_in_background(value);
    }
}

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
        let facts_by_path = {
            let mut files: Vec<&FileFacts> = self.facts.files.values().map(|f| &**f).collect();
            files.sort_by(|a, b| a.path.cmp(&b.path));
            files
        };
        save_with(cache, &self.digest, |scratch| {
            let facts = scratch.join("facts.jsonl");
            write_facts(
                &facts,
                &self.facts.commit,
                &self.facts.blobs,
                &facts_by_path,
            )?;
            Ok(facts)
        })
    }
}

/// Save a run in `cache`: its digest and the facts file `facts(scratch)` gives (written in the
/// scratch folder, or already written elsewhere), put in place at once.
fn save_with(
    cache: &CacheDir,
    digest: &RowsDigest,
    facts: impl FnOnce(&Path) -> std::io::Result<PathBuf>,
) -> std::io::Result<()> {
    let scratch = cache.scratch();
    std::fs::create_dir_all(&scratch)?;
    let digest_path = scratch.join("rows.digest.json");
    let replaced = facts(&scratch).and_then(|facts| {
        digest.write(&digest_path)?;
        cache.replace(&facts, &digest_path)
    });
    let _ = std::fs::remove_dir_all(&scratch);
    replaced
}

/// A run in flight: its commit, facts and digest, from the parse.
#[derive(Debug)]
pub struct Pending {
    pub repo_id: String,
    pub commit: String,
    pub blobs: HashMap<String, String>,
    pub facts: PendingFacts,
    /// `None` when the run's rows have no digest: the next run is a full one.
    pub digest: Option<RowsDigest>,
    /// A full run's parse output, until the graph write takes it: then the write does not read
    /// back the file the parse wrote. Held within a bound (see [`RunMemory::begin`]).
    pub output: Option<ParseOutput>,
}

/// Where the facts of a run in flight are.
#[derive(Debug)]
pub enum PendingFacts {
    /// In memory: a run of at most [`MAX_REMEMBERED_FILES`] files.
    InMemory(Vec<Arc<FileFacts>>),
    /// Already in a facts file (of [`write_facts`]) in the run's folder: a bigger run, whose
    /// facts are written before resolution instead of held; promoting it moves the file into
    /// the cache.
    OnDisk(PathBuf),
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
    /// The parse outputs held for runs in flight come to at most [`MAX_REMEMBERED_FILES`]
    /// files, all runs together, or to one run's output however big when no other is held:
    /// beyond that, the run's output is dropped (its write reads the file instead). A run's
    /// output is whole in memory while it is parsed and again while it is written, so holding
    /// the one output in between, until its write starts, does not raise the host's peak.
    pub fn begin(&self, run_key: &str, mut pending: Pending) {
        let mut state = self.state();
        state.pending.retain(|_, p| p.repo_id != pending.repo_id);
        let held: usize = state
            .pending
            .values()
            .filter_map(|p| p.output.as_ref())
            .map(|output| output.files.len())
            .sum();
        let files = pending.output.as_ref().map_or(0, |o| o.files.len());
        let dropped = (held > 0 && held + files > MAX_REMEMBERED_FILES)
            .then(|| pending.output.take())
            .flatten();
        state.pending.insert(run_key.to_owned(), pending);
        drop(state);
        if let Some(output) = dropped {
            drop_after_full_run(output, files);
        }
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
        let files = match pending.facts {
            PendingFacts::InMemory(files) => files,
            PendingFacts::OnDisk(facts) => {
                self.remember(&pending.repo_id, None);
                // Moved out of the run's folder before the run's cleanup removes it.
                let saving = Arc::clone(&self.disk).lock_owned().await;
                let cache = cache.clone();
                let saved = tokio::task::spawn_blocking(move || {
                    let _saving = saving;
                    save_with(&cache, &digest, |_| Ok(facts))
                });
                if let Ok(Err(e)) = saved.await {
                    tracing::warn!(error = %e, "cannot save the run's facts; the next run is a full one");
                }
                return;
            }
        };
        let run = Arc::new(LastRun {
            facts: CachedFacts {
                commit: pending.commit,
                blobs: pending.blobs,
                files: files.into_iter().map(|f| (f.path.clone(), f)).collect(),
            },
            digest,
        });
        self.remember(&pending.repo_id, Some(Arc::clone(&run)));
        let saving = Arc::clone(&self.disk).lock_owned().await;
        let cache = cache.clone();
        tokio::task::spawn_blocking(move || {
            let _saving = saving;
            if let Err(e) = run.save(&cache) {
                tracing::warn!(error = %e, "cannot save the run's facts; after a restart the next run is a full one");
            }
        });
    }

    /// Make `run` the last run of `repo_id` in memory; `None` (a run only on disk) forgets the
    /// one remembered.
    fn remember(&self, repo_id: &str, run: Option<Arc<LastRun>>) {
        let mut state = self.state();
        let mut forgotten = Vec::new();
        state.last.retain(|(repo, run)| {
            let keep = repo != repo_id;
            if !keep {
                forgotten.push(Arc::clone(run));
            }
            keep
        });
        let Some(run) = run.filter(|run| run.facts.files.len() <= MAX_REMEMBERED_FILES) else {
            drop(state);
            crate::memory::drop_in_background(forgotten);
            return;
        };
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
        crate::memory::drop_in_background(forgotten);
    }

    /// The parse output of run `run_key` in flight, if this host still holds it (see
    /// [`Pending::output`]); it is the taker's from then on.
    pub fn take_output(&self, run_key: &str) -> Option<ParseOutput> {
        self.state().pending.get_mut(run_key)?.output.take()
    }

    /// Forget run `run_key` in flight (it ended, whatever the outcome).
    pub fn forget(&self, run_key: &str) {
        let forgotten = self.state().pending.remove(run_key);
        crate::memory::drop_in_background(forgotten);
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
            facts: PendingFacts::InMemory(files),
            digest: None,
            output: None,
        }
    }

    #[test]
    fn a_full_runs_output_is_taken_once_and_goes_with_the_run() {
        let memory = RunMemory::default();
        let mut run = pending("r", "c1", &["a.py"]);
        run.output = Some(crate::parse::parse_sources(&[(
            "a.py",
            "def f():\n    return 1\n",
        )]));
        memory.begin("run-1", run);
        let taken = memory.take_output("run-1").expect("the parse output");
        assert_eq!(taken.files.len(), 1);
        assert_eq!(taken.files[0].path, "a.py");
        // A retried write finds none, and reads the parse output's file instead.
        assert!(memory.take_output("run-1").is_none());
        assert!(memory.take_output("run-2").is_none());

        let mut run = pending("r", "c2", &["a.py"]);
        run.output = Some(crate::parse::parse_sources(&[("a.py", "x = 1\n")]));
        memory.begin("run-2", run);
        memory.forget("run-2");
        assert!(memory.take_output("run-2").is_none());
    }

    #[test]
    fn outputs_held_for_runs_in_flight_stay_within_the_bound() {
        let memory = RunMemory::default();
        let one = crate::parse::parse_sources(&[("a.py", "def f():\n    return 1\n")]);
        let of = |files: usize| ParseOutput {
            files: vec![one.files[0].clone(); files],
            ..ParseOutput::default()
        };
        // A run of `repo` in flight as `key`, its output of `files` files handed over.
        let begin = |key: &str, repo: &str, commit: &str, files: usize| {
            let mut run = pending(repo, commit, &["a.py"]);
            run.output = Some(of(files));
            memory.begin(key, run);
        };
        // One run beyond the bound is held when no other is.
        begin("run-huge", "huge", "c1", MAX_REMEMBERED_FILES + 1);
        begin("run-next", "next", "c1", 1);
        assert!(memory.take_output("run-next").is_none());
        assert!(memory.take_output("run-huge").is_some());
        begin("run-big", "big", "c1", MAX_REMEMBERED_FILES - 10);
        // Another repository's run would go past the bound: its write reads its file.
        begin("run-other", "other", "c1", 11);
        assert!(memory.take_output("run-other").is_none());
        // Within the bound it is held; once the big one is taken, there is room again.
        begin("run-small", "small", "c1", 10);
        assert_eq!(
            memory.take_output("run-small").map(|o| o.files.len()),
            Some(10)
        );
        assert!(memory.take_output("run-big").is_some());
        begin("run-again", "other", "c2", 11);
        assert_eq!(
            memory.take_output("run-again").map(|o| o.files.len()),
            Some(11)
        );
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

    #[tokio::test]
    async fn a_run_with_its_facts_on_disk_is_moved_into_the_cache() {
        let dir = tempfile::tempdir().expect("tempdir");
        let cache = CacheDir::of(dir.path(), "r");
        let memory = RunMemory::default();
        let mut run_1 = pending("r", "c1", &["a.py"]);
        run_1.digest = Some(RowsDigest::default());
        memory.begin("run-1", run_1);
        memory.promote("run-1", &cache).await;
        assert!(memory.remembered("r").is_some());

        let mut run_2 = pending("r", "c2", &["a.py", "b.py"]);
        let PendingFacts::InMemory(files) = &run_2.facts else {
            panic!("pending() keeps the facts in memory");
        };
        let folder = dir.path().join("run-2");
        std::fs::create_dir_all(&folder).expect("run folder");
        let written = folder.join("facts.jsonl");
        write_facts(&written, "c2", &run_2.blobs, files).expect("write");
        run_2.facts = PendingFacts::OnDisk(written.clone());
        run_2.digest = Some(RowsDigest::default());
        memory.begin("run-2", run_2);
        memory.promote("run-2", &cache).await;

        assert!(
            memory.remembered("r").is_none(),
            "the run of c1 is no longer the last one in memory"
        );
        assert!(!written.exists(), "moved out of the run's folder");
        let _ = std::fs::remove_dir_all(&folder);
        let read = memory.last("r", "c2", &cache).await.expect("from disk");
        let mut paths: Vec<&str> = read.facts.files.keys().map(String::as_str).collect();
        paths.sort_unstable();
        assert_eq!(paths, ["a.py", "b.py"]);
        assert!(memory.last("r", "c1", &cache).await.is_none());
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
        memory.remember("a", Some(run(half)));
        memory.remember("b", Some(run(half)));
        assert!(memory.remembered("a").is_some() && memory.remembered("b").is_some());
        memory.remember("c", Some(run(1)));
        assert!(
            memory.remembered("a").is_none(),
            "the least recent goes first"
        );
        assert!(memory.remembered("b").is_some() && memory.remembered("c").is_some());
        memory.remember("c", Some(run(MAX_REMEMBERED_FILES + 1)));
        assert!(memory.remembered("c").is_none(), "too big for memory");
        assert!(memory.remembered("b").is_some(), "the others stay");
    }
}
