//! Indexing totals on `/metrics`: files parsed, graph nodes and relationships written, stale
//! graph elements deleted. Counters, so rates come from `rate()`.

use prometheus::{IntCounter, IntCounterVec, Opts};
use worker_host_core::status::HostStatus;

/// The indexing counters, registered once per host.
pub struct IndexingMetrics {
    files_parsed: IntCounter,
    written: IntCounterVec,
    stale_deleted: IntCounterVec,
}

impl IndexingMetrics {
    /// Create the counters and register them with the host's metrics.
    pub fn register(status: &HostStatus) -> Self {
        let metrics = Self {
            files_parsed: IntCounter::new(
                "worker_host_indexing_files_parsed_total",
                "Files parsed by parse_repo_activity",
            )
            .expect("valid metric"),
            written: per_element(
                "worker_host_indexing_graph_written_total",
                "Graph elements written by persist_kg_activity",
            ),
            stale_deleted: per_element(
                "worker_host_indexing_stale_deleted_total",
                "Graph elements of earlier runs deleted by cleanup_stale_kg_nodes_activity",
            ),
        };
        for collector in [
            Box::new(metrics.files_parsed.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(metrics.written.clone()),
            Box::new(metrics.stale_deleted.clone()),
        ] {
            if let Err(e) = status.register(collector) {
                tracing::error!(error = %e, "cannot register the indexing metrics");
            }
        }
        metrics
    }

    /// `n` more files parsed.
    pub fn parsed(&self, files: u64) {
        self.files_parsed.inc_by(files);
    }

    /// Nodes and relationships written.
    pub fn written(&self, nodes: u64, relationships: u64) {
        count(&self.written, nodes, relationships);
    }

    /// Nodes and relationships deleted as stale.
    pub fn deleted(&self, nodes: u64, relationships: u64) {
        count(&self.stale_deleted, nodes, relationships);
    }
}

/// A counter with an `element` label (`node` or `relationship`).
fn per_element(name: &str, help: &str) -> IntCounterVec {
    IntCounterVec::new(Opts::new(name, help), &["element"]).expect("valid metric")
}

fn count(counter: &IntCounterVec, nodes: u64, relationships: u64) {
    counter.with_label_values(&["node"]).inc_by(nodes);
    counter
        .with_label_values(&["relationship"])
        .inc_by(relationships);
}
