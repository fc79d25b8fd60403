//! `worker-host status`: the running host's entries as a table, with the address taken from
//! the config's `[host] listen`; a clear error and a non-zero exit when no host answers.

mod common;

use common::*;
use std::{process::Command, time::Duration};

#[tokio::test]
async fn status_lists_every_entry_of_the_running_config() {
    let port = free_port();
    let (q1, q2) = (unique("status-a"), unique("status-b"));
    let config = format!(
        "[temporal]\naddress = \"{}\"\n\n[host]\nlisten = \"127.0.0.1:{port}\"\n{}{}",
        temporal_address(),
        sleep_entry("alpha", &q1, 2),
        sleep_entry("beta", &q2, 2)
    );
    let host = Host::start("custom_host", &config);
    let out = wait_until(
        "`status` succeeds once the host is ready",
        Duration::from_secs(10),
        || {
            let out = Command::new(binary("custom_host"))
                .args(["status", "--config"])
                .arg(host.config_path())
                .output()
                .expect("run status");
            match out.status.success() {
                true => Ok(out),
                false => Err(String::from_utf8_lossy(&out.stdout).into_owned()),
            }
        },
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains(&format!(
            "worker-host at 127.0.0.1:{port}: ready, config generation 1"
        )),
        "{text}"
    );
    let header = text
        .lines()
        .find(|l| l.starts_with("ENTRY"))
        .unwrap_or_default();
    for column in ["QUEUE", "STATE", "RESTARTS", "UPTIME", "BACKLOG"] {
        assert!(header.contains(column), "{text}");
    }
    for (name, queue) in [("alpha", &q1), ("beta", &q2)] {
        let row = text
            .lines()
            .find(|l| l.starts_with(&format!("{name} ")))
            .unwrap_or_else(|| panic!("no row for {name}:\n{text}"));
        assert!(
            row.contains(queue.as_str()) && row.contains("running"),
            "{row}"
        );
    }
}

#[test]
fn status_fails_clearly_when_no_host_listens() {
    let addr = format!("127.0.0.1:{}", free_port());
    let out = Command::new(binary("worker-host"))
        .args(["status", "--addr", &addr])
        .output()
        .expect("run status");
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!("no worker-host answers at {addr}")),
        "{err}"
    );
}
