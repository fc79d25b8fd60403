//! Turns edits of the config file and SIGHUP into one stream of reload requests. The directory
//! is watched, not the file, because editors save by writing a new file and renaming it; the
//! events of one save (and of saves within the same window) become one request.

use anyhow::{Context, Result};
use notify::{RecursiveMode, Watcher as _};
use std::{
    path::{Path, PathBuf},
    time::Duration,
};
use tokio::sync::mpsc;

/// Time from the first file event of a burst to the reload request; later events of the
/// window join the same request.
pub const DEBOUNCE: Duration = Duration::from_millis(150);

/// Why a reload was requested.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ReloadTrigger {
    /// The config file changed on disk.
    FileChanged,
    /// Someone sent SIGHUP.
    Sighup,
}

/// Reload requests; dropping it stops the watching.
pub struct ReloadRequests {
    rx: mpsc::Receiver<ReloadTrigger>,
    _watcher: Option<notify::RecommendedWatcher>,
}

impl ReloadRequests {
    /// Watch `config` (when `watch_file`) and SIGHUP.
    pub fn start(config: &Path, watch_file: bool) -> Result<Self> {
        let (tx, rx) = mpsc::channel(16);
        let watcher = if watch_file {
            Some(watch(config, tx.clone())?)
        } else {
            None
        };
        let mut hup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())?;
        tokio::spawn(async move {
            while hup.recv().await.is_some() {
                if tx.send(ReloadTrigger::Sighup).await.is_err() {
                    break;
                }
            }
        });
        Ok(Self {
            rx,
            _watcher: watcher,
        })
    }

    /// The next request (pending forever once the sources are gone).
    pub async fn next(&mut self) -> ReloadTrigger {
        match self.rx.recv().await {
            Some(t) => t,
            None => std::future::pending().await,
        }
    }
}

fn watch(config: &Path, tx: mpsc::Sender<ReloadTrigger>) -> Result<notify::RecommendedWatcher> {
    let file = std::path::absolute(config)
        .with_context(|| format!("cannot resolve {}", config.display()))?;
    let dir = file
        .parent()
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf);
    let (raw_tx, mut raw_rx) = mpsc::unbounded_channel::<()>();
    let name = file.file_name().map(ToOwned::to_owned);
    let mut watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
        if let Ok(event) = event
            && !event.kind.is_access()
            && event.paths.iter().any(|p| p.file_name() == name.as_deref())
        {
            let _ = raw_tx.send(());
        }
    })
    .context("cannot start the config file watcher")?;
    watcher
        .watch(&dir, RecursiveMode::NonRecursive)
        .with_context(|| format!("cannot watch {}", dir.display()))?;
    tokio::spawn(async move {
        while raw_rx.recv().await.is_some() {
            // Collect the rest of the burst for a fixed window, so that a stream of saves still
            // reloads every DEBOUNCE instead of waiting for a quiet moment.
            tokio::time::sleep(DEBOUNCE).await;
            while raw_rx.try_recv().is_ok() {}
            if tx.send(ReloadTrigger::FileChanged).await.is_err() {
                break;
            }
        }
    });
    Ok(watcher)
}
