//! Neo4j SIGKILLed while the run writes its graph (a write transaction open), then started
//! again on its data folder (Neo4j recovers from its transaction log): the run's writes are
//! retried until Neo4j answers, the run completes, and the graph equals a clean index — no
//! duplicate, no stale node.
//!
//! The host reaches Neo4j through a [`SlowLink`] and writes in small transactions, so that the
//! graph write lasts seconds on any machine and the kill lands in the middle of it.

mod common;

use common::indexer::{
    Indexer, Store, config, on_graph, repo_of, small_transactions, start_indexing,
    wait_for_describe, wait_for_progress,
};
use common::neo4j::PrivateNeo4j;
use common::slow_link::SlowLink;
use common::{client, temporal_address, unique};
use std::time::Duration;
use worker_host::graph::{GraphBackend, GraphSettings, GraphStore};

/// Python modules of the indexed repository: enough graph writes to kill Neo4j among them.
const MODULES: usize = 1000;
/// Rows per write transaction: about 220 transactions for the graph of `MODULES`.
const ROWS_PER_TRANSACTION: usize = 50;
/// Added to every chunk the host sends to Neo4j: at least ~10 s for the whole write.
const LINK_DELAY: Duration = Duration::from_millis(50);

#[tokio::test(flavor = "multi_thread")]
async fn a_run_survives_neo4j_killed_mid_write() {
    let neo4j = PrivateNeo4j::start();
    let repo = repo_of(MODULES);
    let began = std::time::Instant::now();
    let queue = unique("neokill");
    let link = SlowLink::start(neo4j.address(), LINK_DELAY).await;
    let graph_toml = format!(
        "backend = \"neo4j\"\nuri = \"bolt://127.0.0.1:{}\"\n",
        link.port()
    );
    let text = small_transactions(
        &on_graph(&config(&queue, Store::Embedded), &graph_toml),
        ROWS_PER_TRANSACTION,
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let address = temporal_address();
    let indexer = Indexer::start_with(dir, &queue, &text, Store::Neo4j, &address);

    let client = client().await;
    let (repo_id, workflow_id) =
        start_indexing(&client, &queue, repo.path(), "neokill", (5, 60)).await;
    let at_kill = wait_for_progress(
        &address,
        &workflow_id,
        "graph writes under way",
        Duration::from_secs(90),
        |p| {
            p["stage"] == "persisting_graph"
                && p["elements_written"].as_u64() > Some(0)
                && p["elements_written"].as_u64() < p["elements_total"].as_u64()
        },
    );
    eprintln!("{:?}: killing Neo4j at {at_kill}", began.elapsed());
    neo4j.kill();
    link.speed_up();
    // The store's own error kind is the failure type of the retried attempts.
    wait_for_describe(&address, &workflow_id, "GraphUnreachable");
    eprintln!(
        "{:?}: writes fail with GraphUnreachable; starting Neo4j",
        began.elapsed()
    );
    neo4j.up();
    eprintln!("{:?}: Neo4j is back", began.elapsed());

    let summary = common::result_within(&client, &workflow_id, Duration::from_secs(180))
        .await
        .unwrap_or_else(|e| {
            panic!(
                "{e}\nkilled at {at_kill}\nhost log:\n{}",
                indexer.host.log()
            )
        });
    eprintln!("{:?}: the run completed", began.elapsed());
    assert_eq!(summary["files"], MODULES + 1, "{summary:#}");

    let fresh = unique("clean");
    indexer.index_ok(repo.path(), &fresh);
    let settings = GraphSettings {
        uri: neo4j.uri(),
        backend: GraphBackend::Neo4j,
        ..GraphSettings::default()
    };
    eprintln!("{:?}: clean index done", began.elapsed());
    let store = GraphStore::open(&settings, &indexer.data_dir())
        .await
        .expect("open the graph store");
    assert_eq!(
        store.dump(&repo_id).await.expect("dump"),
        store.dump(&fresh).await.expect("dump"),
        "the graph equals a clean index: no duplicate, no stale node"
    );
}
