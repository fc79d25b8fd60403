//! Worker Versioning from `workers.toml`: hosts of build A and build B of one Worker Deployment
//! side by side on the dev server; after `temporal worker deployment set-current-version` B, new
//! workflows run on B, a pinned workflow started on A finishes on A and an auto-upgrade one moves
//! to B. `validate` and `status` show the deployment and build; the environment sets the build.

mod common;

use common::Host;
use serde_json::Value as Json;
use std::{
    process::{Command, Output},
    time::{Duration, Instant},
};

fn temporal_cli(args: &[&str]) -> Output {
    Command::new(std::env::var("TEMPORAL_CLI").unwrap_or_else(|_| "temporal".into()))
        .args(args)
        .args(["--address", &common::temporal_address()])
        .output()
        .expect("run the temporal CLI")
}

/// `set-current-version`, retried until the server knows the version (its workers polled).
fn set_current(deployment: &str, build: &str) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let out = temporal_cli(&[
            "worker",
            "deployment",
            "set-current-version",
            "--deployment-name",
            deployment,
            "--build-id",
            build,
            "--yes",
        ]);
        if out.status.success() {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "set-current-version {build} kept failing: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        std::thread::sleep(Duration::from_millis(250));
    }
}

fn config(deployment: &str, build: &str, pinned_queue: &str, upgrade_queue: &str) -> String {
    let entry = |name: &str, queue: &str, versioning: &str| {
        format!(
            "\n[[workers]]\nname = \"{name}\"\ntask_queue = \"{queue}\"\n\
             workflows = [\"HostCanaryWorkflow\", \"HostCanaryHoldWorkflow\"]\n\
             activities = [\"host_canary\"]\nversioning = \"{versioning}\"\n"
        )
    };
    format!(
        "{}\n[deployment]\nname = \"{deployment}\"\nbuild_id = \"{build}\"\n{}{}",
        common::config_header("5s"),
        entry("pinned", pinned_queue, "pinned"),
        entry("upgrading", upgrade_queue, "auto_upgrade"),
    )
}

/// Wait until workflow `id` has completed `n` activities.
fn wait_for_activities(id: &str, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let out = temporal_cli(&["workflow", "show", "--workflow-id", id, "-o", "json"]);
        let history = String::from_utf8_lossy(&out.stdout);
        if history
            .matches("EVENT_TYPE_ACTIVITY_TASK_COMPLETED")
            .count()
            >= n
        {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{id} did not complete {n} activities: {history}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn pids(result: &Json) -> Vec<u64> {
    result
        .as_array()
        .map(|reports| reports.iter().filter_map(|r| r["pid"].as_u64()).collect())
        .unwrap_or_default()
}

#[tokio::test]
async fn pinned_stays_on_its_build_auto_upgrade_moves_new_work_goes_to_current() {
    let deployment = common::unique("deploy");
    let pinned_queue = common::unique("pinned");
    let upgrade_queue = common::unique("upgrading");
    let client = common::client().await;

    let a = Host::start(
        "worker-host",
        &config(&deployment, "build-a", &pinned_queue, &upgrade_queue),
    );
    set_current(&deployment, "build-a");
    let (pinned, upgrading) = (
        common::unique("held-pinned"),
        common::unique("held-upgrading"),
    );
    common::start(
        &client,
        "HostCanaryHoldWorkflow",
        &pinned_queue,
        &pinned,
        "a".into(),
    )
    .await;
    common::start(
        &client,
        "HostCanaryHoldWorkflow",
        &upgrade_queue,
        &upgrading,
        "a".into(),
    )
    .await;
    wait_for_activities(&pinned, 1);
    wait_for_activities(&upgrading, 1);

    let b = Host::start(
        "worker-host",
        &config(&deployment, "build-b", &pinned_queue, &upgrade_queue),
    );
    set_current(&deployment, "build-b");

    // New workflows run on B.
    for queue in [&pinned_queue, &upgrade_queue] {
        let id = common::unique("new");
        common::start(&client, "HostCanaryWorkflow", queue, &id, "b".into()).await;
        let report = common::result_within(&client, &id, Duration::from_secs(60))
            .await
            .expect("new canary");
        assert_eq!(report["pid"].as_u64(), Some(u64::from(b.pid())), "{queue}");
    }

    // The held workflows go on: the pinned one on A, the auto-upgrade one on B.
    for id in [&pinned, &upgrading] {
        let out = temporal_cli(&[
            "workflow",
            "signal",
            "--workflow-id",
            id,
            "--name",
            "release",
        ]);
        assert!(
            out.status.success(),
            "signal: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let (pid_a, pid_b) = (u64::from(a.pid()), u64::from(b.pid()));
    let pinned_result = common::result_within(&client, &pinned, Duration::from_secs(60))
        .await
        .expect("pinned result");
    assert_eq!(pids(&pinned_result), vec![pid_a, pid_a], "{pinned_result}");
    let upgrading_result = common::result_within(&client, &upgrading, Duration::from_secs(60))
        .await
        .expect("auto-upgrade result");
    assert_eq!(
        pids(&upgrading_result),
        vec![pid_a, pid_b],
        "{upgrading_result}"
    );

    // `status` shows each host's deployment and build.
    for (host, build) in [(&a, "build-a"), (&b, "build-b")] {
        let out = Command::new(common::binary("worker-host"))
            .args(["status", "--addr", &host.http_addr()])
            .output()
            .expect("status");
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            text.contains(&format!("deployment {deployment}, build {build}")),
            "{text}"
        );
    }
}

#[test]
fn validate_shows_deployment_and_the_environment_sets_the_build() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("workers.toml");
    std::fs::write(&path, config("shop", "from-file", "q1", "q2")).expect("config");
    let validate = |env: &[(&str, &str)]| {
        let mut validate = Command::new(common::binary("worker-host"));
        validate.args(["validate", "--config"]).arg(&path);
        let out = common::run_ok(validate.envs(env.iter().copied()));
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let text = validate(&[]);
    assert!(text.contains("deployment shop, build from-file"), "{text}");
    assert!(text.contains("versioning pinned"), "{text}");
    assert!(text.contains("versioning auto_upgrade"), "{text}");
    let text = validate(&[("WORKER_HOST_DEPLOYMENT__BUILD_ID", "ci-1234")]);
    assert!(text.contains("deployment shop, build ci-1234"), "{text}");
}

#[test]
fn versioning_without_a_deployment_is_an_error_at_its_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("workers.toml");
    std::fs::write(
        &path,
        "[[workers]]\nname = \"a\"\ntask_queue = \"q\"\nworkflows = [\"HostCanaryWorkflow\"]\nversioning = \"pinned\"\n",
    )
    .expect("config");
    let out = Command::new(common::binary("worker-host"))
        .args(["validate", "--config"])
        .arg(&path)
        .output()
        .expect("validate");
    assert_eq!(out.status.code(), Some(2));
    let text = String::from_utf8_lossy(&out.stderr);
    assert!(
        text.contains("workers.toml:5:14: workers[0].versioning: needs a [deployment] table"),
        "{text}"
    );
}
