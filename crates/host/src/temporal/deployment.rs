//! Worker Versioning: `[deployment]` and an entry's `versioning` as the SDK's deployment options.
//! Every worker of a versioned host polls as version `name` / `build_id` of the Worker
//! Deployment; the server routes new workflows to the deployment's current (or ramping) version,
//! and keeps pinned workflows on the version they started on.

use crate::config::{DeploymentSettings, Versioning, WorkerEntry};
use temporalio_common::worker::{
    VersioningBehavior, WorkerDeploymentOptions, WorkerDeploymentVersion, build_id_from_current_exe,
};

/// The build id a host of `deployment` polls with: the configured one, else a hash of the
/// executable (what the SDK uses for unversioned workers too).
pub fn build_id(deployment: &DeploymentSettings) -> String {
    deployment
        .build_id
        .clone()
        .unwrap_or_else(|| build_id_from_current_exe().to_owned())
}

/// The SDK's options for the worker of `entry` under `deployment`: versioned, with the entry's
/// behaviour as the default of its workflows.
pub fn options(deployment: &DeploymentSettings, entry: &WorkerEntry) -> WorkerDeploymentOptions {
    let behavior = match entry.versioning_behavior() {
        Versioning::AutoUpgrade => VersioningBehavior::AutoUpgrade,
        Versioning::Pinned => VersioningBehavior::Pinned,
    };
    WorkerDeploymentOptions::new(
        WorkerDeploymentVersion::builder()
            .deployment_name(deployment.name.clone())
            .build_id(build_id(deployment))
            .build(),
    )
    .use_worker_versioning(true)
    .default_versioning_behavior(behavior)
    .build()
}
