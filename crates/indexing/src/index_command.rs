//! `worker-host index`: start `RepoIndexingWorkflow` for a repository through the Temporal
//! client, follow its `progress` query with a progress bar, and print the summary (or, with
//! `--json`, the workflow's JSON result). One run per repository: the workflow id is derived
//! from the repository, and a second request while a run is going attaches to that run. The
//! request passes the workflow's own input checks ([`IndexRequest::validate`]) before anything
//! starts.

use crate::{
    DEFAULT_QUEUE, IndexProgress, IndexRequest, IndexSummary, RepoIndexingWorkflow, repo_id_of,
    stage::TOTAL, workflow_id_of,
};
use anyhow::{Context, Result};
use indicatif::{ProgressBar, ProgressStyle};
use std::{path::Path, time::Duration};
use temporalio_client::{
    Client, WorkflowGetResultOptions, WorkflowHandle, WorkflowIdConflictPolicy,
    WorkflowQueryOptions, WorkflowStartOptions, errors::WorkflowGetResultError, tonic,
};
use worker_host_core::{Registry, config, temporal};

/// How often the progress bar asks the workflow.
const POLL_EVERY: Duration = Duration::from_millis(500);
/// How long the wait for the result outlasts a server that does not answer (an overloaded or
/// restarting server, a dropped connection): the workflow runs on regardless.
const UNAVAILABLE_FOR_AT_MOST: Duration = Duration::from_secs(300);

/// What `worker-host index` was asked.
#[derive(Debug, Clone, clap::Args)]
pub struct IndexOptions {
    /// Repository URL (https, ssh) or local path (needs `[indexing] allow_local_repos`).
    pub repo: String,
    /// Branch, tag or commit (default: the remote's default branch).
    #[arg(long = "ref")]
    pub reference: Option<String>,
    /// Id of the repository in the graph (default: derived from the URL).
    #[arg(long)]
    pub repo_id: Option<String>,
    /// Task queue of the workflow.
    #[arg(long, default_value = DEFAULT_QUEUE)]
    pub queue: String,
    /// Parse and write everything, not only what changed since the last indexed commit.
    #[arg(long)]
    pub full: bool,
    /// Print the workflow and run id once started, and exit.
    #[arg(long)]
    pub no_wait: bool,
    /// Print the result as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Run the command with the `[temporal]` settings of `config_path` (Temporal's profile and
/// variables over the defaults when there is no file),
/// checked against `registry`. Errors carry the workflow's failure message.
pub async fn run(config_path: &Path, registry: &Registry, options: IndexOptions) -> Result<()> {
    let request = request_for(&options);
    request.validate()?;
    let config = config::load_or_default(config_path, registry)
        .map_err(|errors| anyhow::anyhow!("{errors}"))?;
    let client = temporal::connect(&config.temporal).await.with_context(|| {
        format!(
            "cannot reach Temporal at {} (is a host running? `worker-host run --dev` starts one \
             with its own server)",
            config.temporal.address
        )
    })?;
    let repo_id = request
        .repo_id
        .clone()
        .unwrap_or_else(|| repo_id_of(&request.repo_url));
    let workflow_id = workflow_id_of(&repo_id);
    let handle = client
        .start_workflow(
            RepoIndexingWorkflow::run,
            request.to_raw(),
            WorkflowStartOptions::new(options.queue.clone(), workflow_id.clone())
                .id_conflict_policy(WorkflowIdConflictPolicy::UseExisting)
                .build(),
        )
        .await
        .with_context(|| format!("cannot start {workflow_id}"))?;
    let run_id = handle.info().run_id.clone().unwrap_or_default();
    eprintln!("indexing {repo_id}: workflow {workflow_id}, run {run_id}");
    if options.no_wait {
        println!("{workflow_id} {run_id}");
        return Ok(());
    }
    let summary = follow(&client.get_workflow_handle::<RepoIndexingWorkflow>(&workflow_id)).await?;
    if options.json {
        println!("{}", serde_json::to_string_pretty(&summary)?);
    } else {
        print!("{}", render(&summary));
    }
    Ok(())
}

/// The workflow input: a local path that exists becomes absolute (the host resolves it, not
/// the caller's working directory).
fn request_for(options: &IndexOptions) -> IndexRequest {
    let path = Path::new(&options.repo);
    let repo_url = if !options.repo.contains("://") && path.exists() {
        path.canonicalize()
            .map_or_else(|_| options.repo.clone(), |p| p.display().to_string())
    } else {
        options.repo.clone()
    };
    IndexRequest {
        reference: options.reference.clone(),
        repo_id: options.repo_id.clone(),
        full: options.full,
        ..IndexRequest::new(repo_url)
    }
}

/// Show progress until the workflow ends; its summary, or its failure as the error.
async fn follow(handle: &WorkflowHandle<Client, RepoIndexingWorkflow>) -> Result<IndexSummary> {
    let bar = ProgressBar::new(0);
    bar.set_style(
        ProgressStyle::with_template("{spinner} {msg:<22} [{bar:30}] {pos}/{len} ({elapsed})")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    let mut tick = tokio::time::interval(POLL_EVERY);
    let mut unavailable_since = None;
    let outcome = loop {
        let asked = tokio::time::Instant::now();
        let result = handle.get_result(WorkflowGetResultOptions::default());
        tokio::pin!(result);
        let outcome = wait_showing_progress(handle, &bar, &mut tick, result).await;
        match outcome {
            Err(WorkflowGetResultError::Rpc(status)) if is_transient(&status) => {
                // A wait that lasted is a new outage, not the same one going on.
                if asked.elapsed() > UNAVAILABLE_FOR_AT_MOST / 10 {
                    unavailable_since = None;
                }
                let since = *unavailable_since.get_or_insert(asked);
                if since.elapsed() > UNAVAILABLE_FOR_AT_MOST {
                    break Err(WorkflowGetResultError::Rpc(status));
                }
                bar.suspend(|| {
                    eprintln!(
                        "Temporal did not answer ({}); waiting for the result again",
                        status.message()
                    )
                });
                tokio::time::sleep(POLL_EVERY).await;
            }
            other => break other,
        }
    };
    bar.finish_and_clear();
    outcome.map_err(|e| anyhow::anyhow!("indexing failed: {}", failure_message(&e)))
}

/// A server that is overloaded, restarting or unreachable: the wait is worth repeating.
fn is_transient(status: &tonic::Status) -> bool {
    use tonic::Code;
    matches!(
        status.code(),
        Code::Unavailable | Code::DeadlineExceeded | Code::ResourceExhausted | Code::Aborted
    )
}

/// Waits for `result`, showing the workflow's progress meanwhile.
async fn wait_showing_progress<F>(
    handle: &WorkflowHandle<Client, RepoIndexingWorkflow>,
    bar: &ProgressBar,
    tick: &mut tokio::time::Interval,
    mut result: std::pin::Pin<&mut F>,
) -> F::Output
where
    F: std::future::Future,
{
    loop {
        tokio::select! {
            r = &mut result => return r,
            _ = tick.tick() => {
                if let Ok(p) = handle
                    .query(RepoIndexingWorkflow::progress, (), WorkflowQueryOptions::default())
                    .await
                {
                    show(bar, &p);
                }
            }
        }
    }
}

fn show(bar: &ProgressBar, p: &IndexProgress) {
    let (done, total) = if p.stage.counts_elements() {
        (p.elements_written, p.elements_total)
    } else {
        (p.files_parsed, p.files_total)
    };
    bar.set_length(total);
    bar.set_position(done);
    bar.set_message(p.stage.to_string());
    bar.tick();
}

fn failure_message(e: &WorkflowGetResultError) -> String {
    use std::error::Error;
    let mut message = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        message = s.to_string();
        source = s.source();
    }
    message
}

/// The summary as a few readable lines.
pub fn render(s: &IndexSummary) -> String {
    let seconds = |ms: u64| format!("{:.1} s", ms as f64 / 1000.0);
    let list = |items: Vec<(String, u64)>| {
        items
            .into_iter()
            .map(|(k, v)| format!("{k} {v}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let total = s.durations_ms.get(TOTAL).copied().unwrap_or_default();
    let mode = match &s.base_commit {
        Some(base) => format!("incremental from {}", &base[..base.len().min(12)]),
        None => "full".to_owned(),
    };
    let mut out = format!(
        "indexed {} at {}{} in {} ({mode}; host {}, attempt {})\n",
        s.repo_id,
        s.checkout.commit,
        s.checkout
            .default_branch
            .as_deref()
            .map(|b| format!(" (default branch {b})"))
            .unwrap_or_default(),
        seconds(total),
        s.checkout.host_id,
        s.attempts,
    );
    let p = &s.parsed;
    let skipped: u64 = p.skipped.values().sum();
    out += &format!(
        "  files:  {} in the graph, {} parsed now ({}); {} skipped ({})\n",
        p.files,
        p.files_parsed,
        list(
            p.languages
                .iter()
                .map(|(l, st)| (l.clone(), st.files))
                .collect()
        ),
        skipped,
        list(p.skipped.iter().map(|(r, n)| (r.clone(), *n)).collect()),
    );
    out += &format!(
        "  graph:  {} nodes ({}), {} relationships ({}) written\n",
        s.written.nodes,
        list(s.written.nodes_per_label.clone().into_iter().collect()),
        s.written.relationships,
        list(
            s.written
                .relationships_per_type
                .clone()
                .into_iter()
                .collect()
        ),
    );
    out += &format!(
        "  stale:  {} nodes, {} relationships deleted\n",
        s.stale_deleted.nodes, s.stale_deleted.relationships
    );
    out += &format!(
        "  stages: {}\n",
        s.durations_ms
            .iter()
            .filter(|(k, _)| k.as_str() != TOTAL)
            .map(|(k, v)| format!("{k} {}", seconds(*v)))
            .collect::<Vec<_>>()
            .join(", ")
    );
    out
}
