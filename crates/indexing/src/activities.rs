//! The six activities of `RepoIndexingWorkflow`. `clone_repo_activity` runs on the shared queue,
//! fetches the commit into this host's mirror of the repository and answers with the
//! host-local queues of its host; the other five run there, next to the mirror and the parse
//! output, which never leave the host.

use crate::{
    clone::{CloneRequest, clone_repository},
    failure::{
        BAD_RUN_KEY, CLONE_MISSING, IO, NOT_ROUTABLE, PARSE_FAILED, PARSE_OUTPUT_UNREADABLE, fatal,
        of_clone, of_graph, transient,
    },
    full_write::write_parse_output,
    graph::{
        CleanupScope, DeleteReport, GraphStore, IndexRunRecord, RepositoryRecord, RowLookups,
        RunKey,
    },
    incremental::{CacheDir, DeltaFile, RowsDigest, delta, tree_blobs, write_facts},
    last_run::{
        LastRun, MAX_REMEMBERED_FILES, Pending, PendingFacts, RunMemory, drop_after_full_run,
    },
    memory::drop_in_background,
    messages::{
        Checkout, CleanupRepoInput, CleanupStaleInput, CloneInput, CloneResult, Deleted,
        MetadataInput, ParseInput, ParseResult, PersistInput, PersistResult, ProgressCounter,
    },
    metrics::IndexingMetrics,
    parse::{FileFacts, ParseOptions, parse_repository_reusing, read_output_edges, write_output},
    progress::{Counters, blocking, heartbeating, with_progress},
    settings::IndexingSettings,
    store_cache::StoreCache,
    workspace::{RunFolder, create_private_dir, mirror_of},
};
use std::{
    collections::BTreeMap,
    os::unix::ffi::{OsStrExt, OsStringExt},
    path::{Path, PathBuf},
    sync::Arc,
};
use temporalio_macros::activities;
use temporalio_sdk::activities::{ActivityContext, ActivityError};
use worker_host_core::services::HostServices;

/// The activities that run where the clone is, in the order a run uses them.
pub const HOST_LOCAL: [&str; 5] = [
    crate::PARSE,
    crate::PERSIST_METADATA,
    crate::PERSIST_KG,
    crate::CLEANUP_STALE,
    crate::CLEANUP_REPO,
];

/// How long the parse waits for the store to say which commit it holds.
const STORE_LOOKUP_PATIENCE: std::time::Duration = std::time::Duration::from_secs(5);

/// What an activity reads from the running config when it starts: an edit applies to the next
/// activity.
struct Current {
    indexing: Arc<IndexingSettings>,
    data_dir: PathBuf,
}

/// What a host-local activity of a run works on: the running config, the run's folder, and
/// this host's cache of the repository.
struct RunPlace {
    config: Current,
    folder: RunFolder,
    cache: CacheDir,
}

/// What the run's folder must already hold; without it the host lost the run's files and the
/// run starts over from the clone.
#[derive(Clone, Copy)]
enum Needs {
    Nothing,
    /// The name of the mirror that holds the run's commit.
    Mirror,
    /// The parse output, or an incremental run's [`DeltaFile`].
    ParseOutput,
}

/// State of the indexing activities: the host's services, the shared graph store, the host's
/// memory of runs, the indexing counters.
pub struct IndexingActivities {
    services: Arc<HostServices>,
    stores: Arc<StoreCache>,
    memory: Arc<RunMemory>,
    metrics: Arc<IndexingMetrics>,
}

impl IndexingActivities {
    /// Activities of the host `services` that share `stores` and `memory` and count into
    /// `metrics`.
    pub fn new(
        services: Arc<HostServices>,
        stores: Arc<StoreCache>,
        memory: Arc<RunMemory>,
        metrics: Arc<IndexingMetrics>,
    ) -> Self {
        Self {
            services,
            stores,
            memory,
            metrics,
        }
    }

    fn current(&self) -> Current {
        Current {
            indexing: self.services.section::<IndexingSettings>(),
            data_dir: self.services.data_dir(),
        }
    }

    fn folder(config: &Current, run_key: &str) -> Result<RunFolder, ActivityError> {
        RunFolder::new(&config.indexing.workspace(&config.data_dir), run_key)
            .map_err(|m| fatal(BAD_RUN_KEY, m))
    }

    /// The place of run `run_key` of `repo_id` on this host, holding what `needs` says.
    fn run_place(
        &self,
        run_key: &str,
        repo_id: &str,
        needs: Needs,
    ) -> Result<RunPlace, ActivityError> {
        let config = self.current();
        let folder = Self::folder(&config, run_key)?;
        let missing = match needs {
            Needs::Nothing => None,
            Needs::Mirror => (!folder.mirror_link().is_file()).then_some("clone"),
            Needs::ParseOutput => (!folder.parse_output().is_file() && !folder.delta().is_file())
                .then_some("parse output"),
        };
        if let Some(what) = missing {
            return Err(fatal(
                CLONE_MISSING,
                format!(
                    "no {what} of run {run_key} on host {} (its files are gone); the run starts \
                     over from the clone",
                    self.services.host_id()
                ),
            ));
        }
        Ok(RunPlace {
            cache: CacheDir::of(&config.data_dir, repo_id),
            config,
            folder,
        })
    }

    async fn store(&self) -> Result<Arc<GraphStore>, ActivityError> {
        let config = self.current();
        self.stores
            .get(&config.indexing.graph, &config.data_dir)
            .await
            .map_err(of_graph)
    }

    /// Where this host runs each later activity of a run.
    fn routes(&self) -> Result<BTreeMap<String, String>, ActivityError> {
        HOST_LOCAL
            .iter()
            .map(|&a| match self.services.host_local_queue(a) {
                Some(q) => Ok((a.to_owned(), q)),
                None => Err(fatal(
                    NOT_ROUTABLE,
                    format!(
                        "this host runs {} but cannot finish the run: no `host_local = true` \
                         entry of its workers.toml lists `{a}` (or the `{}` set)",
                        crate::CLONE,
                        crate::ACTIVITY_SET
                    ),
                )),
            })
            .collect()
    }

    /// This host's last finished run of `repo_id`, when it is what the store holds (its commit
    /// is the store's last indexed commit): what an incremental run starts from.
    async fn last_run(&self, repo_id: &str, cache: &CacheDir) -> Option<Arc<LastRun>> {
        let cached = self.memory.last_commit(repo_id, cache).await?;
        let stored = self.last_indexed_commit(repo_id).await?;
        if stored != cached {
            return None;
        }
        self.memory.last(repo_id, &cached, cache).await
    }

    /// The mirror named in the run's folder, once it is known to hold `commit`: a mirror made
    /// again since the clone (it was damaged, or grew too many packs) may have lost it, and
    /// then the run starts over from the clone.
    fn mirror_with(&self, folder: &RunFolder, commit: &str) -> Result<PathBuf, ActivityError> {
        let link = folder.mirror_link();
        let mirror = std::fs::read(&link)
            .map(|bytes| PathBuf::from(std::ffi::OsString::from_vec(bytes)))
            .map_err(|e| transient(IO, format!("cannot read {}: {e}", link.display())))?;
        if holds_commit(&mirror, commit) {
            return Ok(mirror);
        }
        Err(fatal(
            CLONE_MISSING,
            format!(
                "the mirror {} on host {} no longer holds commit {commit}; the run starts over \
                 from the clone",
                mirror.display(),
                self.services.host_id()
            ),
        ))
    }

    /// The store's last indexed commit of `repo_id`, if the store answers within
    /// [`STORE_LOOKUP_PATIENCE`]: without it the run is a full one, which is always correct.
    async fn last_indexed_commit(&self, repo_id: &str) -> Option<String> {
        let lookup = async {
            let store = self.store().await.ok()?;
            store.repository(repo_id).await.ok().flatten()
        };
        match tokio::time::timeout(STORE_LOOKUP_PATIENCE, lookup).await {
            Ok(repository) => repository.and_then(|r| r.last_indexed_commit),
            Err(_) => {
                tracing::warn!("the graph store did not answer; parsing every file");
                None
            }
        }
    }
}

#[activities]
impl IndexingActivities {
    /// Fetch the repository into this host's mirror of it and name the mirror in the run's
    /// folder; return the commit and this host's queues.
    #[activity(name = "clone_repo_activity")]
    pub async fn clone_repo_activity(
        self: Arc<Self>,
        ctx: ActivityContext,
        input: CloneInput,
    ) -> Result<CloneResult, ActivityError> {
        let config = self.current();
        let routes = self.routes()?;
        let folder = Self::folder(&config, &input.run_key)?;
        let settings = &config.indexing;
        let limits = settings.clone_limits();
        let request = CloneRequest {
            url: input.repo_url,
            reference: input.reference,
        };
        let root = folder.root().to_owned();
        let link = folder.mirror_link();
        let mirror = mirror_of(&config.data_dir, &request.url);
        let counters = Counters::default();
        let work = blocking({
            let counters = counters.clone();
            move || {
                // A retried attempt finds what the failed one left: start from nothing.
                if root.exists() {
                    std::fs::remove_dir_all(&root).map_err(|e| {
                        transient(IO, format!("cannot clear {}: {e}", root.display()))
                    })?;
                }
                create_private_dir(&root)
                    .map_err(|e| transient(IO, format!("cannot create {}: {e}", root.display())))?;
                let outcome = clone_repository(&request, &mirror, &limits, |p| {
                    counters.set(p.done, p.total);
                    !counters.stop_requested()
                })
                .map_err(|e| {
                    let _ = std::fs::remove_dir_all(&root);
                    of_clone(&e)
                })?;
                std::fs::write(&link, outcome.path.as_os_str().as_bytes())
                    .map_err(|e| transient(IO, format!("cannot write {}: {e}", link.display())))?;
                Ok::<_, ActivityError>(outcome)
            }
        });
        let outcome =
            with_progress(&ctx, ProgressCounter::ObjectsReceived, &counters, work).await???;
        Ok(CloneResult {
            checkout: Checkout {
                commit: outcome.commit_sha,
                default_branch: outcome.default_branch,
                host_id: self.services.host_id().to_owned(),
            },
            path: outcome.path.display().to_string(),
            routes,
            bytes_received: outcome.bytes_received,
            shallow: outcome.shallow,
        })
    }

    /// Parse the run's commit, read from the mirror, on every core. Files unchanged since the
    /// last indexed commit reuse the facts this host kept of it, without their blobs being
    /// read, and then only the rows that changed go to the run's folder (a [`DeltaFile`]);
    /// otherwise the whole parse output does (see [`crate::incremental`]).
    #[activity(name = "parse_repo_activity")]
    pub async fn parse_repo_activity(
        self: Arc<Self>,
        ctx: ActivityContext,
        input: ParseInput,
    ) -> Result<ParseResult, ActivityError> {
        let RunPlace {
            config,
            folder,
            cache,
        } = self.run_place(&input.run_key, &input.repo_id, Needs::Mirror)?;
        let repo = self.mirror_with(&folder, &input.commit)?;
        let last = match input.full {
            true => None,
            false => self.last_run(&input.repo_id, &cache).await,
        };
        let counters = Counters::default();
        let options = ParseOptions {
            max_file_bytes: config.indexing.max_file_bytes,
            threads: config.indexing.parse_threads,
            cancel: counters.stop_flag(),
            ..ParseOptions::default()
        };
        let memory = Arc::clone(&self.memory);
        let work = blocking({
            let counters = counters.clone();
            move || -> Result<ParseResult, String> {
                let blobs = tree_blobs(&repo, &input.commit)
                    .map_err(|e| format!("cannot list the commit's tree: {e}"))?;
                // A run too big for the memory of runs has its facts written now, and
                // resolution takes them over instead of copying them.
                let mut facts = None;
                let keep = |unresolved: &[Arc<FileFacts>]| {
                    if unresolved.len() <= MAX_REMEMBERED_FILES {
                        return true;
                    }
                    let path = folder.facts();
                    match write_facts(&path, &input.commit, &blobs, unresolved) {
                        Ok(()) => facts = Some(PendingFacts::OnDisk(path)),
                        Err(e) => {
                            tracing::warn!(error = %e, "cannot write the run's facts; the next run is a full one")
                        }
                    }
                    false
                };
                let parsed = parse_repository_reusing(
                    &repo,
                    &input.commit,
                    &options,
                    |path| last.as_ref()?.facts.reusable(path, &blobs),
                    keep,
                    |done, total| counters.set(done as u64, total as u64),
                )
                .map_err(|e| e.to_string())?;
                let lookups = RowLookups::new(&parsed.output);
                let digest = RowsDigest::of(&lookups);
                let out = folder.parse_output();
                let mut result = ParseResult::of(&parsed.output, out.display().to_string());
                result.totals.files_parsed = result.totals.files.saturating_sub(parsed.reused);
                // The rows that changed since the last run, when there is one to compare with
                // and the change is not most of the repository.
                let changed = match (&last, &digest) {
                    (Some(last), Some(digest)) => delta(&last.digest, &lookups, digest)
                        .map(|delta| (last.facts.commit.clone(), delta)),
                    _ => None,
                };
                let output = match changed {
                    Some((base, delta)) => {
                        let path = folder.delta();
                        let file = DeltaFile {
                            rows: delta.rows,
                            affected_files: delta.affected_files.into_iter().collect(),
                        };
                        file.write(&path)
                            .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
                        drop_in_background(file);
                        result.base_commit = Some(base);
                        result.output_path = path.display().to_string();
                        drop(lookups);
                        drop_in_background((parsed.output, last));
                        None
                    }
                    None => {
                        write_output(&out, &parsed.output).map_err(|e| e.to_string())?;
                        drop(lookups);
                        drop_in_background(last);
                        // The write stage takes it from memory, unless the memory of runs
                        // cannot hold it (see `RunMemory::begin`).
                        Some(parsed.output)
                    }
                };
                let facts = facts.unwrap_or(PendingFacts::InMemory(parsed.unresolved));
                let pending = Pending {
                    repo_id: input.repo_id.clone(),
                    commit: input.commit.clone(),
                    blobs,
                    facts,
                    digest,
                    output,
                };
                memory.begin(&input.run_key, pending);
                Ok(result)
            }
        });
        let result = with_progress(&ctx, ProgressCounter::FilesParsed, &counters, work).await??;
        let result = result.map_err(|e| transient(PARSE_FAILED, e))?;
        self.metrics.parsed(result.totals.files_parsed);
        Ok(result)
    }

    /// Record the repository and the run (also a failed one) in the graph store.
    #[activity(name = "persist_metadata_activity")]
    pub async fn persist_metadata_activity(
        self: Arc<Self>,
        ctx: ActivityContext,
        input: MetadataInput,
    ) -> Result<(), ActivityError> {
        let repository = input.repository.as_ref().map(RepositoryRecord::from);
        let work = async {
            self.store()
                .await?
                .persist_metadata(repository.as_ref(), &IndexRunRecord::from(&input.run))
                .await
                .map_err(of_graph)
        };
        heartbeating(&ctx, work).await?
    }

    /// Write the parsed graph, batched and idempotent, tagged with the run: everything (a part
    /// at a time, see [`crate::full_write`]), or for an incremental run only the rows the
    /// parse found changed.
    #[activity(name = "persist_kg_activity")]
    pub async fn persist_kg_activity(
        self: Arc<Self>,
        ctx: ActivityContext,
        input: PersistInput,
    ) -> Result<PersistResult, ActivityError> {
        let RunPlace { folder, .. } =
            self.run_place(&input.run_key, &input.repo_id, Needs::ParseOutput)?;
        let path = folder.parse_output();
        let delta_path = folder.delta();
        let incremental = input.base_commit.is_some() && delta_path.is_file();
        let counters = Counters::default();
        // Taken before connecting: an attempt that fails (a store that does not answer) frees
        // it, and the retry reads the file, so a store outage holds no output.
        let held = (!incremental)
            .then(|| self.memory.take_output(&input.run_key))
            .flatten();
        // Connecting is inside the heartbeated part: a store that is slow to answer is waited
        // for (and reported as unavailable), not mistaken for a dead worker.
        let work = async {
            let store = match self.store().await {
                Ok(store) => store,
                Err(e) => {
                    if let Some(output) = held {
                        let files = output.files.len();
                        drop_after_full_run(output, files);
                    }
                    return Err(e);
                }
            };
            if !incremental {
                let counters = counters.clone();
                let (input, runtime) = (input.clone(), tokio::runtime::Handle::current());
                let files_per_part = self.current().indexing.graph.files_per_part;
                return blocking(move || -> Result<_, ActivityError> {
                    let output = match held {
                        Some(output) => output,
                        None => read_output_edges(&path)
                            .map_err(|e| transient(PARSE_OUTPUT_UNREADABLE, e.to_string()))?,
                    };
                    let run = RunKey::new(&input.repo_id, &input.run_id);
                    let written = write_parse_output(
                        &store,
                        output,
                        run,
                        files_per_part,
                        &counters,
                        &runtime,
                    )?;
                    Ok((written, None))
                })
                .await?;
            }
            let delta = blocking(move || DeltaFile::read(&delta_path))
                .await?
                .map_err(|e| transient(PARSE_OUTPUT_UNREADABLE, e))?;
            let rows = Arc::new(delta.rows);
            let progress = |done, total| counters.set(done, total);
            let run = RunKey::new(&input.repo_id, &input.run_id);
            let written = store
                .persist_graph(run, &rows, &progress)
                .await
                .map_err(of_graph)?;
            Ok((written, Some(delta.affected_files)))
        };
        let (written, affected) =
            with_progress(&ctx, ProgressCounter::ElementsWritten, &counters, work).await??;
        self.metrics.written(written.nodes, written.relationships);
        Ok(PersistResult {
            nothing_stale: written.into_empty,
            written: written.into(),
            affected_files: affected,
        })
    }

    /// Delete the repository's nodes and relationships that this run did not write (in the
    /// affected files only, for an incremental run; nowhere after a write into an empty
    /// repository); then keep the run's facts and graph as
    /// this host's last run of the repository.
    #[activity(name = "cleanup_stale_kg_nodes_activity")]
    pub async fn cleanup_stale_kg_nodes_activity(
        self: Arc<Self>,
        ctx: ActivityContext,
        input: CleanupStaleInput,
    ) -> Result<Deleted, ActivityError> {
        let scope = input.files.map_or(CleanupScope::All, CleanupScope::Files);
        let work = async {
            if input.nothing_stale {
                return Ok(DeleteReport::default());
            }
            self.store()
                .await?
                .cleanup_stale(RunKey::new(&input.repo_id, &input.run_id), &scope)
                .await
                .map_err(of_graph)
        };
        let report = heartbeating(&ctx, work).await??;
        self.metrics.deleted(report.nodes, report.relationships);
        let RunPlace { cache, .. } =
            self.run_place(&input.run_key, &input.repo_id, Needs::Nothing)?;
        self.memory.promote(&input.run_key, &cache).await;
        Ok(report.into())
    }

    /// Remove the run's folder (its outputs; the mirror stays for the next run). Returns
    /// whether there was one.
    #[activity(name = "cleanup_repo_activity")]
    pub async fn cleanup_repo_activity(
        self: Arc<Self>,
        ctx: ActivityContext,
        input: CleanupRepoInput,
    ) -> Result<bool, ActivityError> {
        self.memory.forget(&input.run_key);
        let root = Self::folder(&self.current(), &input.run_key)?
            .root()
            .to_owned();
        let work = blocking(move || match std::fs::remove_dir_all(&root) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(transient(
                IO,
                format!("cannot remove {}: {e}", root.display()),
            )),
        });
        heartbeating(&ctx, work).await??
    }
}

/// Whether the repository at `repo` holds commit `commit` (a full id).
fn holds_commit(repo: &Path, commit: &str) -> bool {
    let Ok(oid) = git2::Oid::from_str(commit) else {
        return false;
    };
    git2::Repository::open_bare(repo).is_ok_and(|r| r.find_commit(oid).is_ok())
}
