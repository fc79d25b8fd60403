//! `/readyz` follows Temporal: 503 with a reason naming the server when it stops answering,
//! 200 again once it is back on the same port and database. The server is a private dev server
//! so that stopping it leaves the other tests alone.

mod common;

use common::dev_server::DevServer;
use common::*;
use serde_json::Value as Json;
use std::time::Duration;

#[tokio::test]
async fn readyz_reports_temporal_going_away_and_coming_back() {
    let port = free_port();
    let address = format!("127.0.0.1:{port}");
    let state = tempfile::tempdir().unwrap();
    let db = state.path().join("temporal.sqlite");
    let mut server = DevServer::start(port, &db);

    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("workers.toml"),
        format!(
            "[host]\n{}{}",
            listen_line(),
            sleep_entry("alpha", &unique("ready"), 2)
        ),
    )
    .unwrap();
    let host = Host::start_at("custom_host", dir, &address, &[]);
    let addr = host.http_addr();
    let ready = host.wait_ready("ready", Duration::from_secs(20), |r| r["ready"] == true);
    assert_eq!(ready["temporal_reachable"], true, "{ready}");

    server.stop();
    let down = host.wait_ready("not ready", Duration::from_secs(20), |r| {
        r["ready"] == false
    });
    assert_eq!(http_get(&addr, "/readyz").0, 503);
    let reason = down["reason"].as_str().unwrap_or_default();
    assert!(
        reason.contains(&format!("Temporal at {address} unreachable")) && !reason.contains('\n'),
        "{down}"
    );
    assert_eq!(down["temporal_reachable"], false);
    let metrics = http_get(&addr, "/metrics").1;
    assert_eq!(
        metric(&metrics, "worker_host_temporal_reachable "),
        Some(0.0)
    );

    server.restart();
    let back = host.wait_ready("ready again", Duration::from_secs(30), |r| {
        r["ready"] == true
    });
    assert_eq!(back["reason"], Json::Null, "{back}");
    assert!(
        host.log().contains("Temporal answers again"),
        "{}",
        host.log()
    );
}
