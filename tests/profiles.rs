//! Temporal's client config profiles and variables, with or without a `workers.toml`:
//! precedence `WORKER_HOST_*` > `TEMPORAL_ADDRESS`/`TEMPORAL_NAMESPACE` > `workers.toml` > the
//! profile; a missing profile is an error at its line; `index` and `status` run from a folder
//! without a config.

mod common;

use std::{
    path::Path,
    process::{Command, Output},
};

/// Temporal's variables that the tests set themselves: none leaks in from the environment.
const TEMPORAL_VARS: [&str; 6] = [
    "TEMPORAL_ADDRESS",
    "TEMPORAL_NAMESPACE",
    "TEMPORAL_PROFILE",
    "TEMPORAL_CONFIG_FILE",
    "TEMPORAL_API_KEY",
    "WORKER_HOST_TEMPORAL__ADDRESS",
];

const PROFILES: &str = r#"
[profile.default]
address = "127.0.0.1:1111"
namespace = "from-default-profile"

[profile.staging]
address = "127.0.0.1:2222"
namespace = "from-staging-profile"
"#;

/// `worker-host <args>` in `dir`, with `temporal.toml` of `dir` as Temporal's config file and
/// only the variables in `env`.
fn worker_host(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(common::binary("worker-host"));
    command
        .args(args)
        .current_dir(dir)
        .env("TEMPORAL_CONFIG_FILE", dir.join("temporal.toml"));
    for var in TEMPORAL_VARS
        .iter()
        .filter(|v| **v != "TEMPORAL_CONFIG_FILE")
    {
        command.env_remove(var);
    }
    command.envs(env.iter().copied());
    command.output().expect("run worker-host")
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// The folder of a test: Temporal's config file and, when given, a `workers.toml`.
/// `worker-host <args>` in a folder with profiles but no `workers.toml`.
fn without_workers_toml(args: &[&str], env: &[(&str, &str)]) -> Output {
    worker_host(folder(None).path(), args, env)
}

fn folder(workers_toml: Option<&str>) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("temporal.toml"), PROFILES).expect("temporal.toml");
    if let Some(config) = workers_toml {
        std::fs::write(dir.path().join("workers.toml"), config).expect("workers.toml");
    }
    dir
}

/// What `validate` says the address and namespace are.
fn validated(dir: &Path, env: &[(&str, &str)]) -> String {
    let out = worker_host(dir, &["validate"], env);
    assert!(out.status.success(), "validate failed: {}", text(&out));
    let first = String::from_utf8_lossy(&out.stdout)
        .lines()
        .next()
        .unwrap_or_default()
        .to_owned();
    first
        .split_once(" on ")
        .map(|(_, rest)| rest.to_owned())
        .unwrap_or(first)
}

#[test]
fn precedence_env_over_temporal_vars_over_file_over_profile() {
    // The profile alone.
    let dir = folder(Some("[temporal]\nprofile = \"staging\"\n"));
    assert_eq!(
        validated(dir.path(), &[]),
        "127.0.0.1:2222 (namespace from-staging-profile)"
    );
    // workers.toml over the profile, key by key.
    let dir = folder(Some(
        "[temporal]\nprofile = \"staging\"\naddress = \"127.0.0.1:3333\"\n",
    ));
    assert_eq!(
        validated(dir.path(), &[]),
        "127.0.0.1:3333 (namespace from-staging-profile)"
    );
    // TEMPORAL_ADDRESS / TEMPORAL_NAMESPACE over workers.toml.
    assert_eq!(
        validated(
            dir.path(),
            &[
                ("TEMPORAL_ADDRESS", "127.0.0.1:4444"),
                ("TEMPORAL_NAMESPACE", "from-variable")
            ]
        ),
        "127.0.0.1:4444 (namespace from-variable)"
    );
    // WORKER_HOST_* over everything.
    assert_eq!(
        validated(
            dir.path(),
            &[
                ("TEMPORAL_ADDRESS", "127.0.0.1:4444"),
                ("WORKER_HOST_TEMPORAL__ADDRESS", "127.0.0.1:5555")
            ]
        ),
        "127.0.0.1:5555 (namespace from-staging-profile)"
    );
    // TEMPORAL_PROFILE names the profile over the file's `profile`.
    assert_eq!(
        validated(
            folder(Some("[temporal]\nprofile = \"staging\"\n")).path(),
            &[("TEMPORAL_PROFILE", "default")]
        ),
        "127.0.0.1:1111 (namespace from-default-profile)"
    );
    // No profile named: the file's `default` profile, as the CLI and SDKs do.
    assert_eq!(
        validated(folder(Some("[host]\nreload = false\n")).path(), &[]),
        "127.0.0.1:1111 (namespace from-default-profile)"
    );
}

#[test]
fn missing_profile_is_an_error_at_its_line() {
    let dir = folder(Some(
        "[host]\nreload = false\n\n[temporal]\nnamespace = \"x\"\nprofile = \"prod\"\n",
    ));
    let out = worker_host(dir.path(), &["validate"], &[]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let said = text(&out);
    assert!(
        said.contains("workers.toml:6:11: temporal.profile: profile `prod` is not in"),
        "{said}"
    );
    assert!(said.contains("profiles there: default, staging"), "{said}");

    let out = worker_host(dir.path(), &["validate"], &[("TEMPORAL_PROFILE", "qa")]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let said = text(&out);
    assert!(
        said.contains("(environment override): temporal.profile: profile `qa` is not in"),
        "{said}"
    );
}

#[test]
fn index_without_workers_toml_dials_temporal_address() {
    // Nothing listens on this port: the error names it, not 127.0.0.1:7233.
    let dead = format!("127.0.0.1:{}", common::free_port());
    let args = ["index", "https://example.com/a/b", "--no-wait"];
    let out = without_workers_toml(&args, &[("TEMPORAL_ADDRESS", &dead)]);
    assert!(!out.status.success());
    assert!(
        text(&out).contains(&format!("cannot reach Temporal at {dead}")),
        "{}",
        text(&out)
    );
}

#[tokio::test]
async fn index_without_workers_toml_uses_the_profile_and_the_variables() {
    let address = common::temporal_address();
    for (how, env) in [
        (
            "TEMPORAL_ADDRESS",
            vec![("TEMPORAL_ADDRESS", address.as_str())],
        ),
        ("a profile", vec![("TEMPORAL_PROFILE", "live")]),
    ] {
        let dir = folder(None);
        std::fs::write(
            dir.path().join("temporal.toml"),
            format!("[profile.live]\naddress = \"{address}\"\nnamespace = \"default\"\n"),
        )
        .expect("temporal.toml");
        let queue = common::unique("profile-index");
        let repo_id = common::unique("repo");
        let out = worker_host(
            dir.path(),
            &[
                "index",
                "https://example.com/a/b",
                "--no-wait",
                "--queue",
                &queue,
                "--repo-id",
                &repo_id,
            ],
            &env,
        );
        assert!(out.status.success(), "with {how}: {}", text(&out));
        // The workflow is on the server the profile or variable names.
        let client = common::client().await;
        let described = client
            .get_workflow_handle::<temporalio_common::UntypedWorkflow>(
                String::from_utf8_lossy(&out.stdout)
                    .split_whitespace()
                    .find(|w| w.contains(&repo_id))
                    .unwrap_or_else(|| panic!("no workflow id in: {}", text(&out))),
            )
            .describe(Default::default())
            .await;
        assert!(described.is_ok(), "with {how}: {described:?}");
    }
}

#[test]
fn status_without_workers_toml_reads_the_environment() {
    let dead = format!("127.0.0.1:{}", common::free_port());
    let out = without_workers_toml(&["status"], &[("WORKER_HOST_HOST__LISTEN", &dead)]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out).contains(&format!("no worker-host answers at {dead}")),
        "{}",
        text(&out)
    );
}
