//! The clone library against repositories this test builds on disk (with git2): every kind of
//! ref, local paths and `file://` URLs, refused sources, the size limit, an empty repository,
//! an abort, and redaction. A clone fetches into a bare mirror (no checkout): files are read
//! from the fetched commit. The smart protocol (where shallow fetches happen) is served by
//! `git http-backend` behind a small HTTP server on 127.0.0.1; no other host is contacted.

use std::{
    fs,
    io::{self, BufRead, BufReader, Read, Write},
    net::{SocketAddr, TcpListener, TcpStream},
    path::{Path, PathBuf},
    process::{Command, Stdio},
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    thread::JoinHandle,
    time::Duration,
};

use git2::{Oid, Repository, RepositoryInitOptions, Signature};
use tempfile::TempDir;
use worker_host_indexing::clone::{
    CloneError, CloneLimits, CloneOutcome, CloneRequest, Limit, Progress, Stage, clone_repository,
};

/// A bare repository: `main` (HEAD) is `base` ← `first` ← `main`; `feature` branches off
/// `first`, and the annotated tag `v1` points at it. `base` is no ref's tip.
struct Fixture {
    _dir: TempDir,
    path: PathBuf,
    base: Oid,
    first: Oid,
    main: Oid,
    feature: Oid,
}

fn commit(repo: &Repository, refname: &str, parents: &[Oid], files: &[(&str, &[u8])]) -> Oid {
    let parents: Vec<_> = parents
        .iter()
        .map(|id| repo.find_commit(*id).expect("parent"))
        .collect();
    let base = parents.first().map(|p| p.tree().expect("tree"));
    let mut tree = repo.treebuilder(base.as_ref()).expect("treebuilder");
    for (name, content) in files {
        let blob = repo.blob(content).expect("blob");
        tree.insert(name, blob, 0o100644).expect("insert");
    }
    let tree = repo
        .find_tree(tree.write().expect("write tree"))
        .expect("tree");
    let sig = Signature::now("Test", "test@example.invalid").expect("signature");
    let parents: Vec<_> = parents.iter().collect();
    let message = format!("commit {}", files[0].0);
    repo.commit(Some(refname), &sig, &sig, &message, &tree, &parents)
        .expect("commit")
}

fn bare(dir: &Path) -> Repository {
    Repository::init_opts(
        dir,
        RepositoryInitOptions::new().bare(true).initial_head("main"),
    )
    .expect("init bare")
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("source.git");
    let repo = bare(&path);
    let base = commit(&repo, "refs/heads/main", &[], &[("base.txt", b"0\n")]);
    let first = commit(
        &repo,
        "refs/heads/main",
        &[base],
        &[("README.md", b"one\n")],
    );
    let main = commit(
        &repo,
        "refs/heads/main",
        &[first],
        &[("second.txt", b"two\n")],
    );
    let feature = commit(
        &repo,
        "refs/heads/feature",
        &[first],
        &[("feature.txt", b"f\n")],
    );
    let sig = Signature::now("Test", "test@example.invalid").expect("signature");
    let target = repo.find_object(first, None).expect("first commit");
    repo.tag("v1", &target, &sig, "release 1", false)
        .expect("tag");
    Fixture {
        _dir: dir,
        path,
        base,
        first,
        main,
        feature,
    }
}

/// Local sources allowed, fetched like remote ones (not borrowed), so that the transfer is
/// what these tests watch.
fn local() -> CloneLimits {
    CloneLimits {
        allow_local: true,
        borrow_local_objects: false,
        ..CloneLimits::default()
    }
}

fn request(url: &str, reference: Option<&str>) -> CloneRequest {
    CloneRequest {
        url: url.to_owned(),
        reference: reference.map(str::to_owned),
    }
}

fn clone(url: &str, reference: Option<&str>, dest: &Path) -> Result<CloneOutcome, CloneError> {
    clone_repository(&request(url, reference), dest, &local(), |_| true)
}

fn path_url(f: &Fixture) -> &str {
    f.path.to_str().expect("utf-8 temp path")
}

fn file_url(f: &Fixture) -> String {
    format!("file://{}", path_url(f))
}

/// The content of `path` in the fetched commit, read from the mirror.
fn file_at(outcome: &CloneOutcome, path: &str) -> Option<Vec<u8>> {
    let repo = Repository::open_bare(&outcome.path).expect("open the mirror");
    let oid = Oid::from_str(&outcome.commit_sha).expect("commit id");
    let tree = repo.find_commit(oid).expect("commit").tree().expect("tree");
    let entry = tree.get_path(Path::new(path)).ok()?;
    Some(repo.find_blob(entry.id()).expect("blob").content().to_vec())
}

#[test]
fn default_branch_via_a_local_path_and_a_file_url() {
    let f = fixture();
    for url in [path_url(&f).to_owned(), file_url(&f)] {
        let out = tempfile::tempdir().expect("tempdir");
        let dest = out.path().join("clone");
        let mut reports = 0;
        let outcome = clone_repository(&request(&url, None), &dest, &local(), |_| {
            reports += 1;
            true
        })
        .expect("clone");
        assert_eq!(outcome.commit_sha, f.main.to_string(), "{url}");
        assert_eq!(outcome.commit_sha.len(), 40);
        assert_eq!(outcome.default_branch.as_deref(), Some("main"));
        assert_eq!(outcome.path, dest);
        assert!(outcome.bytes_received > 0 && outcome.objects > 0);
        assert!(reports > 0, "progress is reported");
        // libgit2's local transport refuses depth: local clones are full (documented).
        assert!(!outcome.shallow);
        assert_eq!(
            file_at(&outcome, "README.md").as_deref(),
            Some(&b"one\n"[..])
        );
        assert!(file_at(&outcome, "second.txt").is_some());
        assert!(!dest.join("README.md").exists(), "nothing is checked out");
    }
}

#[test]
fn branch_tag_and_commit_ids_resolve_to_their_commits() {
    let f = fixture();
    let base = f.base.to_string();
    let first = f.first.to_string();
    let main = f.main.to_string();
    let cases = [
        (Some("HEAD"), f.main),
        (Some("feature"), f.feature),
        (Some("refs/heads/feature"), f.feature),
        (Some("v1"), f.first),
        (Some("refs/tags/v1"), f.first),
        (Some(first.as_str()), f.first),
        (Some(&first[..7]), f.first),
        (Some(base.as_str()), f.base),
        (Some(&base[..6]), f.base),
        (Some(&main[..10]), f.main),
        (Some(main.as_str()), f.main),
    ];
    for (reference, commit) in cases {
        let out = tempfile::tempdir().expect("tempdir");
        let outcome = clone(&file_url(&f), reference, &out.path().join("m")).expect("clone");
        assert_eq!(outcome.commit_sha, commit.to_string(), "{reference:?}");
        assert_eq!(outcome.default_branch.as_deref(), Some("main"));
        let has_second = commit == f.main;
        assert_eq!(
            file_at(&outcome, "second.txt").is_some(),
            has_second,
            "{reference:?}"
        );
        assert_eq!(
            file_at(&outcome, "feature.txt").is_some(),
            commit == f.feature
        );
        assert_eq!(file_at(&outcome, "README.md").is_some(), commit != f.base);
    }
}

#[test]
fn unknown_refs_are_typed_and_not_retryable() {
    let f = fixture();
    for reference in ["no-such-branch", "deadbeef", &"0".repeat(40), "bad..name"] {
        let out = tempfile::tempdir().expect("tempdir");
        let dest = out.path().join("clone");
        let err = clone(path_url(&f), Some(reference), &dest).expect_err(reference);
        assert!(
            matches!(err, CloneError::UnknownRef { .. }),
            "{reference}: {err}"
        );
        assert_eq!(err.kind(), "UnknownRef");
        assert!(!err.is_retryable());
        assert!(err.to_string().contains(reference), "{err}");
        assert!(!dest.exists(), "a failed clone leaves nothing behind");
    }
}

#[test]
fn local_sources_are_refused_unless_allowed() {
    let f = fixture();
    let out = tempfile::tempdir().expect("tempdir");
    let dest = out.path().join("clone");
    for url in [path_url(&f).to_owned(), file_url(&f)] {
        let req = request(&url, None);
        let err = clone_repository(&req, &dest, &CloneLimits::default(), |_| true)
            .expect_err("local refused");
        assert!(matches!(err, CloneError::UnsupportedUrl { .. }), "{err}");
        assert!(!err.is_retryable());
        assert!(!dest.exists());
    }
}

#[test]
fn unsupported_schemes_and_garbage_are_bad_urls() {
    let out = tempfile::tempdir().expect("tempdir");
    let dest = out.path().join("clone");
    let limits = local();
    let cases = [
        ("ftp://x/y", "UnsupportedUrl"),
        ("http://127.0.0.1:9/x.git", "UnsupportedUrl"),
        ("git://127.0.0.1/x.git", "UnsupportedUrl"),
        ("garbage", "InvalidUrl"),
        ("not a url", "InvalidUrl"),
        ("https://", "InvalidUrl"),
        ("", "InvalidUrl"),
    ];
    for (url, variant) in cases {
        let err = clone_repository(&request(url, None), &dest, &limits, |_| true).expect_err(url);
        let got = match err {
            CloneError::UnsupportedUrl { .. } => "UnsupportedUrl",
            CloneError::InvalidUrl { .. } => "InvalidUrl",
            _ => "other",
        };
        assert_eq!(got, variant, "{url:?}: {err}");
        assert_eq!(err.kind(), "BadUrl");
        assert!(!err.is_retryable());
    }
    assert!(!dest.exists());
}

/// Bytes that do not compress, so that the pack is as large as they are.
fn noise(len: usize) -> Vec<u8> {
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x.to_le_bytes()[0]
        })
        .collect()
}

#[test]
fn too_large_stops_the_transfer_and_cleans_up() {
    let dir = tempfile::tempdir().expect("tempdir");
    let source = dir.path().join("big.git");
    let repo = bare(&source);
    let big = noise(4 << 20);
    commit(&repo, "refs/heads/main", &[], &[("big.bin", &big)]);
    let url = source.to_str().expect("utf-8");

    // An absent mirror is removed; an existing empty folder is emptied.
    let absent = dir.path().join("absent/clone");
    let empty = dir.path().join("empty");
    fs::create_dir(&empty).expect("mkdir");
    let limits = CloneLimits {
        max_bytes: 256 << 10,
        ..local()
    };
    for dest in [&absent, &empty] {
        let err =
            clone_repository(&request(url, None), dest, &limits, |_| true).expect_err("too large");
        let CloneError::TooLarge {
            exceeded,
            limit,
            found,
            ..
        } = err
        else {
            panic!("expected TooLarge, got {err}");
        };
        assert_eq!(exceeded, Limit::ReceivedBytes);
        assert_eq!(limit, 256 << 10);
        assert!(found > limit);
        assert!(!err.is_retryable());
        assert_eq!(err.kind(), "TooLarge");
    }
    assert!(!dir.path().join("absent").exists());
    assert_eq!(fs::read_dir(&empty).expect("read").count(), 0);

    // The same repository fits a larger limit.
    let fits = CloneLimits {
        max_bytes: 64 << 20,
        ..local()
    };
    let dest = dir.path().join("fits");
    let outcome = clone_repository(&request(url, None), &dest, &fits, |_| true).expect("fits");
    assert!(outcome.bytes_received > 4 << 20);
    assert_eq!(file_at(&outcome, "big.bin"), Some(big));
}

#[test]
fn an_empty_repository_is_a_typed_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let source = dir.path().join("empty.git");
    bare(&source);
    let dest = dir.path().join("clone");
    let err = clone(source.to_str().expect("utf-8"), None, &dest).expect_err("empty");
    assert!(matches!(err, CloneError::EmptyRepository { .. }), "{err}");
    assert_eq!(err.kind(), "EmptyRepository");
    assert!(!err.is_retryable());
    assert!(!dest.exists());
}

#[test]
fn a_missing_local_repository_is_not_found() {
    let dir = tempfile::tempdir().expect("tempdir");
    let missing = dir.path().join("missing.git");
    let dest = dir.path().join("clone");
    let err = clone(missing.to_str().expect("utf-8"), None, &dest).expect_err("missing");
    assert_eq!(err.kind(), "NotFound", "{err}");
    assert!(!err.is_retryable());
    assert!(!dest.exists());
}

#[test]
fn the_progress_callback_can_abort() {
    let f = fixture();
    let out = tempfile::tempdir().expect("tempdir");
    let dest = out.path().join("clone");
    let mut stages = Vec::new();
    let err = clone_repository(
        &request(path_url(&f), None),
        &dest,
        &local(),
        |p: Progress| {
            stages.push(p.stage);
            false
        },
    )
    .expect_err("aborted");
    assert!(matches!(err, CloneError::Aborted { .. }), "{err}");
    assert!(!err.is_retryable());
    assert_eq!(stages.len(), 1, "the first false stops the clone");
    assert!(matches!(stages[0], Stage::Preparing | Stage::Receiving));
    assert!(!dest.exists());
}

#[test]
fn a_non_empty_destination_is_refused_and_left_alone() {
    let f = fixture();
    let out = tempfile::tempdir().expect("tempdir");
    let mine = out.path().join("mine");
    fs::create_dir(&mine).expect("mkdir");
    fs::write(mine.join("keep.txt"), "mine").expect("write");
    let err = clone(path_url(&f), None, &mine).expect_err("not empty");
    assert_eq!(err.kind(), "DestinationNotEmpty");
    assert!(!err.is_retryable());
    assert_eq!(
        fs::read_to_string(mine.join("keep.txt")).expect("kept"),
        "mine"
    );
    assert_eq!(fs::read_dir(&mine).expect("read").count(), 1);
}

/// A loopback port with nothing listening: bind a free one, then close it.
fn closed_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("addr").port()
}

#[test]
fn connection_refused_is_a_retryable_network_error() {
    let port = closed_port();
    let out = tempfile::tempdir().expect("tempdir");
    let dest = out.path().join("clone");
    for url in [
        format!("https://127.0.0.1:{port}/x.git"),
        format!("ssh://git@127.0.0.1:{port}/x.git"),
    ] {
        let err = clone_repository(&request(&url, None), &dest, &CloneLimits::default(), |_| {
            true
        })
        .expect_err("refused");
        assert!(matches!(err, CloneError::Network { .. }), "{url}: {err}");
        assert_eq!(err.kind(), "Network");
        assert!(err.is_retryable());
        assert!(!dest.exists());
    }
}

#[test]
fn credentials_never_appear_in_errors() {
    let port = closed_port();
    let out = tempfile::tempdir().expect("tempdir");
    let dest = out.path().join("clone");
    let limits = CloneLimits::default();

    // A password in the URL is refused before anything connects.
    let url = format!("https://user:s3cr3t-pw@127.0.0.1:{port}/x.git");
    let req = request(&url, None);
    let err = clone_repository(&req, &dest, &limits, |_| true).expect_err("password");
    assert!(matches!(err, CloneError::InvalidUrl { .. }), "{err}");
    let shown = format!("{err} {err:?} {req:?}");
    assert!(!shown.contains("s3cr3t-pw"), "{shown}");

    // A token in the user name reaches libgit2, and its messages are redacted too.
    let url = format!("https://t0ken-as-user@127.0.0.1:{port}/x.git");
    let req = request(&url, None);
    let err = clone_repository(&req, &dest, &limits, |_| true).expect_err("refused");
    assert_eq!(err.kind(), "Network", "{err}");
    let shown = format!("{err} {err:?} {req:?}");
    assert!(!shown.contains("t0ken-as-user"), "{shown}");
    assert!(shown.contains("127.0.0.1"), "{shown}");
}

/// How [`GitHttp`] serves.
#[derive(Clone, Copy, Default)]
struct Serve {
    /// `uploadpack.allowAnySHA1InWant`: commits may be fetched by id.
    any_sha1: bool,
    /// Answer every request without credentials with 401.
    require_auth: bool,
}

/// `git http-backend` (the smart HTTP protocol, as hosting services speak it) behind a minimal
/// HTTP/1.1 server on 127.0.0.1, one request per connection. Stops when dropped.
struct GitHttp {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl GitHttp {
    fn start(root: &Path, serve: Serve) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().expect("addr");
        let stop = Arc::new(AtomicBool::new(false));
        let root = root.to_owned();
        let thread = std::thread::spawn({
            let stop = stop.clone();
            move || {
                for stream in listener.incoming() {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    if let Ok(stream) = stream {
                        // A failed exchange shows up as a failed clone in the test.
                        let _ = respond(stream, &root, serve);
                    }
                }
            }
        });
        Self {
            addr,
            stop,
            thread: Some(thread),
        }
    }

    fn url(&self, repo: &str) -> String {
        format!("http://{}/{repo}", self.addr)
    }
}

impl Drop for GitHttp {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(self.addr);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn respond(stream: TcpStream, root: &Path, serve: Serve) -> io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut request_line = String::new();
    reader.read_line(&mut request_line)?;
    let mut words = request_line.split_whitespace();
    let method = words.next().unwrap_or_default().to_owned();
    let target = words.next().unwrap_or_default().to_owned();
    let mut headers = Vec::new();
    loop {
        let mut line = String::new();
        reader.read_line(&mut line)?;
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            headers.push((name.trim().to_ascii_lowercase(), value.trim().to_owned()));
        }
    }
    let header = |name: &str| {
        headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
    };
    let body = if header("transfer-encoding").is_some_and(|v| v.contains("chunked")) {
        read_chunked(&mut reader)?
    } else {
        let len = header("content-length")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        let mut body = vec![0; len];
        reader.read_exact(&mut body)?;
        body
    };
    let mut out = stream;
    if serve.require_auth && header("authorization").is_none() {
        return out.write_all(
            b"HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Basic realm=\"git\"\r\n\
              Content-Length: 0\r\nConnection: close\r\n\r\n",
        );
    }
    let (path, query) = target.split_once('?').unwrap_or((&target, ""));
    let mut cgi = Command::new("git");
    cgi.arg("http-backend")
        .env("GIT_PROJECT_ROOT", root)
        .env("GIT_HTTP_EXPORT_ALL", "1")
        .env("REQUEST_METHOD", &method)
        .env("PATH_INFO", path)
        .env("QUERY_STRING", query)
        .env("CONTENT_TYPE", header("content-type").unwrap_or_default())
        .env("CONTENT_LENGTH", body.len().to_string())
        .env("REMOTE_ADDR", "127.0.0.1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    if let Some(encoding) = header("content-encoding") {
        cgi.env("HTTP_CONTENT_ENCODING", encoding);
    }
    if serve.any_sha1 {
        cgi.env("GIT_CONFIG_COUNT", "1")
            .env("GIT_CONFIG_KEY_0", "uploadpack.allowAnySHA1InWant")
            .env("GIT_CONFIG_VALUE_0", "true");
    }
    let mut child = cgi.spawn()?;
    let mut stdin = child.stdin.take().expect("piped stdin");
    let feeder = std::thread::spawn(move || stdin.write_all(&body));
    let output = child.wait_with_output()?;
    let _ = feeder.join();
    let cgi_out = output.stdout;
    let (head, body) = match cgi_out.windows(4).position(|w| w == b"\r\n\r\n") {
        Some(i) => (&cgi_out[..i], &cgi_out[i + 4..]),
        None => match cgi_out.windows(2).position(|w| w == b"\n\n") {
            Some(i) => (&cgi_out[..i], &cgi_out[i + 2..]),
            None => (&cgi_out[..0], &cgi_out[..]),
        },
    };
    let mut status = "200 OK".to_owned();
    let mut response_headers = String::new();
    for line in String::from_utf8_lossy(head).lines() {
        match line.split_once(':') {
            Some((name, value)) if name.eq_ignore_ascii_case("status") => {
                status = value.trim().to_owned();
            }
            Some(_) => response_headers.push_str(&format!("{line}\r\n")),
            None => {}
        }
    }
    write!(
        out,
        "HTTP/1.1 {status}\r\n{response_headers}Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )?;
    out.write_all(body)
}

fn read_chunked(reader: &mut impl BufRead) -> io::Result<Vec<u8>> {
    let mut body = Vec::new();
    loop {
        let mut size = String::new();
        reader.read_line(&mut size)?;
        let size = usize::from_str_radix(size.trim().split(';').next().unwrap_or("0"), 16)
            .map_err(io::Error::other)?;
        let mut chunk = vec![0; size + 2];
        reader.read_exact(&mut chunk)?;
        if size == 0 {
            return Ok(body);
        }
        body.extend_from_slice(&chunk[..size]);
    }
}

/// Commits reachable from the fetched commit, in the mirror.
fn history_len(outcome: &CloneOutcome) -> usize {
    let repo = Repository::open_bare(&outcome.path).expect("open the mirror");
    let mut walk = repo.revwalk().expect("revwalk");
    walk.push(Oid::from_str(&outcome.commit_sha).expect("id"))
        .expect("push");
    walk.count()
}

fn http_limits() -> CloneLimits {
    CloneLimits {
        allow_http: true,
        ..CloneLimits::default()
    }
}

#[test]
fn smart_http_fetches_a_branch_or_tag_at_depth_one() {
    let f = fixture();
    let root = f.path.parent().expect("parent");
    let server = GitHttp::start(root, Serve::default());
    let url = server.url("source.git");
    for (reference, commit) in [
        (None, f.main),
        (Some("feature"), f.feature),
        (Some("v1"), f.first),
    ] {
        let out = tempfile::tempdir().expect("tempdir");
        let outcome = clone_repository(
            &request(&url, reference),
            &out.path().join("m"),
            &http_limits(),
            |_| true,
        )
        .expect("clone over http");
        assert_eq!(outcome.commit_sha, commit.to_string(), "{reference:?}");
        assert_eq!(outcome.default_branch.as_deref(), Some("main"));
        assert!(outcome.shallow, "{reference:?}: a depth-1 fetch");
        assert_eq!(history_len(&outcome), 1, "{reference:?}");
    }
}

#[test]
fn smart_http_fetches_a_commit_by_id_or_falls_back_to_a_full_fetch() {
    let f = fixture();
    let root = f.path.parent().expect("parent");
    let base = f.base.to_string();
    // The server allows any id in a want: one commit, depth 1.
    let server = GitHttp::start(
        root,
        Serve {
            any_sha1: true,
            ..Serve::default()
        },
    );
    let out = tempfile::tempdir().expect("tempdir");
    let outcome = clone_repository(
        &request(&server.url("source.git"), Some(&base)),
        &out.path().join("m"),
        &http_limits(),
        |_| true,
    )
    .expect("clone by id");
    assert_eq!(outcome.commit_sha, base);
    assert!(outcome.shallow);
    assert_eq!(history_len(&outcome), 1);
    drop(server);

    // The server refuses ids that are not tips (git's default): every branch and tag, in full.
    let server = GitHttp::start(root, Serve::default());
    for reference in [base.as_str(), &base[..8]] {
        let out = tempfile::tempdir().expect("tempdir");
        let outcome = clone_repository(
            &request(&server.url("source.git"), Some(reference)),
            &out.path().join("m"),
            &http_limits(),
            |_| true,
        )
        .expect("clone by id, full");
        assert_eq!(outcome.commit_sha, base, "{reference}");
        assert!(!outcome.shallow, "{reference}");
    }
    let out = tempfile::tempdir().expect("tempdir");
    let err = clone_repository(
        &request(&server.url("source.git"), Some(&"0".repeat(40))),
        &out.path().join("m"),
        &http_limits(),
        |_| true,
    )
    .expect_err("no such commit");
    assert_eq!(err.kind(), "UnknownRef", "{err}");
}

/// Every file under `dir`, recursively.
fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in fs::read_dir(dir).expect("read dir") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            files.extend(files_under(&path));
        } else {
            files.push(path);
        }
    }
    files
}

#[test]
fn a_user_name_in_the_url_is_written_nowhere_in_the_clone() {
    let f = fixture();
    let server = GitHttp::start(f.path.parent().expect("parent"), Serve::default());
    let url = server
        .url("source.git")
        .replace("http://", "http://t0ken-as-user@");
    let out = tempfile::tempdir().expect("tempdir");
    let outcome = clone_repository(
        &request(&url, None),
        &out.path().join("m"),
        &http_limits(),
        |_| true,
    )
    .expect("clone");
    assert_eq!(outcome.commit_sha, f.main.to_string());
    assert!(!format!("{outcome:?}").contains("t0ken-as-user"));
    for file in files_under(out.path()) {
        let bytes = fs::read(&file).expect("read");
        let text = String::from_utf8_lossy(&bytes);
        assert!(
            !text.contains("t0ken-as-user"),
            "{} holds the user name",
            file.display()
        );
    }
}

#[test]
fn smart_http_failures_are_typed() {
    let f = fixture();
    let root = f.path.parent().expect("parent");
    let server = GitHttp::start(root, Serve::default());
    let out = tempfile::tempdir().expect("tempdir");
    let dest = out.path().join("clone");

    let err = clone_repository(
        &request(&server.url("missing.git"), None),
        &dest,
        &http_limits(),
        |_| true,
    )
    .expect_err("404");
    assert_eq!(err.kind(), "NotFound", "{err}");
    assert!(!err.is_retryable());

    let limits = CloneLimits {
        max_bytes: 100,
        ..http_limits()
    };
    let err = clone_repository(
        &request(&server.url("source.git"), None),
        &dest,
        &limits,
        |_| true,
    )
    .expect_err("too large");
    assert_eq!(err.kind(), "TooLarge", "{err}");
    assert!(!dest.exists());
    drop(server);

    // A server that wants credentials: no token is ever sent over plain http, so this fails
    // at once as an authentication error instead of asking forever.
    let server = GitHttp::start(
        root,
        Serve {
            require_auth: true,
            ..Serve::default()
        },
    );
    let err = clone_repository(
        &request(&server.url("source.git"), None),
        &dest,
        &http_limits(),
        |_| true,
    )
    .expect_err("401");
    assert!(matches!(err, CloneError::Auth { .. }), "{err}");
    assert_eq!(err.kind(), "AuthFailed");
    assert!(!err.is_retryable());
    assert!(!dest.exists());
}

#[test]
fn a_local_source_lends_its_objects() {
    let f = fixture();
    let out = tempfile::tempdir().expect("tempdir");
    let dest = out.path().join("clone");
    let limits = CloneLimits {
        allow_local: true,
        ..CloneLimits::default()
    };
    let outcome =
        clone_repository(&request(path_url(&f), None), &dest, &limits, |_| true).expect("clone");
    assert_eq!(outcome.commit_sha, f.main.to_string());
    assert_eq!(outcome.bytes_received, 0, "nothing is transferred");
    // A new handle on the mirror (as the parse opens it) reads the borrowed objects.
    assert_eq!(
        file_at(&outcome, "README.md").as_deref(),
        Some(&b"one\n"[..])
    );
}
