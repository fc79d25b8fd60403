//! Two entries on two task queues in one host process: both execute work started through the
//! client, each on its own queue, in the same process.

mod common;

use common::*;
use serde_json::json;
use std::time::Duration;

#[tokio::test]
async fn two_entries_on_two_queues_both_execute_work() {
    let (q1, q2) = (unique("sleep"), unique("noop"));
    let config = format!(
        "{}\n[[workers]]\nname = \"sleepers\"\ntask_queue = \"{q1}\"\nworkflows = [\"SleepWorkflow\"]\nactivities = [\"sleep\"]\n\n\
         [[workers]]\nname = \"noops\"\ntask_queue = \"{q2}\"\nworkflows = [\"NoopWorkflow\"]\nactivities = [\"demo\"]\n",
        config_header("5s")
    );
    let host = Host::start("custom_host", &config);
    let client = client().await;
    let (id1, id2) = (unique("wf-sleep"), unique("wf-noop"));
    start_sleep(&client, &q1, &id1, 10).await;
    start(&client, "NoopWorkflow", &q2, &id2, json!("ping")).await;

    let sleep = result_within(&client, &id1, Duration::from_secs(30))
        .await
        .unwrap();
    let noop = result_within(&client, &id2, Duration::from_secs(30))
        .await
        .unwrap();
    assert_eq!(sleep["task_queue"], json!(q1));
    assert_eq!(sleep["pid"], json!(host.pid()), "ran in the host process");
    assert_eq!(noop, json!("ping"));

    let identities = pollers(&q2);
    assert!(
        identities.iter().any(|i| i.ends_with("/noops")),
        "entry `noops` polls its queue: {identities:?}"
    );
}
