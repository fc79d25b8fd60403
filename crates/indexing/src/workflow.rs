//! `RepoIndexingWorkflow`: clone → parse → persist metadata → persist graph → clean stale
//! nodes, with `cleanup_repo_activity` at the end whatever happened. The clone runs on the
//! workflow's queue (any host); everything after it goes to the host-local queues the clone
//! returned, so it runs next to the clone. When that host is lost (work not picked up within
//! `host_seconds`, or its files gone) the run starts over from the clone, on whichever host
//! takes it. A failed run is recorded (IndexRun with status failed and the reason) before the
//! workflow fails.

use super::{
    activities::IndexingActivities,
    failure::Cause,
    messages::{
        CleanupRepoInput, CleanupStaleInput, CloneInput, CloneResult, IndexProgress, IndexRequest,
        IndexSummary, MetadataInput, ParseInput, PersistInput, ProgressCounter, ProgressUpdate,
        RunTimeouts,
    },
    repo_id::repo_id_of,
    workspace::run_key,
};
use crate::graph::{IndexRunRecord, LanguageCount, RepositoryRecord, RunStatus};
use std::{collections::BTreeMap, time::Duration};
use temporalio_common::RetryPolicy;
use temporalio_macros::{workflow, workflow_methods};
use temporalio_sdk::{
    ActivityOptions, ApplicationFailure, SyncWorkflowContext, WorkflowCancellationToken,
    WorkflowContext, WorkflowContextView, WorkflowResult, WorkflowTermination,
};

/// How many times a run starts from the clone before it gives up on lost hosts.
const MAX_ATTEMPTS: u32 = 3;

/// Indexes one repository into the graph store. Queries: `progress`. Signals: `progress_update`
/// (sent by the activities).
#[workflow]
#[derive(Default)]
pub struct RepoIndexingWorkflow {
    progress: IndexProgress,
}

/// What one run knows as it goes, for its records.
struct Run {
    request: IndexRequest,
    repo_id: String,
    run_id: String,
    started_at_ms: u64,
    timeouts: RunTimeouts,
    durations_ms: BTreeMap<String, u64>,
}

/// Why an attempt ended early, and where its clone is (if it got that far).
struct Stopped {
    cause: Cause,
    route: Option<CloneResult>,
}

#[workflow_methods]
impl RepoIndexingWorkflow {
    /// Index `request.repo_url`.
    #[run]
    pub async fn run(
        ctx: &mut WorkflowContext<Self>,
        request: IndexRequest,
    ) -> WorkflowResult<IndexSummary> {
        let repo_id = request
            .repo_id
            .clone()
            .filter(|id| !id.trim().is_empty())
            .unwrap_or_else(|| repo_id_of(&request.repo_url));
        let mut run = Run {
            timeouts: request.timeouts.unwrap_or_default(),
            request,
            repo_id,
            run_id: ctx.run_id().to_owned(),
            started_at_ms: now_ms(ctx),
            durations_ms: BTreeMap::new(),
        };
        let mut attempt = 0;
        loop {
            attempt += 1;
            ctx.state_mut(|s| {
                s.progress = IndexProgress {
                    stage: "cloning".into(),
                    attempt,
                    ..IndexProgress::default()
                }
            });
            let key = run_key(&run.run_id, attempt);
            let stopped = match index(ctx, &mut run, &key, attempt).await {
                Ok(summary) => {
                    ctx.state_mut(|s| s.progress.stage = "done".into());
                    return Ok(summary);
                }
                Err(stopped) => stopped,
            };
            let cancelled = matches!(stopped.cause, Cause::Cancelled);
            let reason = match stopped.cause {
                Cause::HostLost(reason) if attempt < MAX_ATTEMPTS => {
                    // The lost host keeps its folder; nothing here can reach it.
                    ctx.state_mut(|s| s.progress.stage = format!("restarting: {reason}"));
                    continue;
                }
                Cause::HostLost(reason) | Cause::Failed(reason) => reason,
                Cause::Cancelled => "cancelled".to_owned(),
            };
            ctx.state_mut(|s| s.progress.stage = "failed".into());
            cleanup_repo(ctx, &mut run, &key, stopped.route.as_ref()).await;
            let record = run_record(ctx, &run, None, RunStatus::Failed, Some(reason.clone()));
            let _ = persist_metadata(ctx, &run, None, record, stopped.route.as_ref(), true).await;
            return Err(if cancelled {
                WorkflowTermination::cancelled()
            } else {
                ApplicationFailure::non_retryable(reason).into()
            });
        }
    }

    /// Sent by the activities as they go.
    #[signal]
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
    ctx: &mut WorkflowContext<RepoIndexingWorkflow>,
    run: &mut Run,
    key: &str,
    attempt: u32,
) -> Result<IndexSummary, Stopped> {
    let lost = |cause| Stopped { cause, route: None };
    let clone_input = CloneInput {
        repo_url: run.request.repo_url.clone(),
        reference: run.request.reference.clone(),
        run_key: key.to_owned(),
    };
    let shared = ctx.task_queue().to_owned();
    let hb = Duration::from_secs(run.timeouts.heartbeat_seconds);
    let options = activity(Some(shared), Duration::from_secs(3600), Some(hb), None, 5);
    let started = now_ms(ctx);
    let cloned = ctx
        .execute_activity(
            IndexingActivities::clone_repo_activity,
            clone_input,
            options,
        )
        .await
        .map_err(|e| lost(Cause::of(&e)))?;
    stage_done(ctx, run, "clone", started);
    let failed = |cause| Stopped {
        cause,
        route: Some(cloned.clone()),
    };
    let host = Duration::from_secs(run.timeouts.host_seconds);
    let local = |name: &str, close: u64, heartbeat: bool, attempts: u32| {
        activity(
            cloned.routes.get(name).cloned(),
            Duration::from_secs(close),
            heartbeat.then_some(hb),
            Some(host),
            attempts,
        )
    };

    ctx.state_mut(|s| s.progress.stage = "parsing".into());
    let started = now_ms(ctx);
    let parsed = ctx
        .execute_activity(
            IndexingActivities::parse_repo_activity,
            ParseInput {
                run_key: key.to_owned(),
                repo_id: run.repo_id.clone(),
                commit: cloned.commit_sha.clone(),
                full: run.request.full,
            },
            local(super::PARSE, 3600, true, 3),
        )
        .await
        .map_err(|e| failed(Cause::of(&e)))?;
    stage_done(ctx, run, "parse", started);

    ctx.state_mut(|s| s.progress.stage = "persisting_metadata".into());
    let repository = RepositoryRecord {
        repo_id: run.repo_id.clone(),
        url: crate::clone::redact_url(&run.request.repo_url),
        default_branch: cloned.default_branch.clone(),
        head_commit: Some(cloned.commit_sha.clone()),
        last_indexed_commit: None,
        languages: parsed
            .languages
            .iter()
            .map(|(l, s)| {
                let count = LanguageCount {
                    files: s.files,
                    lines: s.lines,
                };
                (l.clone(), count)
            })
            .collect(),
        updated_at_ms: now_ms(ctx),
    };
    let mut record = run_record(ctx, run, Some(&cloned.commit_sha), RunStatus::Running, None);
    record.counts.insert("files".into(), parsed.files);
    let started = now_ms(ctx);
    persist_metadata(
        ctx,
        run,
        Some(repository.clone()),
        record,
        Some(&cloned),
        false,
    )
    .await
    .map_err(&failed)?;
    stage_done(ctx, run, "persist_metadata", started);

    ctx.state_mut(|s| s.progress.stage = "persisting_graph".into());
    let started = now_ms(ctx);
    let persisted = ctx
        .execute_activity(
            IndexingActivities::persist_kg_activity,
            PersistInput {
                repo_id: run.repo_id.clone(),
                run_id: run.run_id.clone(),
                run_key: key.to_owned(),
                base_commit: parsed.base_commit.clone(),
            },
            local(super::PERSIST_KG, 3600, true, 20),
        )
        .await
        .map_err(|e| failed(Cause::of(&e)))?;
    stage_done(ctx, run, "persist_graph", started);
    let incremental = persisted.affected_files.is_some();
    let written = persisted.written;

    ctx.state_mut(|s| s.progress.stage = "cleaning_stale_nodes".into());
    let started = now_ms(ctx);
    let stale = ctx
        .execute_activity(
            IndexingActivities::cleanup_stale_kg_nodes_activity,
            CleanupStaleInput {
                repo_id: run.repo_id.clone(),
                run_id: run.run_id.clone(),
                files: persisted.affected_files.clone(),
                run_key: key.to_owned(),
            },
            local(super::CLEANUP_STALE, 1800, false, 20),
        )
        .await
        .map_err(|e| failed(Cause::of(&e)))?;
    stage_done(ctx, run, "cleanup_stale", started);

    ctx.state_mut(|s| s.progress.stage = "cleaning_up".into());
    cleanup_repo(ctx, run, key, Some(&cloned)).await;
    run.durations_ms.insert(
        "total".into(),
        now_ms(ctx).saturating_sub(run.started_at_ms),
    );

    let mut record = run_record(
        ctx,
        run,
        Some(&cloned.commit_sha),
        RunStatus::Succeeded,
        None,
    );
    for (name, count) in [
        ("files", parsed.files),
        ("files_parsed", parsed.files_parsed),
        ("nodes", written.nodes),
        ("relationships", written.relationships),
        ("stale_nodes_deleted", stale.nodes),
        ("stale_relationships_deleted", stale.relationships),
    ] {
        record.counts.insert(name.into(), count);
    }
    let repository = RepositoryRecord {
        last_indexed_commit: Some(cloned.commit_sha.clone()),
        updated_at_ms: now_ms(ctx),
        ..repository
    };
    persist_metadata(ctx, run, Some(repository), record, Some(&cloned), false)
        .await
        .map_err(failed)?;
    Ok(IndexSummary {
        repo_id: run.repo_id.clone(),
        run_id: run.run_id.clone(),
        commit: cloned.commit_sha.clone(),
        default_branch: cloned.default_branch.clone(),
        host_id: cloned.host_id.clone(),
        attempts: attempt,
        mode: if incremental { "incremental" } else { "full" }.into(),
        base_commit: parsed.base_commit.filter(|_| incremental),
        files: parsed.files,
        files_parsed: parsed.files_parsed,
        languages: parsed.languages,
        skipped: parsed.skipped,
        skipped_files: parsed.skipped_files,
        written,
        stale_deleted: stale,
        durations_ms: run.durations_ms.clone(),
    })
}

/// Record the repository and the run. `detached`: also after the workflow was cancelled.
async fn persist_metadata(
    ctx: &mut WorkflowContext<RepoIndexingWorkflow>,
    run: &Run,
    repository: Option<RepositoryRecord>,
    record: IndexRunRecord,
    route: Option<&CloneResult>,
    detached: bool,
) -> Result<(), Cause> {
    let queue = route
        .and_then(|r| r.routes.get(super::PERSIST_METADATA).cloned())
        .unwrap_or_else(|| ctx.task_queue().to_owned());
    let host = route.map(|_| Duration::from_secs(run.timeouts.host_seconds));
    let mut options = activity(Some(queue), Duration::from_secs(300), None, host, 20);
    if detached {
        options.cancellation_token = Some(WorkflowCancellationToken::new());
    }
    ctx.execute_activity(
        IndexingActivities::persist_metadata_activity,
        MetadataInput {
            repository,
            run: record,
        },
        options,
    )
    .await
    .map_err(|e| Cause::of(&e))
}

/// Remove the run's folder on the host that holds it; runs after a cancellation too. A failure
/// here is recorded in the durations (`cleanup_repo_failed`) but never fails the run.
async fn cleanup_repo(
    ctx: &mut WorkflowContext<RepoIndexingWorkflow>,
    run: &mut Run,
    key: &str,
    route: Option<&CloneResult>,
) {
    let queue = route
        .and_then(|r| r.routes.get(super::CLEANUP_REPO).cloned())
        .unwrap_or_else(|| ctx.task_queue().to_owned());
    let host = route.map(|_| Duration::from_secs(run.timeouts.host_seconds));
    let mut options = activity(Some(queue), Duration::from_secs(300), None, host, 5);
    options.cancellation_token = Some(WorkflowCancellationToken::new());
    let started = now_ms(ctx);
    let done = ctx
        .execute_activity(
            IndexingActivities::cleanup_repo_activity,
            CleanupRepoInput {
                run_key: key.to_owned(),
            },
            options,
        )
        .await;
    let stage = if done.is_ok() {
        "cleanup_repo"
    } else {
        "cleanup_repo_failed"
    };
    stage_done(ctx, run, stage, started);
}

fn activity(
    queue: Option<String>,
    start_to_close: Duration,
    heartbeat: Option<Duration>,
    schedule_to_start: Option<Duration>,
    attempts: u32,
) -> ActivityOptions {
    ActivityOptions::with_start_to_close_timeout(start_to_close)
        .maybe_task_queue(queue)
        .maybe_heartbeat_timeout(heartbeat)
        .maybe_schedule_to_start_timeout(schedule_to_start)
        .retry_policy(
            RetryPolicy::builder()
                .initial_interval(Duration::from_secs(1))
                .backoff_coefficient(2.0)
                .maximum_interval(Duration::from_secs(30))
                .maximum_attempts(attempts)
                .build(),
        )
        .build()
}

fn run_record(
    ctx: &WorkflowContext<RepoIndexingWorkflow>,
    run: &Run,
    commit: Option<&str>,
    status: RunStatus,
    error: Option<String>,
) -> IndexRunRecord {
    let ended = !matches!(status, RunStatus::Running);
    IndexRunRecord {
        repo_id: run.repo_id.clone(),
        run_id: run.run_id.clone(),
        commit: commit.map(str::to_owned),
        started_at_ms: run.started_at_ms,
        ended_at_ms: ended.then(|| now_ms(ctx)),
        status,
        error,
        counts: BTreeMap::new(),
        durations_ms: run.durations_ms.clone(),
    }
}

fn stage_done(
    ctx: &WorkflowContext<RepoIndexingWorkflow>,
    run: &mut Run,
    stage: &str,
    started: u64,
) {
    run.durations_ms
        .insert(stage.to_owned(), now_ms(ctx).saturating_sub(started));
}

/// Workflow time in milliseconds since the epoch (deterministic on replay).
fn now_ms(ctx: &WorkflowContext<RepoIndexingWorkflow>) -> u64 {
    ctx.workflow_time()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_millis() as u64)
}
