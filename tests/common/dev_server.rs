//! A Temporal dev server of a test's own (`temporal server start-dev` on a free port, its
//! database in a file), so that a test can stop or kill it and start it again on the same
//! database without disturbing the other tests.

use super::{free_port, wait_until};
use nix::sys::signal::{Signal, kill};
use std::{
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::Duration,
};

/// `temporal server start-dev` on `port` with its database in `db`.
pub struct DevServer {
    child: Child,
    port: u16,
    db: PathBuf,
}

impl DevServer {
    /// Start a server on `port` with its database in `db`; returns once it accepts connections.
    pub fn start(port: u16, db: &Path) -> Self {
        let child =
            Command::new(std::env::var("TEMPORAL_CLI").unwrap_or_else(|_| "temporal".into()))
                .args([
                    "server",
                    "start-dev",
                    "--headless",
                    "--ip",
                    "127.0.0.1",
                    "--log-level",
                    "error",
                ])
                .args(["--port", &port.to_string()])
                .args(["--http-port", &free_port().to_string()])
                .args(["--metrics-port", &free_port().to_string()])
                .arg("--db-filename")
                .arg(db)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("run temporal server start-dev");
        wait_until("the dev server up", Duration::from_secs(60), || {
            std::net::TcpStream::connect(("127.0.0.1", port))
                .map(drop)
                .map_err(|e| e.to_string())
        });
        DevServer {
            child,
            port,
            db: db.to_owned(),
        }
    }

    /// Its address, `127.0.0.1:<port>`.
    pub fn address(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// SIGTERM, and wait for the exit.
    pub fn stop(&mut self) {
        self.signal(Signal::SIGTERM);
    }

    /// SIGKILL (no chance to flush or say goodbye), and wait for the exit.
    pub fn kill(&mut self) {
        self.signal(Signal::SIGKILL);
    }

    /// Start it again on the same port and database.
    pub fn restart(&mut self) {
        let _ = self.child.wait();
        *self = Self::start(self.port, &self.db);
    }

    fn signal(&mut self, signal: Signal) {
        let pid = nix::unistd::Pid::from_raw(self.child.id() as i32);
        let _ = kill(pid, signal);
        let _ = self.child.wait();
    }
}

impl Drop for DevServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
