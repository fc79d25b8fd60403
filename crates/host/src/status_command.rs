//! `worker-host status`: read a running host's `/readyz` and print its entries as a table
//! (state, restarts, uptime, backlog), its config generation, readiness and, when not ready,
//! why. Exits non-zero when the host does not answer or is not ready.

use crate::{
    Registry, config,
    http_get::{self, Response},
    status::{EntryReport, ReadyReport},
};
use std::{fmt::Write as _, path::Path, process::ExitCode, time::Duration};

/// How long `status` waits for the host.
const TIMEOUT: Duration = Duration::from_secs(5);
/// Exit code when the host answers but is not ready.
pub const EXIT_NOT_READY: u8 = 1;
/// Exit code when no host answers at the address (or the address is unknown).
pub const EXIT_UNREACHABLE: u8 = 2;

/// Print the status of the host at `addr`, or at `[host] listen` of the config at `config`.
pub fn run(addr: Option<&str>, config: &Path, registry: &Registry) -> ExitCode {
    let addr = match addr {
        Some(a) => a.to_owned(),
        None => match config::load_or_default(config, registry) {
            Ok(c) => dialable(&c.host.listen),
            Err(errors) => {
                eprint!("{errors}");
                eprintln!(
                    "error: cannot read [host] listen from {}; pass --addr HOST:PORT",
                    config.display()
                );
                return ExitCode::from(EXIT_UNREACHABLE);
            }
        },
    };
    let fetched = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(anyhow::Error::from)
        .and_then(|rt| rt.block_on(http_get::get(&addr, "/readyz", TIMEOUT)));
    let report = match fetched {
        Ok(Response { status, body }) => match serde_json::from_str::<ReadyReport>(&body) {
            Ok(report) => report,
            Err(e) => {
                eprintln!(
                    "error: {addr} answered /readyz with HTTP {status} but not a worker-host \
                     report ({e})"
                );
                return ExitCode::from(EXIT_UNREACHABLE);
            }
        },
        Err(e) => {
            eprintln!("error: no worker-host answers at {addr}: {e:#}");
            return ExitCode::from(EXIT_UNREACHABLE);
        }
    };
    print!("{}", render(&addr, &report));
    if report.ready {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXIT_NOT_READY)
    }
}

/// The address to connect to for a listen address: a wildcard listen is reached on loopback.
fn dialable(listen: &str) -> String {
    match listen.parse::<std::net::SocketAddr>() {
        Ok(a) if a.ip().is_unspecified() => format!("127.0.0.1:{}", a.port()),
        _ => listen.to_owned(),
    }
}

/// The report as text: a header, then one row per entry.
pub fn render(addr: &str, report: &ReadyReport) -> String {
    let mut out = String::new();
    let readiness = if report.ready { "ready" } else { "NOT READY" };
    let _ = writeln!(
        out,
        "worker-host at {addr}: {readiness}, config generation {}, Temporal {}",
        report.config_generation,
        if report.temporal_reachable {
            "reachable"
        } else {
            "unreachable"
        }
    );
    if let Some(d) = &report.deployment {
        let _ = writeln!(out, "deployment {}, build {}", d.name, d.build_id);
    }
    if let Some(reason) = &report.reason {
        let _ = writeln!(out, "reason: {reason}");
    }
    if let Some(error) = &report.last_reload_error {
        let _ = writeln!(out, "last reload rejected:\n{}", error.trim_end());
    }
    let header = ["ENTRY", "QUEUE", "STATE", "RESTARTS", "UPTIME", "BACKLOG"].map(String::from);
    let rows: Vec<[String; 6]> = std::iter::once(header)
        .chain(report.entries.iter().map(row))
        .collect();
    out.push_str(&crate::text_table::aligned(&rows));
    if report.entries.is_empty() {
        let _ = writeln!(out, "(no entries)");
    }
    out
}

fn row(e: &EntryReport) -> [String; 6] {
    let backlog = if e.backlog.is_empty() {
        "-".to_owned()
    } else {
        e.backlog
            .iter()
            .map(|(task_type, b)| {
                if b.count == 0 {
                    format!("{task_type} 0")
                } else {
                    format!("{task_type} {} (oldest {:.0}s)", b.count, b.age_seconds)
                }
            })
            .collect::<Vec<_>>()
            .join(", ")
    };
    [
        e.name.clone(),
        e.task_queue.clone(),
        e.state.label().to_owned(),
        e.restarts.to_string(),
        humantime::format_duration(Duration::from_secs(e.uptime_seconds)).to_string(),
        backlog,
    ]
}
