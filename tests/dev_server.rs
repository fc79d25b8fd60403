//! `run --dev` with nothing listening at the address: the host starts `temporal server
//! start-dev` on loopback with its database in `data_dir` (created for its owner only, in WAL
//! mode), serves work through it, and stops it on exit.

mod common;

use common::*;
use nix::sys::signal::Signal;
use serde_json::json;
use std::{os::unix::fs::PermissionsExt, time::Duration};

#[tokio::test]
async fn the_host_starts_and_stops_its_own_dev_server() {
    let port = free_port();
    let address = format!("127.0.0.1:{port}");
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("workers.toml"),
        format!(
            "[host]\n{}data_dir = \"state/host\"\n\n[[workers]]\nname = \"canary\"\ntask_queue = \"canary\"\nworkflows = [\"HostCanaryWorkflow\"]\nactivities = [\"host_canary\"]\n",
            listen_line()
        ),
    )
    .unwrap();
    let data_dir = dir.path().join("state/host");
    let mut host = Host::start_at("worker-host", dir, &address, &["--dev"]);
    for created in [data_dir.as_path(), data_dir.parent().unwrap()] {
        let mode = std::fs::metadata(created).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o700, "{} is its owner's only", created.display());
    }

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
        "the host started the server, with its database in data_dir"
    );
    // The journal of a database in WAL mode (`SQLITE_PRAGMAS`), there while the server runs.
    assert!(
        data_dir.join("temporal-dev.sqlite-wal").exists(),
        "the server keeps its database with a write-ahead log"
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
