//! `run --dev` with nothing listening at the address: the host starts `temporal server
//! start-dev` on loopback with its database in `data_dir`, serves work through it, and stops it
//! on exit.

mod common;

use common::*;
use nix::sys::signal::Signal;
use serde_json::json;
use std::time::Duration;

#[tokio::test]
async fn the_host_starts_and_stops_its_own_dev_server() {
    let port = free_port();
    let address = format!("127.0.0.1:{port}");
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("workers.toml"),
        "[host]\nlisten = \"127.0.0.1:0\"\ndata_dir = \"state\"\n\n[[workers]]\nname = \"canary\"\ntask_queue = \"canary\"\nworkflows = [\"HostCanaryWorkflow\"]\nactivities = [\"host_canary\"]\n",
    )
    .unwrap();
    let data_dir = dir.path().join("state");
    let mut host = Host::start_at("worker-host", dir, &address, &["--dev"]);
    assert!(
        host.log().contains("starting the Temporal dev server"),
        "{}",
        host.log()
    );

    let client = client_of(&address).await;
    let id = unique("canary");
    start(&client, "HostCanaryWorkflow", "canary", &id, json!("ping")).await;
    let report = result_within(&client, &id, Duration::from_secs(30))
        .await
        .unwrap();
    assert_eq!(report["echo"], json!("ping"));
    assert_eq!(report["pid"], json!(host.pid()));
    assert!(
        data_dir.join("temporal-dev.sqlite").exists(),
        "database in data_dir"
    );

    host.signal(Signal::SIGTERM);
    assert_eq!(
        host.wait_exit(Duration::from_secs(40)).code(),
        Some(0),
        "{}",
        host.log()
    );
    assert!(
        std::net::TcpStream::connect(&address).is_err(),
        "the dev server stopped with the host"
    );
}
