//! The repository-indexing workload: `RepoIndexingWorkflow` and its six activities turn a git
//! repository into a code knowledge graph (repository, files, classes, functions, methods,
//! imports, calls, inheritance) in the graph store.
//!
//! Routing: `clone_repo_activity` runs on the workflow's queue; the other five must run where the
//! clone is, so a host runs them from `host_local = true` entries (queue `<task_queue>@<host id>`)
//! and the clone returns those queues ([`messages::CloneResult::routes`]).

pub mod activities;
mod boundary;
pub mod clone;
pub mod failure;
mod full_write;
pub mod graph;
pub mod incremental;
pub mod index_command;
pub mod last_run;
pub mod memory;
pub mod messages;
pub mod metrics;
pub mod parse;
pub mod policy;
mod progress;
pub mod repo_id;
pub mod request;
pub mod settings;
pub mod stage;
mod store_cache;
pub mod workflow;
pub mod workspace;

use activities::IndexingActivities;
use metrics::IndexingMetrics;
use std::sync::{Arc, OnceLock};
use store_cache::StoreCache;
use worker_host_core::{Registry, services::HostServices};

pub use messages::{IndexProgress, IndexSummary};
pub use repo_id::{repo_id_of, workflow_id_of};
pub use request::IndexRequest;
pub use stage::Stage;
pub use workflow::RepoIndexingWorkflow;

/// The workflow type name.
pub const WORKFLOW: &str = "RepoIndexingWorkflow";
/// The queue the shipped `workers.toml` and the `index` command use.
pub const DEFAULT_QUEUE: &str = "repo-indexing-queue";
/// Activity type names.
pub const CLONE: &str = "clone_repo_activity";
pub const PARSE: &str = "parse_repo_activity";
pub const PERSIST_METADATA: &str = "persist_metadata_activity";
pub const PERSIST_KG: &str = "persist_kg_activity";
pub const CLEANUP_STALE: &str = "cleanup_stale_kg_nodes_activity";
pub const CLEANUP_REPO: &str = "cleanup_repo_activity";
/// The set of all six.
pub const ACTIVITY_SET: &str = "repo_indexing";

/// Add the `[indexing]` table, the workflow, the six activities and the `repo_indexing` set to
/// `registry`.
pub fn register(registry: Registry) -> Registry {
    let stores = Arc::new(StoreCache::default());
    let memory = Arc::new(last_run::RunMemory::default());
    let metrics = Arc::new(OnceLock::new());
    let housekeeping = Arc::new(OnceLock::new());
    let opening = Arc::new(OnceLock::new());
    let make = move |services: &Arc<HostServices>| {
        housekeeping.get_or_init(|| workspace::spawn_housekeeping(services));
        opening.get_or_init(|| store_cache::open_in_background(stores.clone(), services));
        let metrics = metrics
            .get_or_init(|| Arc::new(IndexingMetrics::register(services.status())))
            .clone();
        Arc::new(IndexingActivities::new(
            services.clone(),
            stores.clone(),
            memory.clone(),
            metrics,
        ))
    };
    registry
        .section::<settings::IndexingSettings>()
        .workflow::<RepoIndexingWorkflow>()
        .activity_with(IndexingActivities::clone_repo_activity, make.clone())
        .activity_with(IndexingActivities::parse_repo_activity, make.clone())
        .activity_with(IndexingActivities::persist_metadata_activity, make.clone())
        .activity_with(IndexingActivities::persist_kg_activity, make.clone())
        .activity_with(
            IndexingActivities::cleanup_stale_kg_nodes_activity,
            make.clone(),
        )
        .activity_with(IndexingActivities::cleanup_repo_activity, make)
        .activity_set(
            ACTIVITY_SET,
            [
                CLONE,
                PARSE,
                PERSIST_METADATA,
                PERSIST_KG,
                CLEANUP_STALE,
                CLEANUP_REPO,
            ],
        )
}
