//! `RepoIndexingWorkflow`: check the input, then clone → parse → persist metadata → persist
//! graph → clean stale nodes, with `cleanup_repo_activity` at the end whatever happened. The
//! clone runs on the workflow's queue (any host); everything after it goes to the host-local
//! queues the clone returned, so it runs next to the clone. When that host is lost (work not
//! picked up within `host_seconds`, or its files gone) the run starts over from the clone, on
//! whichever host takes it. A failed run is recorded (IndexRun with status failed and the
//! reason) before the workflow fails; a malformed input fails it at once, before any activity.
//!
//! Runs started since [`CONCURRENT_WRITES`] (a patch marker in their history) do two pairs of
//! independent steps at once: an incremental run's `running` record with its (small) graph
//! write, and every run's final record with the removal of its folder. Older histories replay
//! the one-at-a-time order they were recorded with.

use crate::{
    activities::IndexingActivities,
    failure::{Cause, HOST_LOST},
    messages::{
        CleanupRepoInput, CleanupStaleInput, CloneInput, CloneResult, IndexProgress, IndexSummary,
        MetadataInput, Mode, ParseInput, PersistInput, ProgressCounter, ProgressUpdate,
        RepositoryState, RunOutcome, RunState, VERSION,
    },
    policy::{self, Destination, Policy},
    repo_id::repo_id_of,
    request::{INVALID_INPUT, IndexRequest, RunTimeouts},
    stage::{Durations, Stage},
    workspace::run_key,
};
use std::collections::BTreeMap;
use temporalio_common::{ActivityDefinition, data_converters::RawValue};
use temporalio_macros::{workflow, workflow_methods};
use temporalio_sdk::{
    ApplicationFailure, SyncWorkflowContext, WorkflowCancellationToken, WorkflowContext,
    WorkflowContextView, WorkflowResult, WorkflowTermination,
};

/// How many times a run starts from the clone before it gives up on lost hosts.
const MAX_ATTEMPTS: u32 = 3;

/// The patch that made the independent writes of a run concurrent (see the module doc).
pub const CONCURRENT_WRITES: &str = "concurrent-writes";

/// Indexes one repository into the graph store. Input: [`IndexRequest`] as JSON. Queries:
/// `progress`. Signals: `progress_update` (sent by the activities).
#[workflow]
#[derive(Default)]
pub struct RepoIndexingWorkflow {
    progress: IndexProgress,
}

type Ctx = WorkflowContext<RepoIndexingWorkflow>;

/// What one run knows as it goes, for its records.
struct Run {
    request: IndexRequest,
    repo_id: String,
    run_id: String,
    started_at_ms: u64,
    timeouts: RunTimeouts,
    durations: Durations,
    /// Whether the run's independent writes go at once ([`CONCURRENT_WRITES`]).
    concurrent: bool,
}

/// Why an attempt ended early, and where its clone is (if it got that far).
struct Stopped {
    cause: Cause,
    route: Option<CloneResult>,
}

#[workflow_methods]
impl RepoIndexingWorkflow {
    /// Index the repository of the input (an [`IndexRequest`]); a malformed input fails the
    /// workflow with a non-retryable `InvalidInput` failure naming the field and the rule.
    #[run]
    pub async fn run(
        ctx: &mut WorkflowContext<Self>,
        input: RawValue,
    ) -> WorkflowResult<IndexSummary> {
        let request = match IndexRequest::from_raw(&input) {
            Ok(request) => request,
            Err(invalid) => {
                set_stage(ctx, Stage::Failed);
                return Err(ApplicationFailure::builder(invalid.to_string())
                    .type_name(INVALID_INPUT.to_owned())
                    .non_retryable(true)
                    .build()
                    .into());
            }
        };
        let repo_id = request
            .repo_id
            .clone()
            .unwrap_or_else(|| repo_id_of(&request.repo_url));
        let mut run = Run {
            timeouts: request.timeouts(),
            request,
            repo_id,
            run_id: ctx.run_id().to_owned(),
            started_at_ms: now_ms(ctx),
            durations: Durations::default(),
            concurrent: ctx.patched(CONCURRENT_WRITES),
        };
        let mut attempt = 0;
        loop {
            attempt += 1;
            ctx.state_mut(|s| {
                s.progress = IndexProgress {
                    attempt,
                    ..IndexProgress::default()
                }
            });
            let key = run_key(&run.run_id, attempt);
            let stopped = match index(ctx, &mut run, &key, attempt).await {
                Ok(summary) => {
                    set_stage(ctx, Stage::Done);
                    return Ok(summary);
                }
                Err(stopped) => stopped,
            };
            let (kind, reason) = match stopped.cause {
                Cause::HostLost(reason) if attempt < MAX_ATTEMPTS => {
                    // The lost host keeps its folder; nothing here can reach it.
                    ctx.state_mut(|s| {
                        s.progress.stage = Stage::Restarting;
                        s.progress.reason = Some(reason);
                    });
                    continue;
                }
                Cause::HostLost(reason) => (Some(HOST_LOST.to_owned()), reason),
                Cause::Failed { kind, message } => (Some(kind), message),
                Cause::Cancelled => (None, "cancelled".to_owned()),
            };
            set_stage(ctx, Stage::Failed);
            cleanup_repo(ctx, &mut run, &key, stopped.route.as_ref()).await;
            let record = run_state(ctx, &run, None, RunOutcome::Failed, Some(reason.clone()));
            let route = stopped.route.as_ref();
            let _ = persist_metadata(ctx, &run, None, record, route, true).await;
            return Err(match kind {
                None => WorkflowTermination::cancelled(),
                Some(kind) => ApplicationFailure::builder(reason)
                    .type_name(kind)
                    .non_retryable(true)
                    .build()
                    .into(),
            });
        }
    }

    /// Sent by the activities as they go.
    #[signal(name = "progress_update")]
    pub fn progress_update(
        &mut self,
        _ctx: &mut SyncWorkflowContext<Self>,
        update: ProgressUpdate,
    ) {
        let p = &mut self.progress;
        match update.counter {
            ProgressCounter::ObjectsReceived => {}
            ProgressCounter::FilesParsed => {
                (p.files_parsed, p.files_total) = (update.done, update.total)
            }
            ProgressCounter::ElementsWritten => {
                (p.elements_written, p.elements_total) = (update.done, update.total)
            }
        }
    }

    /// Stage and counts of the run.
    #[query(name = "progress")]
    pub fn progress(&self, _ctx: &WorkflowContextView) -> IndexProgress {
        self.progress.clone()
    }
}

/// One attempt: from the clone to the cleanup of the run's folder.
async fn index(
    ctx: &mut Ctx,
    run: &mut Run,
    key: &str,
    attempt: u32,
) -> Result<IndexSummary, Stopped> {
    let input = CloneInput {
        repo_url: run.request.repo_url.clone(),
        reference: run.request.reference.clone(),
        run_key: key.to_owned(),
    };
    let clone = (IndexingActivities::clone_repo_activity, &policy::CLONE);
    let cloned = stage(ctx, run, Stage::Cloning, clone, input, None).await?;
    let route = Some(&cloned);
    let commit = cloned.checkout.commit.clone();

    let input = ParseInput {
        run_key: key.to_owned(),
        repo_id: run.repo_id.clone(),
        commit: commit.clone(),
        full: run.request.full,
    };
    let parse = (IndexingActivities::parse_repo_activity, &policy::PARSE);
    let parsed = stage(ctx, run, Stage::Parsing, parse, input, route).await?;
    // What the activity's last progress signal said, which a short activity does not send.
    let files = parsed.totals.files;
    ctx.state_mut(|s| (s.progress.files_parsed, s.progress.files_total) = (files, files));

    let repository = RepositoryState {
        repo_id: run.repo_id.clone(),
        url: crate::clone::redact_url(&run.request.repo_url),
        default_branch: cloned.checkout.default_branch.clone(),
        head_commit: Some(commit.clone()),
        last_indexed_commit: None,
        languages: parsed.totals.languages.clone(),
        updated_at_ms: now_ms(ctx),
    };
    let mut record = run_state(ctx, run, Some(&commit), RunOutcome::Running, None);
    record.counts.insert("files".into(), parsed.totals.files);
    let input = MetadataInput {
        repository: Some(repository.clone()),
        run: record,
    };
    let metadata = (
        IndexingActivities::persist_metadata_activity,
        &policy::PERSIST_METADATA,
    );
    let graph_input = PersistInput {
        repo_id: run.repo_id.clone(),
        run_id: run.run_id.clone(),
        run_key: key.to_owned(),
        base_commit: parsed.base_commit.clone(),
    };
    let graph = (IndexingActivities::persist_kg_activity, &policy::PERSIST_KG);
    // A full write holds the embedded store's connection for long: the record goes first.
    let persisted = if run.concurrent && parsed.base_commit.is_some() {
        set_stage(ctx, Stage::PersistingGraph);
        let (recorded, persisted) = futures::join!(
            timed(ctx, run, metadata, input, route, false),
            timed(ctx, run, graph, graph_input, route, false)
        );
        finish(run, Stage::PersistingMetadata, recorded).map_err(stopped(route))?;
        finish(run, Stage::PersistingGraph, persisted).map_err(stopped(route))?
    } else {
        stage(ctx, run, Stage::PersistingMetadata, metadata, input, route).await?;
        stage(ctx, run, Stage::PersistingGraph, graph, graph_input, route).await?
    };
    let incremental = persisted.affected_files.is_some();
    let written = persisted.written;
    let elements = written.nodes + written.relationships;
    ctx.state_mut(|s| {
        (s.progress.elements_written, s.progress.elements_total) = (elements, elements)
    });

    let input = CleanupStaleInput {
        repo_id: run.repo_id.clone(),
        run_id: run.run_id.clone(),
        files: persisted.affected_files,
        nothing_stale: persisted.nothing_stale,
        run_key: key.to_owned(),
    };
    let clean = (
        IndexingActivities::cleanup_stale_kg_nodes_activity,
        &policy::CLEANUP_STALE,
    );
    let stale = stage(ctx, run, Stage::CleaningStaleNodes, clean, input, route).await?;

    if !run.concurrent {
        cleanup_repo(ctx, run, key, route).await;
    }
    run.durations
        .total(now_ms(ctx).saturating_sub(run.started_at_ms));

    let mut record = run_state(ctx, run, Some(&commit), RunOutcome::Succeeded, None);
    for (name, count) in [
        ("files", parsed.totals.files),
        ("files_parsed", parsed.totals.files_parsed),
        ("nodes", written.nodes),
        ("relationships", written.relationships),
        ("stale_nodes_deleted", stale.nodes),
        ("stale_relationships_deleted", stale.relationships),
    ] {
        record.counts.insert(name.into(), count);
    }
    let repository = RepositoryState {
        last_indexed_commit: Some(commit),
        updated_at_ms: now_ms(ctx),
        ..repository
    };
    let recorded = persist_metadata(ctx, run, Some(repository), record, route, false);
    let recorded = if run.concurrent {
        // The record is written while the folder goes; it holds the durations until then.
        let (recorded, removed) = futures::join!(recorded, remove_folder(ctx, run, key, route));
        run.durations
            .record(Stage::CleaningUp, removed.ms, removed.done.is_err());
        recorded
    } else {
        recorded.await
    };
    recorded.map_err(stopped(Some(&cloned)))?;
    if run.concurrent {
        run.durations
            .total(now_ms(ctx).saturating_sub(run.started_at_ms));
    }
    Ok(IndexSummary {
        version: VERSION,
        repo_id: run.repo_id.clone(),
        run_id: run.run_id.clone(),
        checkout: cloned.checkout,
        attempts: attempt,
        mode: if incremental {
            Mode::Incremental
        } else {
            Mode::Full
        },
        base_commit: parsed.base_commit.filter(|_| incremental),
        parsed: parsed.totals,
        written,
        stale_deleted: stale,
        durations_ms: run.durations.to_map(),
    })
}

/// What an activity answered, and how long that took in workflow time.
struct Timed<T> {
    done: Result<T, Cause>,
    ms: u64,
}

/// Run `stage`'s activity: report the stage, schedule the activity by its [`Policy`] (on the
/// clone's host once there is a `route`), and time it. A failure stops the attempt, with the
/// clone's `route` for the cleanup.
async fn stage<A: ActivityDefinition>(
    ctx: &Ctx,
    run: &mut Run,
    stage: Stage,
    activity: (A, &Policy),
    input: A::Input,
    route: Option<&CloneResult>,
) -> Result<A::Output, Stopped> {
    set_stage(ctx, stage);
    let done = timed(ctx, run, activity, input, route, false).await;
    finish(run, stage, done).map_err(stopped(route))
}

/// Schedule `activity` (see [`schedule`]) and time it.
async fn timed<A: ActivityDefinition>(
    ctx: &Ctx,
    run: &Run,
    activity: (A, &Policy),
    input: A::Input,
    route: Option<&CloneResult>,
    detached: bool,
) -> Timed<A::Output> {
    let started = now_ms(ctx);
    let done = schedule(ctx, run, activity, input, route, detached).await;
    Timed {
        done,
        ms: now_ms(ctx).saturating_sub(started),
    }
}

/// Record how long `stage`'s activity took; what it answered.
fn finish<T>(run: &mut Run, stage: Stage, timed: Timed<T>) -> Result<T, Cause> {
    run.durations.record(stage, timed.ms, false);
    timed.done
}

/// A failure that stops the attempt, with the clone's `route` for the cleanup.
fn stopped(route: Option<&CloneResult>) -> impl FnOnce(Cause) -> Stopped + '_ {
    move |cause| Stopped {
        cause,
        route: route.cloned(),
    }
}

/// Schedule `activity` by its [`Policy`]: on the host-local queue `route` names for it, else on
/// the workflow's queue. `detached`: it runs even after the workflow was cancelled.
async fn schedule<A: ActivityDefinition>(
    ctx: &Ctx,
    run: &Run,
    (activity, policy): (A, &Policy),
    input: A::Input,
    route: Option<&CloneResult>,
    detached: bool,
) -> Result<A::Output, Cause> {
    let destination = match route.and_then(|r| r.routes.get(activity.name())) {
        Some(queue) => Destination::HostLocal(queue.clone()),
        None => Destination::Shared(ctx.task_queue().to_owned()),
    };
    let mut options = policy.options(destination, &run.timeouts);
    if detached {
        options.cancellation_token = Some(WorkflowCancellationToken::new());
    }
    ctx.execute_activity(activity, input, options)
        .await
        .map_err(|e| Cause::of(&e))
}

/// Record the repository and the run. `detached`: also after the workflow was cancelled.
async fn persist_metadata(
    ctx: &Ctx,
    run: &Run,
    repository: Option<RepositoryState>,
    record: RunState,
    route: Option<&CloneResult>,
    detached: bool,
) -> Result<(), Cause> {
    let input = MetadataInput {
        repository,
        run: record,
    };
    let activity = (
        IndexingActivities::persist_metadata_activity,
        &policy::PERSIST_METADATA,
    );
    schedule(ctx, run, activity, input, route, detached).await
}

/// Remove the run's folder on the host that holds it; runs after a cancellation too. A failure
/// here is recorded in the durations (`cleanup_repo_failed`) but never fails the run.
async fn cleanup_repo(ctx: &Ctx, run: &mut Run, key: &str, route: Option<&CloneResult>) {
    let removed = remove_folder(ctx, run, key, route).await;
    run.durations
        .record(Stage::CleaningUp, removed.ms, removed.done.is_err());
}

/// The activity of [`cleanup_repo`], timed.
async fn remove_folder(
    ctx: &Ctx,
    run: &Run,
    key: &str,
    route: Option<&CloneResult>,
) -> Timed<bool> {
    if run_is_live(ctx) {
        set_stage(ctx, Stage::CleaningUp);
    }
    let input = CleanupRepoInput {
        run_key: key.to_owned(),
    };
    let activity = (
        IndexingActivities::cleanup_repo_activity,
        &policy::CLEANUP_REPO,
    );
    timed(ctx, run, activity, input, route, true).await
}

/// Whether the run is still going (not already reported failed).
fn run_is_live(ctx: &Ctx) -> bool {
    ctx.state(|s| s.progress.stage != Stage::Failed)
}

fn set_stage(ctx: &Ctx, stage: Stage) {
    ctx.state_mut(|s| s.progress.stage = stage);
}

fn run_state(
    ctx: &Ctx,
    run: &Run,
    commit: Option<&str>,
    outcome: RunOutcome,
    error: Option<String>,
) -> RunState {
    let ended = outcome != RunOutcome::Running;
    RunState {
        repo_id: run.repo_id.clone(),
        run_id: run.run_id.clone(),
        commit: commit.map(str::to_owned),
        started_at_ms: run.started_at_ms,
        ended_at_ms: ended.then(|| now_ms(ctx)),
        outcome,
        error,
        counts: BTreeMap::new(),
        durations_ms: run.durations.to_map(),
    }
}

/// Workflow time in milliseconds since the epoch (deterministic on replay).
fn now_ms(ctx: &Ctx) -> u64 {
    ctx.workflow_time()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_millis() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::messages::{PROGRESS_QUERY, PROGRESS_SIGNAL};
    use temporalio_common::{QueryDefinition, SignalDefinition};

    #[test]
    fn the_signal_and_query_names_are_the_shared_constants() {
        assert_eq!(
            RepoIndexingWorkflow::progress_update.name(),
            PROGRESS_SIGNAL
        );
        assert_eq!(RepoIndexingWorkflow::progress.name(), PROGRESS_QUERY);
    }
}
