//! The graph store the indexing activities share: opened on first use (connection and schema),
//! kept while `[indexing.graph]` stays the same, reopened when a reload changes it.

use crate::graph::{GraphError, GraphSettings, GraphStore};
use std::{path::Path, sync::Arc};
use tokio::sync::Mutex;

/// One open store and the settings it was opened with.
#[derive(Default)]
pub struct StoreCache {
    open: Mutex<Option<(GraphSettings, Arc<GraphStore>)>>,
}

impl StoreCache {
    /// The store for `settings`, opening it if needed. A failed open is not cached: the next
    /// activity tries again.
    pub async fn get(
        &self,
        settings: &GraphSettings,
        data_dir: &Path,
    ) -> Result<Arc<GraphStore>, GraphError> {
        let mut open = self.open.lock().await;
        if let Some((s, store)) = open.as_ref()
            && s == settings
        {
            return Ok(store.clone());
        }
        let store = Arc::new(GraphStore::open(settings, data_dir).await?);
        tracing::info!(backend = store.backend_name(), "graph store open");
        *open = Some((settings.clone(), store.clone()));
        Ok(store)
    }
}
