//! Concurrency is tuned live: a change of limits only never replaces the entry's worker (its slot
//! suppliers take the new limits in place), and a change that does need a new worker delays no
//! task (the new worker polls before the old one stops, and the old one hands back nothing it
//! took).

mod common;

use common::*;
use serde_json::{Value as Json, json};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// The tests of this file run one at a time: each measures timing (peaks of running activities,
/// workflows within 2 s) that a neighbour's load on a 2-core machine would distort.
static ALONE: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_millis() as u64
}

/// The most activities of `reports` running at once at the start of an activity that started in
/// `from..to` (ms), counting every activity, also those started earlier.
fn peak_at_starts_in(reports: &[Json], from: u64, to: u64) -> usize {
    let span = |r: &Json| {
        (
            r["started_ms"].as_u64().expect("started_ms"),
            r["ended_ms"].as_u64().expect("ended_ms"),
        )
    };
    reports
        .iter()
        .map(span)
        .filter(|(s, _)| (from..to).contains(s))
        .map(|(at, _)| {
            reports
                .iter()
                .map(span)
                .filter(|(s, e)| *s <= at && at < *e)
                .count()
        })
        .max()
        .unwrap_or(0)
}

#[tokio::test]
async fn raising_then_lowering_the_activity_limit_tunes_the_running_worker() {
    let _alone = ALONE.lock().await;
    const MILLIS: u64 = 1000;
    let queue = unique("tune");
    let header = config_header("30s");
    let host = Host::start(
        "custom_host",
        &format!("{header}{}", sleep_entry("work", &queue, 2)),
    );
    let client = client().await;
    let ids: Vec<String> = (0..50).map(|i| unique(&format!("tune-{i}"))).collect();
    for id in &ids {
        start_sleep(&client, &queue, id, MILLIS).await;
    }
    tokio::time::sleep(Duration::from_secs(3)).await;
    let raised_ms = now_ms();
    host.edit_config(&format!("{header}{}", sleep_entry("work", &queue, 6)));
    host.wait_for_generation(2, Duration::from_secs(10));
    let raise_applied_ms = now_ms();
    tokio::time::sleep(Duration::from_secs(4)).await;
    let lowered_ms = now_ms();
    host.edit_config(&format!("{header}{}", sleep_entry("work", &queue, 3)));
    host.wait_for_generation(3, Duration::from_secs(10));
    let lower_applied_ms = now_ms();

    let mut reports = Vec::new();
    for id in &ids {
        reports.push(
            result_within(&client, id, Duration::from_secs(120))
                .await
                .expect("workflow result"),
        );
    }
    assert!(
        reports.iter().all(|r| r["attempt"] == json!(1)),
        "every activity ran at its first attempt: {reports:?}"
    );
    for id in &ids {
        assert_eq!(
            host.finished_activities_of(id),
            1,
            "activity of {id} ran once"
        );
    }
    assert_eq!(
        peak_at_starts_in(&reports, 0, raised_ms),
        2,
        "two at a time before the raise"
    );
    assert_eq!(
        peak_at_starts_in(&reports, raise_applied_ms, lowered_ms),
        6,
        "six at a time once the raise applied"
    );
    // A poll that held a slot at the instant of the lowering may still bring one task; every
    // activity that started before the lowering has ended one activity-length later.
    let settled = lower_applied_ms + MILLIS;
    assert!(
        reports
            .iter()
            .filter(|r| r["started_ms"].as_u64() >= Some(settled))
            .count()
            >= 6,
        "enough activities after the lowering to see its limit: {reports:?}"
    );
    assert_eq!(
        peak_at_starts_in(&reports, settled, u64::MAX),
        3,
        "three at a time after the lowering, counting the ones still running from before"
    );

    let log = host.log();
    assert_eq!(
        log.matches("tuned=[\"work\"] replaced=[]").count(),
        2,
        "both edits tuned the running worker and replaced none; log:\n{log}"
    );
    assert_eq!(
        host.count_in_log("worker polling entry=work "),
        1,
        "one worker for the whole test; log:\n{log}"
    );
    let (_, metrics) = http_get(&host.http_addr(), "/metrics");
    assert_eq!(
        metric(
            &metrics,
            "worker_host_entry_changes_total{effect=\"tuned\",entry=\"work\"}"
        ),
        Some(2.0),
        "{metrics}"
    );
    assert_eq!(
        metric(
            &metrics,
            "worker_host_entry_slots{entry=\"work\",kind=\"activity\",state=\"limit\"}"
        ),
        Some(3.0),
        "{metrics}"
    );
}

#[tokio::test]
async fn a_new_grace_period_applies_to_the_running_worker() {
    let _alone = ALONE.lock().await;
    let queue = unique("grace");
    let header = config_header("60s");
    let host_grace = format!("{header}{}", sleep_entry("work", &queue, 2));
    let mut host = Host::start("custom_host", &host_grace);
    let client = client().await;
    let id = unique("grace-wf");
    start_sleep(&client, &queue, &id, 60_000).await;
    host.wait_for_running_activity(&queue);
    // The entry's own grace period: 1 s instead of the host's 60 s.
    host.edit_config(&format!("{host_grace}shutdown_grace = \"1s\"\n"));
    host.wait_for_generation(2, Duration::from_secs(10));
    let log = host.log();
    assert!(
        log.contains("tuned=[\"work\"] replaced=[]"),
        "a grace edit tunes the running worker; log:\n{log}"
    );
    // Stopped now, the running worker cancels its activity after 1 s, not 60 s.
    let stopped = Instant::now();
    host.signal(nix::sys::signal::Signal::SIGTERM);
    let status = host.wait_exit(Duration::from_secs(20));
    let log = host.log();
    assert_eq!(status.code(), Some(3), "{log}");
    assert!(log.contains("grace period ran out"), "{log}");
    assert_eq!(
        host.count_in_log("worker polling entry=work "),
        1,
        "one worker for the whole test; log:\n{log}"
    );
    println!("SIGTERM -> exit with a 1 s grace: {:?}", stopped.elapsed());
}

// `TEST_HOST_RUST_LOG=info,temporalio_sdk_core=debug` logs each run's workflow tasks.
#[tokio::test]
async fn replacing_the_worker_under_a_steady_stream_delays_no_workflow() {
    let _alone = ALONE.lock().await;
    let queue = unique("swap");
    let header = config_header("30s");
    let entry = |pollers: u32| format!("{}pollers = {pollers}\n", sleep_entry("swap", &queue, 10));
    let host = Host::start("custom_host", &format!("{header}{}", entry(2)));
    host.wait_for_log("worker polling entry=swap ", Duration::from_secs(20));
    let client = client().await;
    let mut waits = Vec::new();
    let mut edits = 0u32;
    let begin = Instant::now();
    // 5 workflows a second for 12 s; the pollers change (a new worker) every 2 s.
    for i in 0..60u32 {
        if i % 10 == 5 {
            edits += 1;
            host.edit_config(&format!("{header}{}", entry(2 + edits % 2)));
        }
        let id = unique(&format!("swap-{i}"));
        start_sleep(&client, &queue, &id, 0).await;
        let at = Instant::now();
        let client = client.clone();
        waits.push(tokio::spawn(async move {
            let result = result_within(&client, &id, Duration::from_secs(60)).await;
            (id, result.map(|_| at.elapsed()))
        }));
        let next = begin + Duration::from_millis(200 * u64::from(i + 1));
        tokio::time::sleep(next.saturating_duration_since(Instant::now())).await;
    }
    let mut slow = Vec::new();
    let mut ids = Vec::new();
    for wait in waits {
        let (id, took) = wait.await.expect("waiting task");
        let took = took.expect("workflow result");
        if took > Duration::from_secs(2) {
            slow.push((id.clone(), took));
        }
        ids.push(id);
    }
    host.wait_for_generation(u64::from(edits) + 1, Duration::from_secs(10));
    assert_eq!(
        host.count_in_log("replaced=[\"swap\"]"),
        edits as usize,
        "every edit replaced the worker; log:\n{}",
        host.log()
    );
    let log = host.log();
    let notable: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("WARN") || l.contains("ERROR") || l.contains("entry stopped"))
        .collect();
    // A task dropped at a swap waits for its 10 s START_TO_CLOSE timeout: never acceptable. A
    // task put on the old worker's sticky queue just as it stopped waits for the 1 s sticky
    // SCHEDULE_TO_START timeout and still ends within the 2 s bound below.
    let histories: Vec<(&String, String)> = ids
        .iter()
        .map(|id| (id, temporal_cli(&["workflow", "show", "--workflow-id", id])))
        .collect();
    let with = |timeout: &str| -> Vec<&String> {
        histories
            .iter()
            .filter(|(_, history)| history.contains(timeout))
            .map(|(id, _)| *id)
            .collect()
    };
    let (dropped, sticky) = (
        with("TIMEOUT_TYPE_START_TO_CLOSE"),
        with("TIMEOUT_TYPE_SCHEDULE_TO_START"),
    );
    println!(
        "{} of {} waited for the 1 s sticky timeout: {sticky:?}",
        sticky.len(),
        ids.len()
    );
    assert!(
        dropped.is_empty(),
        "workflows whose task was dropped (START_TO_CLOSE timeout): {dropped:?}; over 2 s: \
         {slow:?}; warnings and drains of the host:\n{}",
        notable.join("\n")
    );
    assert!(
        slow.is_empty(),
        "workflows over 2 s (none dropped): {slow:?}; warnings and drains of the host:\n{}",
        notable.join("\n")
    );
}

#[tokio::test]
async fn a_resource_based_entry_runs_work_and_shows_its_slots() {
    let _alone = ALONE.lock().await;
    let (fixed, sized) = (unique("fixed"), unique("sized"));
    let resource = |name: &str, queue: &str| {
        format!(
            "\n[[workers]]\nname = \"{name}\"\ntask_queue = \"{queue}\"\nworkflows = [\"SleepWorkflow\"]\nactivities = [\"sleep\"]\nslots = {{ kind = \"resource\", target_cpu = 0.95, target_mem = 0.95, min = 2, max = 50 }}\n"
        )
    };
    let host = Host::start(
        "custom_host",
        &format!(
            "{}{}{}",
            config_header("5s"),
            sleep_entry("fixed", &fixed, 3),
            resource("sized", &sized)
        ),
    );
    let client = client().await;
    let ids: Vec<(String, &str)> = (0..6)
        .map(|i| {
            (
                unique(&format!("res-{i}")),
                if i % 2 == 0 { &sized[..] } else { &fixed[..] },
            )
        })
        .collect();
    for (id, queue) in &ids {
        start_sleep(&client, queue, id, 200).await;
    }
    for (id, queue) in &ids {
        let report = result_within(&client, id, Duration::from_secs(60))
            .await
            .expect("workflow result");
        assert_eq!(report["task_queue"], json!(queue), "{report}");
        assert_eq!(report["attempt"], json!(1), "{report}");
    }
    let (_, metrics) = http_get(&host.http_addr(), "/metrics");
    // SDK core reports the resource-based activity slots in use (their number available is
    // not fixed), and its one controller's CPU and memory readings.
    let used_slots = metrics
        .lines()
        .filter(|l| {
            l.starts_with("temporal_worker_task_slots_used{")
                && l.contains(&format!("task_queue=\"{sized}\""))
                && l.contains("worker_type=\"ActivityWorker\"")
        })
        .count();
    assert_eq!(
        used_slots, 1,
        "the resource-based entry's activity slots:\n{metrics}"
    );
    assert_eq!(
        metrics
            .lines()
            .filter(|l| l.starts_with("temporal_resource_slots_cpu_usage "))
            .count(),
        1,
        "one resource controller:\n{metrics}"
    );
    assert_eq!(
        metric(
            &metrics,
            "worker_host_entry_slots{entry=\"fixed\",kind=\"activity\",state=\"limit\"}"
        ),
        Some(3.0),
        "{metrics}"
    );
    assert_eq!(
        metric(
            &metrics,
            "worker_host_entry_slots{entry=\"sized\",kind=\"workflow\",state=\"limit\"}"
        ),
        Some(100.0),
        "the resource-based entry's workflow-task slots stay fixed:\n{metrics}"
    );
}

#[test]
fn resource_based_slots_are_validated_with_their_lines() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("workers.toml");
    let entry = |name: &str, slots: &str| {
        format!(
            "\n[[workers]]\nname = \"{name}\"\ntask_queue = \"q-{name}\"\nactivities = [\"host_canary\"]\n{slots}\n"
        )
    };
    let config = format!(
        "{}{}{}{}",
        config_header("5s"),
        entry(
            "a",
            "slots = { kind = \"resource\", target_cpu = 0.8, target_mem = 0.8, min = 5, max = 2 }"
        ),
        entry(
            "b",
            "max_concurrent_activities = 3\nslots = { kind = \"resource\", target_cpu = 0.5, target_mem = 0.8 }"
        ),
        entry(
            "c",
            "slots = { kind = \"resource\", target_cpu = 1.5, target_mem = 0.8 }"
        ),
    );
    std::fs::write(&path, &config).expect("write config");
    let out = std::process::Command::new(binary("worker-host"))
        .args(["validate", "--config"])
        .arg(&path)
        .output()
        .expect("run worker-host validate");
    let err = String::from_utf8_lossy(&out.stderr).replace(&path.display().to_string(), "F");
    assert_eq!(out.status.code(), Some(2), "{err}");
    for expected in [
        "F:13:9: workers[0].slots: resource-based slots need min <= max (got min = 5, max = 2)",
        "F:19:1: workers[1].max_concurrent_activities: resource-based `slots` size activity",
        "F:20:9: workers[1].slots: resource-based entries share one controller: targets must match those of `a`",
        "F:26:9: workers[2].slots: must be a share above 0 and at most 1, e.g. 0.8 (got 1.5)",
    ] {
        assert!(err.contains(expected), "missing `{expected}` in:\n{err}");
    }
}
