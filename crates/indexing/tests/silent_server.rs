//! A server that accepts the connection and never answers holds a clone only as long as the
//! read timeout, over https, plain http and ssh alike — not the operating system's hour — and
//! the failure is a retryable network error. The servers are TCP listeners on 127.0.0.1.

use std::{
    net::{TcpListener, TcpStream},
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use worker_host_indexing::clone::{CloneLimits, CloneRequest, clone_repository};

/// Accepts connections on 127.0.0.1 and keeps them open without a byte.
struct Silent {
    port: u16,
    held: Arc<Mutex<Vec<TcpStream>>>,
}

impl Silent {
    fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let held = Arc::new(Mutex::new(Vec::new()));
        std::thread::spawn({
            let held = held.clone();
            move || {
                for stream in listener.incoming().flatten() {
                    held.lock().expect("lock").push(stream);
                }
            }
        });
        Self { port, held }
    }

    fn connections(&self) -> usize {
        self.held.lock().expect("lock").len()
    }
}

#[test]
fn a_silent_server_fails_the_clone_within_the_read_timeout() {
    let read_timeout = Duration::from_secs(2);
    let limits = CloneLimits {
        allow_http: true,
        connect_timeout: Duration::from_secs(2),
        read_timeout,
        ..CloneLimits::default()
    };
    for scheme in ["https", "http", "ssh"] {
        let server = Silent::start();
        let url = match scheme {
            "ssh" => format!("ssh://git@127.0.0.1:{}/o/r.git", server.port),
            _ => format!("{scheme}://127.0.0.1:{}/o/r.git", server.port),
        };
        let out = tempfile::tempdir().expect("tempdir");
        let request = CloneRequest {
            url,
            reference: None,
        };
        let started = Instant::now();
        let err = clone_repository(&request, &out.path().join("clone"), &limits, |_| true)
            .expect_err("the server never answers");
        let took = started.elapsed();
        assert!(
            server.connections() >= 1,
            "{scheme}: the server was reached"
        );
        assert_eq!(err.kind(), "Network", "{scheme}: {err}");
        assert!(err.is_retryable());
        assert!(
            took >= read_timeout - Duration::from_millis(100),
            "{scheme}: failed after {took:?}, before the timeout: {err}"
        );
        assert!(
            took < read_timeout * 5,
            "{scheme}: took {took:?} with a {read_timeout:?} read timeout"
        );
    }
}
