//! A TCP link that delays every chunk a client sends before it reaches the server: a test puts
//! it between the host and a server to stretch a burst of writes over seconds, so that it can
//! act (kill the server) while they are under way, however fast the machine.

use std::{
    net::SocketAddr,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpListener, TcpStream},
};

/// Forwards `127.0.0.1:<port>` to an upstream address, delaying client-to-server chunks.
pub struct SlowLink {
    port: u16,
    delay_ms: Arc<AtomicU64>,
    accept: tokio::task::JoinHandle<()>,
}

impl SlowLink {
    /// Listen on a free loopback port; each accepted connection opens its own to `upstream`
    /// (a server down at that moment closes the client's connection, as the server would).
    pub async fn start(upstream: SocketAddr, delay: Duration) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let port = listener.local_addr().expect("local addr").port();
        let delay_ms = Arc::new(AtomicU64::new(delay.as_millis() as u64));
        let delay = delay_ms.clone();
        let accept = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                tokio::spawn(forward(client, upstream, delay.clone()));
            }
        });
        Self {
            port,
            delay_ms,
            accept,
        }
    }

    /// From now on, forward without delay (open connections too).
    pub fn speed_up(&self) {
        self.delay_ms.store(0, Ordering::Relaxed);
    }

    pub fn port(&self) -> u16 {
        self.port
    }
}

impl Drop for SlowLink {
    fn drop(&mut self) {
        self.accept.abort();
    }
}

async fn forward(client: TcpStream, upstream: SocketAddr, delay_ms: Arc<AtomicU64>) {
    let Ok(server) = TcpStream::connect(upstream).await else {
        return;
    };
    let (mut client_read, mut client_write) = client.into_split();
    let (mut server_read, mut server_write) = server.into_split();
    let up = async {
        let mut buffer = vec![0u8; 64 * 1024];
        while let Ok(n @ 1..) = client_read.read(&mut buffer).await {
            let delay = delay_ms.load(Ordering::Relaxed);
            if delay > 0 {
                tokio::time::sleep(Duration::from_millis(delay)).await;
            }
            if server_write.write_all(&buffer[..n]).await.is_err() {
                break;
            }
        }
        let _ = server_write.shutdown().await;
    };
    let down = async {
        let _ = tokio::io::copy(&mut server_read, &mut client_write).await;
        let _ = client_write.shutdown().await;
    };
    tokio::join!(up, down);
}
