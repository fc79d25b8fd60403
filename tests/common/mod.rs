//! Shared by the integration tests: the real Temporal server started by `scripts/test.sh`, the
//! real host binaries as child processes, and an untyped client, the way any Temporal client
//! would start workflows.
#![allow(dead_code)] // each test file uses a different part of this module

pub mod dev_server;
pub mod git;
pub mod indexer;
pub mod neo4j;
pub mod slow_link;

use serde_json::Value as Json;
use std::{
    collections::HashMap,
    io::Read,
    path::{Path, PathBuf},
    process::{Child, Command, ExitStatus, Output, Stdio},
    sync::{
        Mutex,
        atomic::{AtomicU32, Ordering},
    },
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

/// Start `n` `SleepWorkflow`s of `millis` each on `queue`; their ids.
pub async fn start_sleeps(client: &Client, queue: &str, n: usize, millis: u64) -> Vec<String> {
    let mut ids = Vec::with_capacity(n);
    for i in 0..n {
        let id = unique(&format!("{queue}-{i}"));
        start_sleep(client, queue, &id, millis).await;
        ids.push(id);
    }
    ids
}

/// The results of the workflows `ids`, each within `limit`; panics on a failure.
pub async fn results(client: &Client, ids: &[String], limit: Duration) -> Vec<Json> {
    let mut reports = Vec::with_capacity(ids.len());
    for id in ids {
        let report = result_within(client, id, limit).await;
        reports.push(report.unwrap_or_else(|e| panic!("workflow {id}: {e}")));
    }
    reports
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

/// Longest wait for a host to apply its first config.
const START_LIMIT: Duration = Duration::from_secs(60);

/// Poll `probe` every 50 ms until it yields a value, at most `limit`: the one way the tests wait
/// for a condition. The probe says why it is not done yet (`Err`); the panic shows the last
/// reason.
pub fn wait_until<T>(
    what: &str,
    limit: Duration,
    mut probe: impl FnMut() -> Result<T, String>,
) -> T {
    let deadline = Instant::now() + limit;
    loop {
        match probe() {
            Ok(value) => return value,
            Err(why) if Instant::now() > deadline => {
                panic!("{what}: not reached within {limit:?}; last: {why}")
            }
            Err(_) => std::thread::sleep(Duration::from_millis(50)),
        }
    }
}

/// A host process (the real binary) with its log captured in a file and its `/readyz` read at
/// the `[host] listen` address of its config.
pub struct Host {
    child: Mutex<Option<Child>>,
    log: PathBuf,
    addr: String,
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
        Self::start_with_env(binary_name, dir, address, args, &[])
    }

    /// Like [`Host::start_at`], with extra environment variables. The host logs at
    /// `TEST_HOST_RUST_LOG` when it is set (e.g. `info,temporalio_sdk_core=debug`).
    pub fn start_with_env(
        binary_name: &str,
        dir: tempfile::TempDir,
        address: &str,
        args: &[&str],
        env: &[(&str, &str)],
    ) -> Host {
        let config = dir.path().join("workers.toml");
        let addr = listen_of(&config);
        let log = dir.path().join(format!("host-{}.log", unique("run")));
        let log_file = std::fs::File::create(&log).expect("log file");
        let child = Command::new(binary(binary_name))
            .arg("run")
            .arg("--config")
            .arg(&config)
            .args(args)
            .current_dir(dir.path())
            .env("TEMPORAL_ADDRESS", address)
            .env(
                "RUST_LOG",
                std::env::var("TEST_HOST_RUST_LOG")
                    .unwrap_or_else(|_| "info,worker_host=debug,temporalio_sdk_core=warn".into()),
            )
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log_file)
            .spawn()
            .expect("spawn host");
        let host = Host {
            child: Mutex::new(Some(child)),
            log,
            addr,
            dir,
        };
        host.wait_for_generation(1, START_LIMIT);
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

    /// Address of the host's health and metrics endpoints (`[host] listen`).
    pub fn http_addr(&self) -> String {
        self.addr.clone()
    }

    /// The host's `/readyz` report, whatever its status code.
    pub fn ready(&self) -> Result<Json, String> {
        let (_, body) = try_http_get(&self.addr, "/readyz").map_err(|e| e.to_string())?;
        serde_json::from_str(&body).map_err(|e| format!("{e}: {body}"))
    }

    /// Wait until the `/readyz` report satisfies `done`; returns that report. Fails at once when
    /// the host has exited.
    pub fn wait_ready(&self, what: &str, limit: Duration, done: impl Fn(&Json) -> bool) -> Json {
        wait_until(what, limit, || {
            if !self.is_running() {
                panic!("{what}: the host exited; log:\n{}", self.log());
            }
            let report = self.ready()?;
            if done(&report) {
                Ok(report)
            } else {
                Err(report.to_string())
            }
        })
    }

    /// Wait until config generation `n` (or a later one) is applied; returns what the last
    /// applied config changed (`/readyz` `last_applied`).
    pub fn wait_for_generation(&self, n: u64, limit: Duration) -> Json {
        let report = self.wait_ready(&format!("config generation {n}"), limit, |r| {
            r["config_generation"].as_u64() >= Some(n)
        });
        report["last_applied"].clone()
    }

    /// Wait until a reload is rejected; returns the reason and the report.
    pub fn wait_for_rejection(&self, limit: Duration) -> (String, Json) {
        let report = self.wait_ready("a rejected reload", limit, |r| {
            r["last_reload_error"].is_string()
        });
        (
            report["last_reload_error"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
            report,
        )
    }

    /// Scrape `/metrics` until `series` has a value that satisfies `ok`; returns that scrape.
    pub fn wait_for_metric(
        &self,
        series: &str,
        ok: impl Fn(f64) -> bool,
        limit: Duration,
    ) -> String {
        wait_until(&format!("`{series}` as expected"), limit, || {
            let (_, text) = try_http_get(&self.addr, "/metrics").map_err(|e| e.to_string())?;
            if metric(&text, series).is_some_and(&ok) {
                Ok(text)
            } else {
                Err(text)
            }
        })
    }

    /// Wait until an activity of the entry polling `queue` runs (it holds an activity slot).
    pub fn wait_for_running_activity(&self, queue: &str) {
        let used = format!(
            "temporal_worker_task_slots_used{{namespace=\"default\",task_queue=\"{queue}\",worker_type=\"ActivityWorker\"}} "
        );
        self.wait_for_metric(&used, |n| n >= 1.0, Duration::from_secs(30));
    }

    /// Finished attempts of `entry`'s activities with `outcome`, from `/metrics`.
    pub fn finished_activities(&self, entry: &str, outcome: &str) -> f64 {
        let text = http_get(&self.addr, "/metrics").1;
        let prefix = "worker_host_activities_total{activity_type=\"sleep\",";
        metric(
            &text,
            &format!("{prefix}entry=\"{entry}\",outcome=\"{outcome}\"}} "),
        )
        .unwrap_or(0.0)
    }

    /// Finished attempts of the activity of workflow `id`, from the log.
    pub fn finished_activities_of(&self, id: &str) -> usize {
        let field = format!("workflow_id={id} ");
        self.log()
            .lines()
            .filter(|l| l.contains("activity finished") && l.contains(&field))
            .count()
    }

    /// How many times `needle` appears in the log.
    pub fn count_in_log(&self, needle: &str) -> usize {
        self.log().matches(needle).count()
    }

    /// Everything the host logged so far.
    pub fn log(&self) -> String {
        let mut s = String::new();
        if let Ok(mut f) = std::fs::File::open(&self.log) {
            let _ = f.read_to_string(&mut s);
        }
        s
    }

    /// Wait until `needle` appears in the log.
    pub fn wait_for_log(&self, needle: &str, limit: Duration) {
        wait_until(&format!("`{needle}` in the log"), limit, || {
            let log = self.log();
            if log.contains(needle) {
                Ok(())
            } else {
                Err(log)
            }
        })
    }

    fn child(&self) -> std::sync::MutexGuard<'_, Option<Child>> {
        self.child.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether the process is still running.
    pub fn is_running(&self) -> bool {
        self.child()
            .as_mut()
            .is_some_and(|c| c.try_wait().ok().flatten().is_none())
    }

    /// Process id.
    pub fn pid(&self) -> u32 {
        self.child().as_ref().map_or(0, Child::id)
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
        wait_until("the host's exit", limit, || {
            let mut child = self.child();
            let exited = child
                .as_mut()
                .expect("running")
                .try_wait()
                .expect("try_wait");
            exited.inspect(|_| *child = None).ok_or_else(|| self.log())
        })
    }
}

impl Drop for Host {
    fn drop(&mut self) {
        if let Some(mut child) = self.child().take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// The `[host] listen` address of the config at `path`, which the tests need to know.
fn listen_of(path: &Path) -> String {
    let text = std::fs::read_to_string(path).expect("read config");
    let config: toml::Table = toml::from_str(&text).expect("config is TOML");
    let listen = config
        .get("host")
        .and_then(|h| h.get("listen"))
        .and_then(|l| l.as_str());
    match listen {
        Some(addr) if !addr.ends_with(":0") => addr.to_owned(),
        _ => panic!(
            "a test config sets `[host] listen` to a free port (config_header and listen_line do): \
             the tests read /readyz there"
        ),
    }
}

/// One `[[workers]]` entry running `SleepWorkflow` and its activity.
pub fn sleep_entry(name: &str, queue: &str, slots: u32) -> String {
    format!(
        "\n[[workers]]\nname = \"{name}\"\ntask_queue = \"{queue}\"\nworkflows = [\"SleepWorkflow\"]\nactivities = [\"sleep\"]\nmax_concurrent_activities = {slots}\n"
    )
}

/// `header` followed by one [`sleep_entry`] per `(name, queue, slots)`.
pub fn sleepers(header: &str, entries: &[(&str, &str, u32)]) -> String {
    let mut config = header.to_owned();
    for (name, queue, slots) in entries {
        config.push_str(&sleep_entry(name, queue, *slots));
    }
    config
}

/// A `custom_host` running [`sleepers`] under `config_header(grace)`; and that header, to
/// write edits with.
pub fn start_sleepers(grace: &str, entries: &[(&str, &str, u32)]) -> (Host, String) {
    let header = config_header(grace);
    (
        Host::start("custom_host", &sleepers(&header, entries)),
        header,
    )
}

/// The `[temporal]` and `[host]` sections every test config starts with.
pub fn config_header(grace: &str) -> String {
    format!(
        "[temporal]\naddress = \"{}\"\nnamespace = \"default\"\n\n[host]\nshutdown_grace = \"{grace}\"\n{}",
        temporal_address(),
        listen_line()
    )
}

/// A `listen = "127.0.0.1:<free port>"` line for a `[host]` table.
pub fn listen_line() -> String {
    format!("listen = \"127.0.0.1:{}\"\n", free_port())
}

/// `config` with a `[host] listen` of its own: the same entries, for a second host.
pub fn own_listen(config: &str) -> String {
    let own = listen_line();
    let lines: Vec<&str> = config
        .lines()
        .map(|l| {
            if l.starts_with("listen = ") {
                own.trim_end()
            } else {
                l
            }
        })
        .collect();
    lines.join("\n") + "\n"
}

/// Run `command` to its end; its output, or a panic with its standard error when it fails.
pub fn run_ok(command: &mut Command) -> Output {
    let out = command
        .output()
        .unwrap_or_else(|e| panic!("cannot run {command:?}: {e}"));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{command:?} failed: {err}");
    out
}

/// `temporal <args> -o json` against the test server; its standard output.
pub fn temporal_cli(args: &[&str]) -> String {
    let cli = std::env::var("TEMPORAL_CLI").unwrap_or_else(|_| "temporal".into());
    let address = temporal_address();
    let json = ["-o", "json", "--address", &address];
    let out = run_ok(Command::new(cli).args(args).args(json));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Pollers of `queue` per task type, from `temporal task-queue describe`.
pub fn pollers(queue: &str) -> Vec<String> {
    let text = temporal_cli(&["task-queue", "describe", "--task-queue", queue]);
    let v: Json = serde_json::from_str(&text).expect("describe json");
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
    temporal_cli(&["workflow", "show", "--workflow-id", id]).contains(event)
}

/// A plain HTTP/1.0 GET; returns the status code and the body.
pub fn http_get(addr: &str, path: &str) -> (u16, String) {
    try_http_get(addr, path).unwrap_or_else(|e| panic!("GET http://{addr}{path}: {e}"))
}

/// A plain HTTP/1.0 GET that may fail (nothing listens yet, no answer within 10 s).
pub fn try_http_get(addr: &str, path: &str) -> std::io::Result<(u16, String)> {
    use std::io::Write;
    let mut stream = std::net::TcpStream::connect(addr)?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    write!(stream, "GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n")?;
    let mut response = String::new();
    stream.read_to_string(&mut response)?;
    let code = response
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("no status line in {response:?}")))?;
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    Ok((code, body))
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
