//! Accepts the connections of the health and metrics endpoints, so that no client can keep them
//! from answering another: a client has [`HEADER_READ_TIMEOUT`] to send its request head (idle
//! keep-alive connections included), a request gets [`REQUEST_TIMEOUT`] to be answered, and at
//! most [`MAX_CONNECTIONS`] are open at once. When a new client comes at the limit, the oldest
//! connection that is not being answered (an idle or slow client) is closed to make room; when
//! every one is being answered, the new client is turned away.

use axum::{Router, http::StatusCode, response::IntoResponse};
use hyper::{server::conn::http1, service::service_fn};
use hyper_util::{
    rt::{TokioIo, TokioTimer},
    service::TowerToHyperService,
};
use std::{
    collections::BTreeMap,
    sync::{
        Arc, Mutex, MutexGuard,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;

/// Connections open at once, at most.
pub const MAX_CONNECTIONS: usize = 64;
/// Time a client has to send a request head, from the connection's start or its last answer.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(5);
/// Time an answer may take; a slower one is replaced by a 503.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// Pause after a failed accept (out of file descriptors, ...), so the loop does not spin.
const ACCEPT_RETRY: Duration = Duration::from_millis(100);

/// One open connection: whether a request of it is being answered, and how to close it.
struct Open {
    busy: Arc<AtomicBool>,
    close: CancellationToken,
}

/// The open connections, oldest first.
#[derive(Default)]
struct Table {
    next_id: u64,
    open: BTreeMap<u64, Open>,
}

#[derive(Default, Clone)]
struct Connections(Arc<Mutex<Table>>);

impl Connections {
    fn table(&self) -> MutexGuard<'_, Table> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A place for a new connection: its id, busy flag and close token. At the limit the oldest
    /// idle connection is closed first; `None` when every open one is being answered.
    fn admit(&self) -> Option<(u64, Arc<AtomicBool>, CancellationToken)> {
        let mut table = self.table();
        if table.open.len() >= MAX_CONNECTIONS {
            let idle = table
                .open
                .iter()
                .find(|(_, c)| !c.busy.load(Ordering::Acquire))
                .map(|(id, _)| *id)?;
            if let Some(evicted) = table.open.remove(&idle) {
                evicted.close.cancel();
            }
        }
        let id = table.next_id;
        table.next_id += 1;
        let open = Open {
            busy: Arc::default(),
            close: CancellationToken::new(),
        };
        let handles = (id, open.busy.clone(), open.close.clone());
        table.open.insert(id, open);
        Some(handles)
    }

    fn remove(&self, id: u64) {
        self.table().open.remove(&id);
    }
}

/// Marks a connection busy while one of its requests is answered.
struct Busy(Arc<AtomicBool>);

impl Busy {
    fn new(flag: Arc<AtomicBool>) -> Self {
        flag.store(true, Ordering::Release);
        Self(flag)
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        self.0.store(false, Ordering::Release);
    }
}

/// Accept connections on `listener` and answer them with `app`, for as long as the process runs.
pub async fn run(listener: TcpListener, app: Router) {
    let connections = Connections::default();
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(e) => {
                tracing::warn!(error = %e, "cannot accept a health or metrics connection");
                tokio::time::sleep(ACCEPT_RETRY).await;
                continue;
            }
        };
        match connections.admit() {
            Some((id, busy, close)) => {
                let connections = connections.clone();
                let app = app.clone();
                tokio::spawn(async move {
                    tokio::select! {
                        _ = serve(stream, app, busy) => {}
                        _ = close.cancelled() => {}
                    }
                    connections.remove(id);
                });
            }
            None => tracing::debug!(
                limit = MAX_CONNECTIONS,
                "health and metrics connection turned away: every connection is being answered"
            ),
        }
    }
}

/// Answer the requests of one connection until the client closes it or a limit runs out.
async fn serve(stream: TcpStream, app: Router, busy: Arc<AtomicBool>) {
    let app = TowerToHyperService::new(app);
    let service = service_fn(move |request| {
        let guard = Busy::new(busy.clone());
        let answer = hyper::service::Service::call(&app, request);
        async move {
            let _guard = guard;
            match tokio::time::timeout(REQUEST_TIMEOUT, answer).await {
                Ok(response) => response,
                Err(_) => {
                    Ok((StatusCode::SERVICE_UNAVAILABLE, "request timed out\n").into_response())
                }
            }
        }
    });
    let connection = http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT)
        .serve_connection(TokioIo::new(stream), service);
    if let Err(e) = connection.await {
        tracing::debug!(error = %e, "health and metrics connection closed");
    }
}
