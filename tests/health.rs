//! `/healthz`, `/readyz` and `/metrics`: the entries, the config generation, reload outcomes
//! with the last rejection's reason, and activity counts that match the work done.

mod common;

use common::*;
use serde_json::{Value as Json, json};
use std::time::Duration;

#[tokio::test]
async fn endpoints_report_entries_reloads_and_work_done() {
    let (q1, q2) = (unique("health-a"), unique("health-b"));
    let header = config_header("5s");
    let host = Host::start(
        "custom_host",
        &format!(
            "{header}{}{}",
            sleep_entry("alpha", &q1, 2),
            sleep_entry("beta", &q2, 2)
        ),
    );
    let addr = host.http_addr();
    assert!(addr.starts_with("127.0.0.1:"), "loopback: {addr}");
    assert_eq!(http_get(&addr, "/healthz").0, 200);

    let mut ready = (0, String::new());
    for _ in 0..100 {
        ready = http_get(&addr, "/readyz");
        if ready.0 == 200 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(ready.0, 200, "{}", ready.1);
    let report: Json = serde_json::from_str(&ready.1).unwrap();
    assert_eq!(report["config_generation"], json!(1));
    let names: Vec<&str> = report["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["alpha", "beta"]);
    assert!(
        report["entries"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["state"] == json!("running"))
    );

    let client = client().await;
    let ids: Vec<String> = (0..3).map(|i| unique(&format!("health-{i}"))).collect();
    for id in &ids {
        start_sleep(&client, &q1, id, 1).await;
    }
    for id in &ids {
        result_within(&client, id, Duration::from_secs(30))
            .await
            .unwrap();
    }

    host.edit_config(&format!("{header}{}", sleep_entry("alpha", &q1, 0)));
    host.wait_for_log("config rejected", Duration::from_secs(10));
    let report: Json = serde_json::from_str(&http_get(&addr, "/readyz").1).unwrap();
    let error = report["last_reload_error"].as_str().unwrap_or_default();
    assert!(
        error.contains("workers[0].max_concurrent_activities: must be a whole number"),
        "{report}"
    );
    assert_eq!(
        report["config_generation"],
        json!(1),
        "the running config stays"
    );

    let metrics = http_get(&addr, "/metrics").1;
    assert_eq!(
        metric(&metrics, "worker_host_config_generation "),
        Some(1.0),
        "{metrics}"
    );
    assert_eq!(
        metric(&metrics, "worker_host_reloads_total{outcome=\"rejected\"} "),
        Some(1.0)
    );
    assert_eq!(
        metric(&metrics, "worker_host_entries{state=\"running\"} "),
        Some(2.0)
    );
    assert_eq!(
        metric(
            &metrics,
            "worker_host_activities_total{activity_type=\"sleep\",entry=\"alpha\",outcome=\"completed\"} "
        ),
        Some(3.0),
        "{metrics}"
    );

    host.edit_config(&format!("{header}{}", sleep_entry("alpha", &q1, 2)));
    host.wait_for_generation(2, Duration::from_secs(10));
    let report: Json = serde_json::from_str(&http_get(&addr, "/readyz").1).unwrap();
    assert_eq!(report["config_generation"], json!(2));
    assert_eq!(report["last_reload_error"], Json::Null);
    assert_eq!(
        report["entries"].as_array().unwrap().len(),
        1,
        "beta was removed: {report}"
    );
    let metrics = http_get(&addr, "/metrics").1;
    assert_eq!(
        metric(&metrics, "worker_host_reloads_total{outcome=\"applied\"} "),
        Some(1.0)
    );
}
