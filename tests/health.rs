//! `/healthz`, `/readyz` and `/metrics`: the entries, the config generation, reload outcomes
//! with the last rejection's reason, and activity counts that match the work done. Slow or idle
//! clients cannot keep the endpoints from answering another client.

mod common;

use common::*;
use serde_json::{Value as Json, json};
use std::{
    io::{Read, Write},
    net::TcpStream,
    time::{Duration, Instant},
};
use worker_host::host::http::listener::{HEADER_READ_TIMEOUT, MAX_CONNECTIONS};

#[tokio::test]
async fn endpoints_report_entries_reloads_and_work_done() {
    let (q1, q2) = (unique("health-a"), unique("health-b"));
    let (host, header) = start_sleepers("5s", &[("alpha", &q1, 2), ("beta", &q2, 2)]);
    let addr = host.http_addr();
    assert_eq!(http_get(&addr, "/healthz").0, 200);

    let report = host.wait_ready("ready", Duration::from_secs(5), |r| {
        r["ready"] == json!(true)
    });
    assert_eq!(http_get(&addr, "/readyz").0, 200);
    assert_eq!(report["config_generation"], json!(1));
    assert_eq!(
        report["last_applied"]["started"],
        json!(["alpha", "beta"]),
        "{report}"
    );
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
    let ids = start_sleeps(&client, &q1, 3, 1).await;
    results(&client, &ids, Duration::from_secs(30)).await;

    host.edit_config(&format!("{header}{}", sleep_entry("alpha", &q1, 0)));
    let (error, report) = host.wait_for_rejection(Duration::from_secs(10));
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
    let applied = host.wait_for_generation(2, Duration::from_secs(10));
    assert_eq!(applied["stopped"], json!(["beta"]), "{applied}");
    let report = host.ready().unwrap();
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

#[tokio::test]
async fn idle_and_slow_clients_do_not_keep_healthz_from_answering_another() {
    let (host, _) = start_sleepers("5s", &[("alpha", &unique("slow"), 2)]);
    let addr = host.http_addr();
    // More clients than the limit: half never send a byte, half send half a request head.
    let held: Vec<TcpStream> = (0..MAX_CONNECTIONS + 16)
        .map(|i| {
            let mut stream = TcpStream::connect(&addr).expect("connect");
            if i % 2 == 1 {
                stream
                    .write_all(b"GET /healthz HTTP/1.1\r\nHo")
                    .expect("half a head");
            }
            stream
        })
        .collect();
    let asked = Instant::now();
    let (code, body) = http_get(&addr, "/healthz");
    assert_eq!((code, body.as_str()), (200, "ok\n"));
    assert!(
        asked.elapsed() < Duration::from_secs(1),
        "/healthz answered in {:?} beside {} held connections",
        asked.elapsed(),
        held.len()
    );
    // The oldest idle client made room, and none is kept past the header timeout.
    wait_until(
        "every held connection closed by the host",
        HEADER_READ_TIMEOUT + Duration::from_secs(5),
        || {
            let open = held.iter().filter(|s| !closed_by_peer(s)).count();
            if open == 0 {
                Ok(())
            } else {
                Err(format!("{open} still open"))
            }
        },
    );
}

/// Whether the host closed `stream` (a read sees the end of the stream or an error).
fn closed_by_peer(mut stream: &TcpStream) -> bool {
    stream.set_nonblocking(true).expect("nonblocking");
    let mut byte = [0u8; 1];
    match stream.read(&mut byte) {
        Ok(0) => true,
        Ok(_) => false,
        Err(e) => e.kind() != std::io::ErrorKind::WouldBlock,
    }
}
