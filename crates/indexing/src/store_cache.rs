//! The graph store the indexing activities share: opened when the host starts (in the
//! background, so the first run does not wait for the connection and the schema), else on first
//! use; kept while `[indexing.graph]` stays the same, reopened when a reload changes it.

use crate::{
    graph::{GraphError, GraphSettings, GraphStore},
    settings::IndexingSettings,
};
use std::{
    path::{Path, PathBuf},
    sync::Arc,
};
use tokio::sync::Mutex;
use worker_host_core::services::HostServices;

/// One open store and what it was opened with: the settings and the host's data folder.
#[derive(Default)]
pub struct StoreCache {
    open: Mutex<Option<(GraphSettings, PathBuf, Arc<GraphStore>)>>,
}

impl StoreCache {
    /// The store for `settings` (an embedded file relative to `data_dir`), opening it if
    /// needed. A failed open is not cached: the next activity tries again.
    pub async fn get(
        &self,
        settings: &GraphSettings,
        data_dir: &Path,
    ) -> Result<Arc<GraphStore>, GraphError> {
        let mut open = self.open.lock().await;
        if let Some((s, dir, store)) = open.as_ref()
            && s == settings
            && dir == data_dir
        {
            return Ok(store.clone());
        }
        let store = Arc::new(GraphStore::open(settings, data_dir).await?);
        tracing::info!(backend = store.backend_name(), "graph store open");
        *open = Some((settings.clone(), data_dir.to_owned(), store.clone()));
        Ok(store)
    }
}

/// Open the store of the host's current settings in the background. A failure is only logged:
/// the first activity that needs the store tries again (and reports it); an activity that comes
/// while this open is under way waits for it instead of opening a second connection.
pub fn open_in_background(
    stores: Arc<StoreCache>,
    services: &Arc<HostServices>,
) -> Option<tokio::task::JoinHandle<()>> {
    let runtime = tokio::runtime::Handle::try_current().ok()?;
    let settings = services.section::<IndexingSettings>().graph.clone();
    let data_dir = services.data_dir();
    Some(runtime.spawn(async move {
        if let Err(e) = stores.get(&settings, &data_dir).await {
            tracing::warn!(error = %e, "the graph store cannot be opened yet; the first run that needs it tries again");
        }
    }))
}
