//! Credentials go only to the hosts of `credential_hosts`. An https server on 127.0.0.1 (its
//! certificate signed by a CA this test makes with the `openssl` CLI and trusts through
//! `SSL_CERT_FILE`) answers every request with 401 and logs what it receives. With a token in
//! the environment: a host that is not listed never sees it, a listed one does, and a redirect
//! to another host is refused before anything reaches that host.
//!
//! One test function: the environment (`SSL_CERT_FILE`, the token) is set once, before
//! libgit2 starts, and no other test of this binary runs beside it.

use std::{
    io::{BufRead, BufReader},
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::Duration,
};

use worker_host_indexing::clone::{
    CloneError, CloneLimits, CloneRequest, CredentialHosts, clone_repository,
};

const TOKEN: &str = "t0k3n-f0r-listed-hosts-only";

fn openssl(dir: &Path, args: &[&str]) {
    let status = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("run openssl");
    assert!(status.success(), "openssl {args:?}");
}

/// A CA (`ca.pem`) and a server certificate for `localhost` and `127.0.0.1` signed by it.
fn certificates(dir: &Path) {
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
    ];
    let mut ca = vec![
        "req",
        "-x509",
        "-days",
        "2",
        "-subj",
        "/CN=worker-host test CA",
    ];
    ca.extend(ec);
    ca.extend(["-keyout", "ca.key", "-out", "ca.pem"]);
    openssl(dir, &ca);
    let mut csr = vec!["req", "-subj", "/CN=localhost"];
    csr.extend(ec);
    csr.extend(["-keyout", "server.key", "-out", "server.csr"]);
    openssl(dir, &csr);
    std::fs::write(
        dir.join("san.ext"),
        "subjectAltName=DNS:localhost,IP:127.0.0.1\n",
    )
    .expect("write extensions");
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-days",
            "2",
            "-extfile",
            "san.ext",
            "-out",
            "server.pem",
        ],
    );
}

/// `tests/support/https_401.py`; killed when dropped.
struct Server {
    child: Child,
    port: u16,
    log: PathBuf,
}

impl Server {
    fn start(dir: &Path) -> Self {
        let log = dir.join("requests.jsonl");
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/https_401.py");
        let mut child = Command::new("python3")
            .arg(script)
            .arg(dir.join("server.pem"))
            .arg(dir.join("server.key"))
            .arg(&log)
            .stdout(Stdio::piped())
            .spawn()
            .expect("start the https server");
        let mut line = String::new();
        let stdout = child.stdout.take().expect("piped stdout");
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("server ready line");
        let port = line
            .trim()
            .strip_prefix("ready ")
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"));
        Self { child, port, log }
    }

    /// What the server received since the last call: (Host header, path, Authorization).
    fn take_requests(&self) -> Vec<(String, String, Option<String>)> {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let _ = std::fs::remove_file(&self.log);
        text.lines()
            .map(|line| {
                let v: serde_json::Value = serde_json::from_str(line).expect("log line");
                let s = |k: &str| v[k].as_str().map(str::to_owned);
                (
                    s("host").unwrap_or_default(),
                    s("path").unwrap_or_default(),
                    s("authorization"),
                )
            })
            .collect()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | u32::from(*b) << (16 - 8 * i));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn limits(hosts: &[&str]) -> CloneLimits {
    CloneLimits {
        credential_hosts: CredentialHosts::parse(hosts).expect("valid hosts"),
        connect_timeout: Duration::from_secs(5),
        read_timeout: Duration::from_secs(5),
        ..CloneLimits::default()
    }
}

fn clone(url: &str, limits: &CloneLimits) -> CloneError {
    let out = tempfile::tempdir().expect("tempdir");
    let request = CloneRequest {
        url: url.to_owned(),
        reference: None,
    };
    clone_repository(&request, &out.path().join("clone"), limits, |_| true)
        .expect_err("the server refuses every clone")
}

#[test]
fn credentials_go_only_to_listed_hosts() {
    let dir = tempfile::tempdir().expect("tempdir");
    certificates(dir.path());
    // SAFETY: the only test of this binary sets the environment before libgit2 starts and
    // before any other thread of its own exists.
    unsafe {
        std::env::set_var("SSL_CERT_FILE", dir.path().join("ca.pem"));
        std::env::set_var("WORKER_HOST_GIT_TOKEN", TOKEN);
    }
    let server = Server::start(dir.path());
    let port = server.port;
    let basic = format!(
        "Basic {}",
        base64(format!("x-access-token:{TOKEN}").as_bytes())
    );

    // No host listed (the default): the 401 gets no token.
    let err = clone(&format!("https://localhost:{port}/o/r.git"), &limits(&[]));
    assert_eq!(err.kind(), "AuthFailed", "{err}");
    assert!(err.to_string().contains("credential_hosts"), "{err}");
    let seen = server.take_requests();
    assert!(!seen.is_empty(), "the server was asked");
    assert!(seen.iter().all(|(_, _, auth)| auth.is_none()), "{seen:?}");

    // Another host is listed: still no token for this one.
    let err = clone(
        &format!("https://127.0.0.1:{port}/o/r.git"),
        &limits(&["localhost"]),
    );
    assert_eq!(err.kind(), "AuthFailed", "{err}");
    let seen = server.take_requests();
    assert!(!seen.is_empty());
    assert!(seen.iter().all(|(_, _, auth)| auth.is_none()), "{seen:?}");

    // The host is listed (with its port): the token goes there, once.
    for hosts in [["localhost"], ["LOCALHOST"]] {
        let err = clone(
            &format!("https://localhost:{port}/o/r.git"),
            &limits(&hosts),
        );
        assert_eq!(err.kind(), "AuthFailed", "{err}");
        assert!(!err.to_string().contains(TOKEN), "{err}");
        let seen = server.take_requests();
        let with_token: Vec<_> = seen
            .iter()
            .filter(|(_, _, auth)| auth.as_deref() == Some(basic.as_str()))
            .collect();
        assert_eq!(with_token.len(), 1, "{seen:?}");
    }
    let port_listed = format!("localhost:{port}");
    let err = clone(
        &format!("https://localhost:{port}/o/r.git"),
        &limits(&[port_listed.as_str()]),
    );
    assert_eq!(err.kind(), "AuthFailed", "{err}");
    assert!(server.take_requests().iter().any(|(_, _, a)| a.is_some()));

    // A listed host redirects to another host: refused before the other host is asked.
    let err = clone(
        &format!("https://localhost:{port}/redirect/o/r.git"),
        &limits(&["localhost"]),
    );
    assert_eq!(err.kind(), "Redirect", "{err}");
    assert!(!err.is_retryable());
    let seen = server.take_requests();
    assert!(
        seen.iter()
            .any(|(_, path, _)| path.starts_with("/redirect/")),
        "{seen:?}"
    );
    assert!(
        seen.iter()
            .all(|(host, _, auth)| host.starts_with("localhost") && auth.is_none()),
        "{seen:?}"
    );
}
