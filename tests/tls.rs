//! TLS proven: a TLS-terminating gRPC proxy on loopback in front of the dev server, with a CA and
//! server and client certificates made here. The host connects with server-only TLS, with mTLS,
//! with an API key (the proxy checks the `authorization` header), and through a Temporal profile;
//! a wrong CA or a missing client certificate is a clear error in the log and a `/readyz` reason.

mod common;

use http_body_util::{BodyExt, Empty, combinators::BoxBody};
use hyper::{
    Request, Response,
    body::{Bytes, Incoming},
    service::service_fn,
};
use hyper_util::{
    client::legacy::{Client as HttpClient, connect::HttpConnector},
    rt::{TokioExecutor, TokioIo},
};
use rcgen::{
    BasicConstraints, Certificate, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose,
};
use serde_json::Value as Json;
use std::{
    collections::BTreeSet,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    sync::{
        Arc, Mutex,
        atomic::{AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};
use tokio_rustls::{
    TlsAcceptor,
    rustls::{
        RootCertStore, ServerConfig,
        crypto::ring::default_provider,
        pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer},
        server::WebPkiClientVerifier,
    },
};

const API_KEY: &str = "test-api-key-5f1c";

/// A certificate authority made for one test.
struct Authority {
    params: CertificateParams,
    key: KeyPair,
    cert: Certificate,
}

impl Authority {
    fn new(name: &str) -> Self {
        let key = KeyPair::generate().expect("CA key");
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, name);
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let cert = params.self_signed(&key).expect("CA certificate");
        Self { params, key, cert }
    }

    /// A certificate for `names` signed by this authority, and its key.
    fn issue(&self, names: &[&str], usage: ExtendedKeyUsagePurpose) -> (Certificate, KeyPair) {
        let key = KeyPair::generate().expect("key");
        let mut params =
            CertificateParams::new(names.iter().map(|n| (*n).to_owned()).collect::<Vec<_>>())
                .expect("params");
        params.distinguished_name.push(DnType::CommonName, names[0]);
        params.extended_key_usages = vec![usage];
        let issuer = Issuer::from_params(&self.params, &self.key);
        let cert = params.signed_by(&key, &issuer).expect("sign");
        (cert, key)
    }
}

/// The files a host reads: the CA, and a client certificate and key.
struct Pki {
    ca: Authority,
    dir: tempfile::TempDir,
}

impl Pki {
    fn new() -> Self {
        let pki = Self {
            ca: Authority::new("worker-host test CA"),
            dir: tempfile::tempdir().expect("tempdir"),
        };
        std::fs::write(pki.path("ca.pem"), pki.ca.cert.pem()).expect("ca.pem");
        let (cert, key) = pki
            .ca
            .issue(&["worker-host-client"], ExtendedKeyUsagePurpose::ClientAuth);
        std::fs::write(pki.path("client.pem"), cert.pem()).expect("client.pem");
        std::fs::write(pki.path("client.key"), key.serialize_pem()).expect("client.key");
        let other = Authority::new("some other CA");
        std::fs::write(pki.path("other-ca.pem"), other.cert.pem()).expect("other-ca.pem");
        pki
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// The proxy's TLS config: a server certificate for localhost, ALPN h2, and a required client
    /// certificate of this CA when `mtls`.
    fn server_config(&self, mtls: bool) -> Arc<ServerConfig> {
        let provider = Arc::new(default_provider());
        let builder = ServerConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .expect("protocol versions");
        let builder = if mtls {
            let mut roots = RootCertStore::empty();
            roots.add(self.ca.cert.der().clone()).expect("CA root");
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                .build()
                .expect("client verifier");
            builder.with_client_cert_verifier(verifier)
        } else {
            builder.with_no_client_auth()
        };
        let (cert, key) = self.ca.issue(
            &["localhost", "127.0.0.1"],
            ExtendedKeyUsagePurpose::ServerAuth,
        );
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
        let mut config = builder
            .with_single_cert(vec![cert.der().clone()], key)
            .expect("server certificate");
        config.alpn_protocols = vec![b"h2".to_vec()];
        Arc::new(config)
    }
}

/// A TLS-terminating HTTP/2 proxy to the dev server that counts requests and remembers the
/// `authorization` headers it saw; with `api_key`, requests without it get UNAUTHENTICATED.
struct Proxy {
    addr: String,
    requests: Arc<AtomicUsize>,
    authorizations: Arc<Mutex<BTreeSet<String>>>,
}

type ProxyBody = BoxBody<Bytes, hyper::Error>;

impl Proxy {
    async fn start(tls: Arc<ServerConfig>, api_key: Option<&str>) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind proxy");
        let addr = listener.local_addr().expect("proxy addr").to_string();
        let requests = Arc::new(AtomicUsize::new(0));
        let authorizations = Arc::new(Mutex::new(BTreeSet::new()));
        let acceptor = TlsAcceptor::from(tls);
        let client: HttpClient<HttpConnector, Incoming> = HttpClient::builder(TokioExecutor::new())
            .http2_only(true)
            .build_http();
        let upstream = common::temporal_address();
        let required = api_key.map(|k| format!("Bearer {k}"));
        let (count, seen) = (requests.clone(), authorizations.clone());
        tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                let (acceptor, client, upstream, required) = (
                    acceptor.clone(),
                    client.clone(),
                    upstream.clone(),
                    required.clone(),
                );
                let (count, seen) = (count.clone(), seen.clone());
                tokio::spawn(async move {
                    // A failed handshake is the client's to report.
                    let Ok(stream) = acceptor.accept(tcp).await else {
                        return;
                    };
                    let service = service_fn(move |request: Request<Incoming>| {
                        let (client, upstream, required) =
                            (client.clone(), upstream.clone(), required.clone());
                        let (count, seen) = (count.clone(), seen.clone());
                        async move {
                            count.fetch_add(1, Ordering::Relaxed);
                            forward(request, &client, &upstream, required.as_deref(), &seen).await
                        }
                    });
                    let _ = hyper::server::conn::http2::Builder::new(TokioExecutor::new())
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Self {
            addr,
            requests,
            authorizations,
        }
    }
}

async fn forward(
    mut request: Request<Incoming>,
    client: &HttpClient<HttpConnector, Incoming>,
    upstream: &str,
    required: Option<&str>,
    seen: &Mutex<BTreeSet<String>>,
) -> Result<Response<ProxyBody>, hyper_util::client::legacy::Error> {
    let authorization = request
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    if let Some(a) = &authorization {
        seen.lock().expect("lock").insert(a.clone());
    }
    if let Some(required) = required
        && authorization.as_deref() != Some(required)
    {
        let denied = Response::builder()
            .header("content-type", "application/grpc")
            .header("grpc-status", "16")
            .header("grpc-message", "missing or wrong API key")
            .body(Empty::new().map_err(|never| match never {}).boxed())
            .expect("response");
        return Ok(denied);
    }
    let path = request
        .uri()
        .path_and_query()
        .map_or("/", |p| p.as_str())
        .to_owned();
    *request.uri_mut() = format!("http://{upstream}{path}").parse().expect("uri");
    let response = client.request(request).await?;
    Ok(response.map(BodyExt::boxed))
}

/// A `worker-host run` child with its log in a file; killed on drop.
struct RunningHost {
    child: Child,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

impl RunningHost {
    /// Run a host whose `[temporal]` table is `temporal` (one canary entry on `queue`), with the
    /// environment `env` added.
    fn start(temporal: &str, queue: &str, env: &[(&str, &str)]) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let config = format!(
            "{temporal}\n[host]\nlisten = \"127.0.0.1:0\"\nreload = false\nshutdown_grace = \"2s\"\n\n\
             [[workers]]\nname = \"canary\"\ntask_queue = \"{queue}\"\n\
             workflows = [\"HostCanaryWorkflow\"]\nactivities = [\"host_canary\"]\n"
        );
        std::fs::write(dir.path().join("workers.toml"), config).expect("workers.toml");
        let log = dir.path().join("host.log");
        let child = Command::new(common::binary("worker-host"))
            .args(["run", "--config"])
            .arg(dir.path().join("workers.toml"))
            .current_dir(dir.path())
            .env_remove("TEMPORAL_ADDRESS")
            .env_remove("TEMPORAL_CONFIG_FILE")
            .env_remove("TEMPORAL_PROFILE")
            .env_remove("TEMPORAL_API_KEY")
            .envs(env.iter().copied())
            .env("RUST_LOG", "info,temporalio_sdk_core=warn")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).expect("log"))
            .spawn()
            .expect("spawn host");
        Self {
            child,
            log,
            _dir: dir,
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Wait until the log holds `needle`; returns the line.
    fn wait_for_log(&self, needle: &str, limit: Duration) -> String {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(line) = self.log().lines().find(|l| l.contains(needle)) {
                return line.to_owned();
            }
            assert!(
                Instant::now() < deadline,
                "`{needle}` not logged within {limit:?}:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn http_addr(&self) -> String {
        let line = self.wait_for_log("endpoints listening", Duration::from_secs(30));
        line.split("addr=")
            .nth(1)
            .and_then(|rest| rest.split_whitespace().next())
            .expect("addr field")
            .to_owned()
    }

    /// Wait until `/readyz` satisfies `check`; returns that report.
    fn wait_for_readyz(&self, what: &str, check: impl Fn(&Json) -> bool) -> Json {
        let addr = self.http_addr();
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let (_, body) = common::http_get(&addr, "/readyz");
            let report: Json = serde_json::from_str(&body).unwrap_or(Json::Null);
            if check(&report) {
                return report;
            }
            assert!(
                Instant::now() < deadline,
                "/readyz never showed {what}; last: {report}\nlog:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for RunningHost {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn tls_table(address: &str, keys: &str) -> String {
    format!("[temporal]\naddress = \"{address}\"\n\n[temporal.tls]\ndomain = \"localhost\"\n{keys}")
}

fn path_key(key: &str, path: &Path) -> String {
    format!("{key} = \"{}\"\n", path.display())
}

/// The host becomes ready through the proxy and serves a canary started on the dev server.
async fn serves_through(host: &RunningHost, proxy: &Proxy, queue: &str) {
    host.wait_for_readyz("ready", |r| r["ready"] == Json::Bool(true));
    let client = common::client().await;
    let id = common::unique("tls-canary");
    common::start(&client, "HostCanaryWorkflow", queue, &id, "tls".into()).await;
    let report = common::result_within(&client, &id, Duration::from_secs(60))
        .await
        .expect("canary through TLS");
    assert_eq!(report["echo"], "tls");
    assert!(
        proxy.requests.load(Ordering::Relaxed) > 0,
        "nothing went through the proxy"
    );
}

// The proxy runs on the test's runtime while the test waits on the host: two threads.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_tls() {
    let pki = Pki::new();
    let proxy = Proxy::start(pki.server_config(false), None).await;
    let queue = common::unique("tls-server");
    let host = RunningHost::start(
        &tls_table(
            &proxy.addr,
            &path_key("server_ca_cert", &pki.path("ca.pem")),
        ),
        &queue,
        &[],
    );
    serves_through(&host, &proxy, &queue).await;
}

// The proxy runs on the test's runtime while the test waits on the host: two threads.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mutual_tls() {
    let pki = Pki::new();
    let proxy = Proxy::start(pki.server_config(true), None).await;
    let queue = common::unique("tls-mutual");
    let keys = path_key("server_ca_cert", &pki.path("ca.pem"))
        + &path_key("client_cert", &pki.path("client.pem"))
        + &path_key("client_key", &pki.path("client.key"));
    let host = RunningHost::start(&tls_table(&proxy.addr, &keys), &queue, &[]);
    serves_through(&host, &proxy, &queue).await;
}

// The proxy runs on the test's runtime while the test waits on the host: two threads.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_key_header() {
    let pki = Pki::new();
    let proxy = Proxy::start(pki.server_config(false), Some(API_KEY)).await;
    let queue = common::unique("tls-api-key");
    let keys = path_key("server_ca_cert", &pki.path("ca.pem"))
        + "api_key_env = \"WORKER_HOST_TEST_API_KEY\"\n";
    let host = RunningHost::start(
        &tls_table(&proxy.addr, &keys),
        &queue,
        &[("WORKER_HOST_TEST_API_KEY", API_KEY)],
    );
    serves_through(&host, &proxy, &queue).await;
    let seen = proxy.authorizations.lock().expect("lock").clone();
    assert_eq!(seen, BTreeSet::from([format!("Bearer {API_KEY}")]));
}

// The proxy runs on the test's runtime while the test waits on the host: two threads.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_and_api_key_from_a_temporal_profile() {
    let pki = Pki::new();
    let proxy = Proxy::start(pki.server_config(false), Some(API_KEY)).await;
    let queue = common::unique("tls-profile");
    let profiles = pki.path("temporal.toml");
    std::fs::write(
        &profiles,
        format!(
            "[profile.cloud]\naddress = \"{}\"\nnamespace = \"default\"\napi_key = \"{API_KEY}\"\n\n\
             [profile.cloud.tls]\nserver_ca_cert_path = \"{}\"\nserver_name = \"localhost\"\n",
            proxy.addr,
            pki.path("ca.pem").display()
        ),
    )
    .expect("temporal.toml");
    let host = RunningHost::start(
        "[temporal]\nprofile = \"cloud\"\n",
        &queue,
        &[(
            "TEMPORAL_CONFIG_FILE",
            profiles.to_str().expect("utf-8 path"),
        )],
    );
    serves_through(&host, &proxy, &queue).await;
    let seen = proxy.authorizations.lock().expect("lock").clone();
    assert_eq!(seen, BTreeSet::from([format!("Bearer {API_KEY}")]));
}

/// A host that cannot connect says why in its log and in `/readyz`. (With TLS 1.3 a server that
/// rejects the client's certificate does so after the client's side of the handshake, so one
/// attempt may see only "connection closed"; the next ones, a second apart, carry the alert.)
fn refused(host: &RunningHost, expected: &str) {
    let report = host.wait_for_readyz("a connection error", |r| {
        r["reason"]
            .as_str()
            .is_some_and(|reason| reason.contains(expected))
    });
    assert_eq!(report["ready"], Json::Bool(false));
    let line = host.wait_for_log(expected, Duration::from_secs(30));
    assert!(line.contains("Temporal not reachable yet"), "{line}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_ca_is_a_clear_error() {
    refused_by_proxy(
        false,
        "other-ca.pem",
        "invalid peer certificate: UnknownIssuer",
    )
    .await;
}

// The proxy runs on the test's runtime while the test waits on the host: two threads.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_client_certificate_is_a_clear_error() {
    refused_by_proxy(true, "ca.pem", "received fatal alert: CertificateRequired").await;
}

/// A host trusting `ca` and offering no client certificate, in front of a TLS proxy that
/// requires one or not, is refused with `expected`.
async fn refused_by_proxy(client_cert_required: bool, ca: &str, expected: &str) {
    let pki = Pki::new();
    let proxy = Proxy::start(pki.server_config(client_cert_required), None).await;
    let host = RunningHost::start(
        &tls_table(&proxy.addr, &path_key("server_ca_cert", &pki.path(ca))),
        &common::unique("tls-refused"),
        &[],
    );
    refused(&host, expected);
}
