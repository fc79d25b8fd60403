//! Every class of config mistake is reported at once, with file, line and column, by the real
//! `worker-host` binary; `run` refuses to start on such a file.

mod common;

use common::binary;
use std::process::Command;

/// Run `worker-host <command> --config F` on a file holding `config`, with `env` set: the exit
/// code, stdout, and stderr with the file's path written as `F`.
fn worker_host(command: &str, config: &str, env: &[(&str, &str)]) -> (i32, String, String) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("workers.toml");
    std::fs::write(&path, config).unwrap();
    let out = Command::new(binary("worker-host"))
        .args([command, "--config"])
        .arg(&path)
        .env_remove("TEMPORAL_ADDRESS")
        .env_remove("TEMPORAL_NAMESPACE")
        .envs(env.iter().copied())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).replace(&format!("{}", path.display()), "F");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr,
    )
}

fn validate(config: &str) -> (i32, String, String) {
    worker_host("validate", config, &[])
}

const BAD: &str = r#"[temporal]
adress = "127.0.0.1:7233"

[host]
shutdown_grace = 30

[[workers]]
name = "a"
task_queue = "q"
workflows = ["HostCanaryWorkflow", "NoSuchWorkflow"]
activities = ["no_such_activity"]
max_concurrent_activities = 0
max_concurrent_workflow_tasks = -2
colour = "blue"

[[workers]]
name = "a"
task_queue = "q"
workflows = ["HostCanaryWorkflow"]

[[workers]]
name = "idle"
task_queue = "other"
max_activities_per_second = "fast"
"#;

#[test]
fn every_problem_is_reported_with_its_line_and_column() {
    let (code, _, err) = validate(BAD);
    assert_eq!(code, 2, "{err}");
    let expected = [
        "F:2:1: temporal.adress: unknown key",
        "F:5:18: host.shutdown_grace: invalid type: integer `30`, expected a duration such as \"30s\"",
        "F:10:36: workers[0].workflows[1]: unknown workflow `NoSuchWorkflow`; registered workflows: HostCanaryHoldWorkflow, HostCanaryWorkflow, RepoIndexingWorkflow",
        "F:11:15: workers[0].activities[0]: unknown activity or activity set `no_such_activity`; activity sets: repo_indexing; activities: cleanup_repo_activity, cleanup_stale_kg_nodes_activity, clone_repo_activity, host_canary, parse_repo_activity",
        "F:12:29: workers[0].max_concurrent_activities: must be a whole number from 1 to 4294967295 (got 0)",
        "F:13:33: workers[0].max_concurrent_workflow_tasks: must be a whole number from 1 to 4294967295 (got -2)",
        "F:14:1: workers[0].colour: unknown key",
        "F:17:8: workers[1].name: duplicate entry name `a` (workers[0] has it already)",
        "F:18:14: workers[1].task_queue: entries `a` and `a` both run workflows on task queue `q`",
        "F:21:1: workers[2]: runs nothing: list at least one name in `workflows` or `activities`",
        "F:24:29: workers[2].max_activities_per_second: invalid type: string \"fast\", expected a number",
    ];
    for e in expected {
        assert!(err.contains(e), "missing `{e}` in:\n{err}");
    }
    assert!(err.starts_with("11 problems in the config:"), "{err}");
}

#[test]
fn a_syntax_error_points_at_its_place() {
    let (code, _, err) = validate("[host]\nlisten = \"127.0.0.1:1\"\nreload = tru\n");
    assert_eq!(code, 2);
    assert!(err.contains("F:3:10: TOML syntax error"), "{err}");
}

#[test]
fn a_valid_config_prints_one_line_per_entry() {
    let (code, out, err) = validate(
        "[[workers]]\nname = \"c\"\ntask_queue = \"q\"\nworkflows = [\"HostCanaryWorkflow\"]\nactivities = [\"host_canary\"]\nmax_concurrent_activities = 7\npollers = { min = 1, max = 4, initial = 2 }\n",
    );
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("valid; 1 entry on 127.0.0.1:7233 (namespace default)"),
        "{out}"
    );
    assert!(
        out.contains("c: queue q, workflows [HostCanaryWorkflow], activities [host_canary], slots activity 7 / workflow 100 / local 100, cache 1000, pollers auto 1..4 from 2"),
        "{out}"
    );
}

#[test]
fn the_shipped_workers_toml_is_valid() {
    let shipped = include_str!("../workers.toml");
    let (code, out, err) = validate(shipped);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("canary: queue worker-host-canary"), "{out}");
}

#[test]
fn environment_overrides_apply_and_are_checked() {
    let config = "[host]\nlisten = \"127.0.0.1:9000\"\n";
    let env = [
        ("TEMPORAL_ADDRESS", "10.1.2.3:7233"),
        ("TEMPORAL_NAMESPACE", "prod"),
    ];
    let (code, out, err) = worker_host("validate", config, &env);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("on 10.1.2.3:7233 (namespace prod)"), "{out}");

    let env = [("WORKER_HOST_HOST__LISTEN", "not-an-address")];
    let (code, _, err) = worker_host("validate", config, &env);
    assert_eq!(code, 2);
    assert!(
        err.contains(
            "F (environment override): host.listen: `not-an-address` is not an ip:port address"
        ),
        "{err}"
    );
}

#[test]
fn run_refuses_an_invalid_config() {
    let (code, _, err) = worker_host("run", "[[workers]]\nname = \"x\"\n", &[]);
    assert_eq!(code, 2);
    assert!(err.contains("F:1:1: workers[0]: runs nothing"), "{err}");
    assert!(
        err.contains("workers[0].task_queue: missing `task_queue`"),
        "{err}"
    );
}

#[test]
fn other_worker_host_variables_are_not_config_keys() {
    let env = [
        ("WORKER_HOST_CONFIG", "/elsewhere/workers.toml"),
        ("WORKER_HOST_SOMETHING_ELSE", "1"),
    ];
    let (code, _, err) = worker_host("validate", "[host]\nreload = false\n", &env);
    assert_eq!(code, 0, "{err}");
}

#[test]
fn host_local_entries_are_checked() {
    let config = r#"[[workers]]
name = "wf"
task_queue = "q"
host_local = true
workflows = ["RepoIndexingWorkflow"]

[[workers]]
name = "a"
task_queue = "p"
host_local = true
activities = ["parse_repo_activity"]

[[workers]]
name = "b"
task_queue = "p"
host_local = true
activities = ["repo_indexing"]

[[workers]]
name = "shared"
task_queue = "p"
activities = ["repo_indexing"]

[indexing]
max_file_bytes = "big"
"#;
    let (code, _, err) = validate(config);
    assert_eq!(code, 2, "{err}");
    for e in [
        "F:4:14: workers[0].host_local: a host-local entry runs activities only",
        "F:15:14: workers[2].task_queue: entries `a` and `b` both run activities on task queue `p@<host id>`",
        "F:25:18: indexing.max_file_bytes:",
    ] {
        assert!(err.contains(e), "missing `{e}` in:\n{err}");
    }
    assert!(
        !err.contains("`b` and `shared`") && !err.contains("`a` and `shared`"),
        "a host-local queue is not the shared one: {err}"
    );
    let (_, out, _) = validate(
        "[[workers]]\nname = \"p\"\ntask_queue = \"p\"\nhost_local = true\nactivities = [\"parse_repo_activity\"]\n",
    );
    assert!(out.contains("p: queue p@<host id>"), "{out}");
}
