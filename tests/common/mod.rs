//! Shared by the integration tests: the real Temporal server started by `scripts/test.sh`, the
//! real host binaries as child processes, and an untyped client, the way any Temporal client
//! would start workflows.
#![allow(dead_code)] // each test file uses a different part of this module

pub mod git;
pub mod indexer;

use serde_json::Value as Json;
use std::{
    collections::HashMap,
    io::Read,
    path::{Path, PathBuf},
    process::{Child, Command, ExitStatus, Stdio},
    sync::atomic::{AtomicU32, Ordering},
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};
use temporalio_client::{
    Client, ClientOptions, Connection, ConnectionOptions, WorkflowGetResultOptions,
    WorkflowStartOptions,
};
use temporalio_common::{
    UntypedWorkflow, data_converters::RawValue, protos::temporal::api::common::v1::Payload,
};

/// Address of the Temporal server the tests use: `TEST_TEMPORAL_ADDRESS`, set by
/// `scripts/test.sh`, or the local default.
pub fn temporal_address() -> String {
    std::env::var("TEST_TEMPORAL_ADDRESS").unwrap_or_else(|_| "127.0.0.1:7233".into())
}

/// A task queue name no other test (or earlier run) uses.
pub fn unique(prefix: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!(
        "{prefix}-{}-{nanos}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// A client of the test server.
pub async fn client() -> Client {
    client_of(&temporal_address()).await
}

/// A client of the server at `address`.
pub async fn client_of(address: &str) -> Client {
    let url = url::Url::parse(&format!("http://{address}")).expect("address");
    let connection = Connection::connect(ConnectionOptions::new(url).build())
        .await
        .unwrap_or_else(|e| {
            panic!("no Temporal server at {address} ({e}); run the tests with scripts/test.sh")
        });
    Client::new(connection, ClientOptions::new("default").build()).expect("client")
}

fn json_payload(v: &Json) -> RawValue {
    RawValue::new(vec![Payload {
        metadata: HashMap::from([("encoding".to_owned(), b"json/plain".to_vec())]),
        data: serde_json::to_vec(v).expect("json"),
        ..Default::default()
    }])
}

/// Start workflow `kind` with JSON `input`; returns its id.
pub async fn start(client: &Client, kind: &str, queue: &str, id: &str, input: Json) {
    client
        .start_workflow(
            UntypedWorkflow::new(kind),
            json_payload(&input),
            WorkflowStartOptions::new(queue, id).build(),
        )
        .await
        .unwrap_or_else(|e| panic!("start {kind} {id}: {e}"));
}

/// Start `SleepWorkflow` `id` on `queue`: its one activity sleeps `millis`.
pub async fn start_sleep(client: &Client, queue: &str, id: &str, millis: u64) {
    start(
        client,
        "SleepWorkflow",
        queue,
        id,
        serde_json::json!({ "millis": millis }),
    )
    .await;
}

/// Wait for the result of workflow `id` (JSON), or its failure as text.
pub async fn result(client: &Client, id: &str) -> Result<Json, String> {
    let handle = client.get_workflow_handle::<UntypedWorkflow>(id);
    let raw = handle
        .get_result(WorkflowGetResultOptions::default())
        .await
        .map_err(|e| format!("{e:?}"))?;
    let payload = raw.payloads.into_iter().next().ok_or("no payload")?;
    serde_json::from_slice(&payload.data).map_err(|e| e.to_string())
}

/// Like [`result`], giving up after `limit`.
pub async fn result_within(client: &Client, id: &str, limit: Duration) -> Result<Json, String> {
    tokio::time::timeout(limit, result(client, id))
        .await
        .map_err(|_| format!("workflow {id} did not finish within {limit:?}"))?
}

/// The most activities that ran at once, from `(started_ms, ended_ms)` reports.
pub fn peak_concurrency(reports: &[Json]) -> usize {
    let mut events: Vec<(u64, i32)> = reports
        .iter()
        .flat_map(|r| {
            let s = r["started_ms"].as_u64().expect("started_ms");
            let e = r["ended_ms"].as_u64().expect("ended_ms");
            [(s, 1), (e, -1)]
        })
        .collect();
    // An end at the same millisecond as a start frees the slot first.
    events.sort();
    let (mut now, mut peak) = (0i32, 0i32);
    for (_, d) in events {
        now += d;
        peak = peak.max(now);
    }
    peak as usize
}

/// Path of a binary built by cargo for these tests: `worker-host` or an example.
pub fn binary(name: &str) -> PathBuf {
    if name == "worker-host" {
        return PathBuf::from(env!("CARGO_BIN_EXE_worker-host"));
    }
    // target/<profile>/deps/<test> → target/<profile>/examples/<name>
    let exe = std::env::current_exe().expect("current_exe");
    let profile_dir = exe.parent().and_then(Path::parent).expect("target dir");
    let path = profile_dir.join("examples").join(name);
    assert!(
        path.exists(),
        "{} is missing: `cargo test` builds examples; run `cargo build --examples`",
        path.display()
    );
    path
}

/// A host process (the real binary) with its log captured in a file.
pub struct Host {
    child: Option<Child>,
    log: PathBuf,
    pub dir: tempfile::TempDir,
}

impl Host {
    /// Write `config` to `workers.toml` in a new folder and run `binary run` on it; returns
    /// once the first config is applied.
    pub fn start(binary_name: &str, config: &str) -> Host {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("workers.toml"), config).expect("write config");
        Self::start_in(binary_name, dir)
    }

    /// Run a host on the `workers.toml` already in `dir`.
    pub fn start_in(binary_name: &str, dir: tempfile::TempDir) -> Host {
        Self::start_at(binary_name, dir, &temporal_address(), &[])
    }

    /// Run a host on the `workers.toml` in `dir`, with Temporal at `address` and extra arguments
    /// after `run`.
    pub fn start_at(
        binary_name: &str,
        dir: tempfile::TempDir,
        address: &str,
        args: &[&str],
    ) -> Host {
        let log = dir.path().join(format!("host-{}.log", unique("run")));
        let log_file = std::fs::File::create(&log).expect("log file");
        let child = Command::new(binary(binary_name))
            .arg("run")
            .arg("--config")
            .arg(dir.path().join("workers.toml"))
            .args(args)
            .current_dir(dir.path())
            .env("TEMPORAL_ADDRESS", address)
            .env(
                "RUST_LOG",
                "info,worker_host=debug,temporalio_sdk_core=warn",
            )
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log_file)
            .spawn()
            .expect("spawn host");
        let host = Host {
            child: Some(child),
            log,
            dir,
        };
        host.wait_for_log("config applied", Duration::from_secs(60));
        host
    }

    /// Path of the config file the host runs on.
    pub fn config_path(&self) -> PathBuf {
        self.dir.path().join("workers.toml")
    }

    /// Save a new config the way editors do: write a new file, then rename it over the old.
    pub fn edit_config(&self, config: &str) {
        let tmp = self.dir.path().join(".workers.toml.swp");
        std::fs::write(&tmp, config).expect("write config");
        std::fs::rename(&tmp, self.config_path()).expect("rename config");
    }

    /// Wait until config generation `n` is applied.
    pub fn wait_for_generation(&self, n: u64, limit: Duration) {
        self.wait_for_log(&format!("config applied generation={n} "), limit)
    }

    /// Lines of the log that report a finished attempt of workflow `id`'s activities.
    pub fn finished_activities_of(&self, id: &str) -> usize {
        let field = format!("workflow_id={id} ");
        self.log()
            .lines()
            .filter(|l| l.contains("activity finished") && l.contains(&field))
            .count()
    }

    /// Everything the host logged so far.
    pub fn log(&self) -> String {
        let mut s = String::new();
        if let Ok(mut f) = std::fs::File::open(&self.log) {
            let _ = f.read_to_string(&mut s);
        }
        s
    }

    /// Number of times `needle` appears in the log.
    pub fn count_in_log(&self, needle: &str) -> usize {
        self.log().matches(needle).count()
    }

    /// Wait until `needle` appears in the log `n` times in all.
    pub fn wait_for_log_n(&self, needle: &str, n: usize, limit: Duration) {
        let deadline = Instant::now() + limit;
        while self.count_in_log(needle) < n {
            if Instant::now() > deadline {
                panic!(
                    "`{needle}` not logged {n} times within {limit:?}; log:\n{}",
                    self.log()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Wait until `needle` appears in the log.
    pub fn wait_for_log(&self, needle: &str, limit: Duration) {
        self.wait_for_log_n(needle, 1, limit)
    }

    /// Address of the host's health and metrics endpoints, from its log.
    pub fn http_addr(&self) -> String {
        self.wait_for_log("endpoints listening", Duration::from_secs(20));
        let log = self.log();
        let line = log
            .lines()
            .find(|l| l.contains("endpoints listening"))
            .expect("listening line");
        line.split("addr=")
            .nth(1)
            .and_then(|rest| rest.split_whitespace().next())
            .expect("addr field")
            .to_owned()
    }

    /// Whether the process is still running.
    pub fn is_running(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|c| c.try_wait().ok().flatten().is_none())
    }

    /// Process id.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().map_or(0, Child::id)
    }

    /// Send a signal.
    pub fn signal(&self, sig: nix::sys::signal::Signal) {
        let pid = nix::unistd::Pid::from_raw(self.pid() as i32);
        nix::sys::signal::kill(pid, sig).expect("signal host");
    }

    /// The host's folder, for a new host to start in (after this one exited).
    pub fn take_dir(mut self) -> tempfile::TempDir {
        std::mem::replace(&mut self.dir, tempfile::tempdir().expect("tempdir"))
    }

    /// Wait for the process to exit, at most `limit`.
    pub fn wait_exit(&mut self, limit: Duration) -> ExitStatus {
        let deadline = Instant::now() + limit;
        let child = self.child.as_mut().expect("running");
        loop {
            if let Some(status) = child.try_wait().expect("try_wait") {
                self.child = None;
                return status;
            }
            if Instant::now() > deadline {
                panic!("host did not exit within {limit:?}; log:\n{}", self.log());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Host {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// One `[[workers]]` entry running `SleepWorkflow` and its activity.
pub fn sleep_entry(name: &str, queue: &str, slots: u32) -> String {
    format!(
        "\n[[workers]]\nname = \"{name}\"\ntask_queue = \"{queue}\"\nworkflows = [\"SleepWorkflow\"]\nactivities = [\"sleep\"]\nmax_concurrent_activities = {slots}\n"
    )
}

/// The `[temporal]` and `[host]` sections every test config starts with.
pub fn config_header(grace: &str) -> String {
    format!(
        "[temporal]\naddress = \"{}\"\nnamespace = \"default\"\n\n[host]\nshutdown_grace = \"{grace}\"\nlisten = \"127.0.0.1:0\"\n",
        temporal_address()
    )
}

/// Pollers of `queue` per task type, from `temporal task-queue describe`.
pub fn pollers(queue: &str) -> Vec<String> {
    let out = Command::new(std::env::var("TEMPORAL_CLI").unwrap_or_else(|_| "temporal".into()))
        .args([
            "task-queue",
            "describe",
            "--task-queue",
            queue,
            "-o",
            "json",
        ])
        .args(["--address", &temporal_address()])
        .output()
        .expect("run temporal task-queue describe");
    assert!(
        out.status.success(),
        "describe failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Json = serde_json::from_slice(&out.stdout).expect("describe json");
    let mut ids = Vec::new();
    collect_identities(&v, &mut ids);
    ids
}

fn collect_identities(v: &Json, out: &mut Vec<String>) {
    match v {
        Json::Object(m) => {
            for (k, x) in m {
                match (k.as_str(), x) {
                    ("identity", Json::String(s)) => out.push(s.clone()),
                    _ => collect_identities(x, out),
                }
            }
        }
        Json::Array(a) => a.iter().for_each(|x| collect_identities(x, out)),
        _ => {}
    }
}

/// Whether workflow `id`'s history holds an event of type `event` (e.g. `EVENT_TYPE_ACTIVITY_TASK_COMPLETED`).
pub fn history_has(id: &str, event: &str) -> bool {
    let out = Command::new(std::env::var("TEMPORAL_CLI").unwrap_or_else(|_| "temporal".into()))
        .args(["workflow", "show", "--workflow-id", id, "-o", "json"])
        .args(["--address", &temporal_address()])
        .output()
        .expect("run temporal workflow show");
    String::from_utf8_lossy(&out.stdout).contains(event)
}

/// A plain HTTP/1.0 GET; returns the status code and the body.
pub fn http_get(addr: &str, path: &str) -> (u16, String) {
    use std::io::Write;
    let mut stream = std::net::TcpStream::connect(addr).expect("connect to the host's endpoints");
    write!(stream, "GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n").expect("request");
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("response");
    let code = response
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .expect("status code");
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (code, body)
}

/// The value of the Prometheus series whose line starts with `series` (name and labels).
pub fn metric(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find(|l| l.starts_with(series))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

/// A TCP port nothing listens on, on 127.0.0.1.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}
