//! Hot reload applies an edited workers.toml without a restart and without losing a task:
//! changed entries are replaced, removed ones drain, added ones start polling.

mod common;

use common::*;
use serde_json::{Value as Json, json};
use std::{
    collections::HashSet,
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

fn peak_of(reports: &[Json], keep: impl Fn(&Json) -> bool) -> usize {
    let subset: Vec<Json> = reports.iter().filter(|r| keep(r)).cloned().collect();
    peak_concurrency(&subset)
}

#[tokio::test]
async fn raising_the_activity_limit_takes_effect_without_a_restart() {
    let queue = unique("raise");
    let header = config_header("30s");
    let host = Host::start(
        "custom_host",
        &format!("{header}{}", sleep_entry("work", &queue, 1)),
    );
    let client = client().await;
    let ids: Vec<String> = (0..50).map(|i| unique(&format!("raise-{i}"))).collect();
    for id in &ids {
        start_sleep(&client, &queue, id, 800).await;
    }
    tokio::time::sleep(Duration::from_secs(3)).await;
    let edited_ms = now_ms();
    host.edit_config(&format!("{header}{}", sleep_entry("work", &queue, 5)));
    host.wait_for_generation(2, Duration::from_secs(10));

    let mut reports = Vec::new();
    for id in &ids {
        reports.push(
            result_within(&client, id, Duration::from_secs(120))
                .await
                .unwrap(),
        );
    }
    let before = peak_of(&reports, |r| r["started_ms"].as_u64().unwrap() < edited_ms);
    let after = peak_of(&reports, |r| r["started_ms"].as_u64().unwrap() >= edited_ms);
    assert_eq!(before, 1, "one at a time before the edit");
    assert_eq!(after, 5, "five at a time after it");
    assert_eq!(
        peak_concurrency(&reports),
        5,
        "never more than the limit, even while replacing"
    );
    assert!(
        reports.iter().all(|r| r["attempt"] == json!(1)),
        "{reports:?}"
    );
    for id in &ids {
        assert_eq!(
            host.finished_activities_of(id),
            1,
            "activity of {id} ran once"
        );
    }
    assert!(host.log().contains("replaced=[\"work\"]"));
}

#[tokio::test]
async fn removing_an_entry_drains_its_running_activity_and_stops_polling() {
    let (gone, kept) = (unique("gone"), unique("kept"));
    let header = config_header("30s");
    let host = Host::start(
        "custom_host",
        &format!(
            "{header}{}{}",
            sleep_entry("gone", &gone, 2),
            sleep_entry("kept", &kept, 2)
        ),
    );
    let client = client().await;
    let id = unique("gone-wf");
    start_sleep(&client, &gone, &id, 2500).await;
    host.wait_for_log("activity started", Duration::from_secs(20));
    host.edit_config(&format!("{header}{}", sleep_entry("kept", &kept, 2)));
    host.wait_for_generation(2, Duration::from_secs(10));
    assert!(host.log().contains("stopped=[\"gone\"]"), "{}", host.log());

    host.wait_for_log(
        "entry stopped; in-flight activities drained entry=\"gone\" drained=1",
        Duration::from_secs(30),
    );
    assert_eq!(host.finished_activities_of(&id), 1);
    assert!(
        history_has(&id, "EVENT_TYPE_ACTIVITY_TASK_COMPLETED"),
        "the drained activity's completion reached the server"
    );
    // Nothing of this host polls the removed queue any more: a new task there stays queued.
    let probe = unique("probe");
    start_sleep(&client, &gone, &probe, 1).await;
    assert!(
        result_within(&client, &probe, Duration::from_secs(3))
            .await
            .is_err(),
        "no worker may pick up work on a removed entry's queue"
    );
    // The kept entry was not touched.
    assert!(host.log().contains("unchanged") || !host.log().contains("replaced=[\"kept\"]"));
    let ok = unique("kept-wf");
    start_sleep(&client, &kept, &ok, 1).await;
    result_within(&client, &ok, Duration::from_secs(20))
        .await
        .unwrap();
}

#[tokio::test]
async fn an_added_entry_polls_within_two_seconds_of_the_save() {
    let (first, added) = (unique("first"), unique("added"));
    let header = config_header("30s");
    let host = Host::start(
        "custom_host",
        &format!("{header}{}", sleep_entry("first", &first, 2)),
    );
    let saved = Instant::now();
    host.edit_config(&format!(
        "{header}{}{}",
        sleep_entry("first", &first, 2),
        sleep_entry("added", &added, 2)
    ));
    let client = client().await;
    loop {
        if pollers(&added).iter().any(|p| p.ends_with("/added")) {
            break;
        }
        assert!(
            saved.elapsed() < Duration::from_secs(2),
            "no poller on the added queue 2 s after the save; log:\n{}",
            host.log()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let id = unique("added-wf");
    start_sleep(&client, &added, &id, 1).await;
    let r = result_within(&client, &id, Duration::from_secs(20))
        .await
        .unwrap();
    assert_eq!(r["task_queue"], json!(added));
}

#[tokio::test]
async fn a_reload_storm_loses_no_task_and_runs_none_twice() {
    let queue = unique("storm");
    let header = config_header("30s");
    let mut host = Host::start(
        "custom_host",
        &format!("{header}{}", sleep_entry("storm", &queue, 3)),
    );
    let client = client().await;
    let mut ids = Vec::new();
    let storm_start = Instant::now();
    for edit in 0..100u32 {
        host.edit_config(&format!(
            "{header}{}",
            sleep_entry("storm", &queue, 2 + edit % 4)
        ));
        if edit % 2 == 0 {
            let id = unique(&format!("storm-{edit}"));
            start_sleep(&client, &queue, &id, 300).await;
            ids.push(id);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    eprintln!("storm: 100 edits in {:?}", storm_start.elapsed());
    let mut reports = Vec::new();
    for id in &ids {
        reports.push(
            result_within(&client, id, Duration::from_secs(120))
                .await
                .unwrap(),
        );
    }
    assert_eq!(reports.len(), 50, "every workflow completed");
    let distinct: HashSet<&String> = ids.iter().collect();
    assert_eq!(distinct.len(), 50);
    for id in &ids {
        assert_eq!(
            host.finished_activities_of(id),
            1,
            "activity of {id} ran exactly once"
        );
    }
    // A task the server hands to a worker in the instant it stops is retried after its
    // start-to-close timeout (see README "Hot reload"); its first attempt never ran.
    let retried = reports.iter().filter(|r| r["attempt"] != json!(1)).count();
    eprintln!("storm: {retried} of 50 activities were retried after a timeout");
    assert!(host.is_running(), "the host stayed up");
    let applied = host.count_in_log("config applied");
    assert!(
        applied > 10,
        "the edits were applied ({applied} times): {}",
        host.log()
            .lines()
            .filter(|l| l.contains("config"))
            .collect::<Vec<_>>()
            .join("\n")
    );
    assert!(
        peak_concurrency(&reports) <= 5,
        "limit (at most 5) held through the storm"
    );
}
