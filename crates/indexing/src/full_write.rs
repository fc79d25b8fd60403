//! The graph of a whole parse output written into the store a part of `files_per_part` files
//! (`[indexing.graph]`) at a time ([`Parts`]), so the rows held at once are one part's, not the
//! repository's; the output itself stays in memory (every part's lookups need all
//! definitions). On Neo4j, a write of more than one part writes every part's nodes first and
//! builds the parts again for their relationships (a relationship is matched by its ends). Runs
//! on a blocking thread; the store's async calls are driven from it.

use crate::{
    failure::{PARSE_OUTPUT_UNREADABLE, of_graph, transient},
    graph::{GraphRows, GraphStore, Parts, RunKey, WriteReport},
    last_run::drop_after_full_run,
    parse::read_output_edges,
    progress::Counters,
};
use std::{path::Path, sync::Arc};
use temporalio_sdk::activities::ActivityError;
use tokio::runtime::Handle;

/// Which rows of a part a pass writes.
#[derive(Clone, Copy, PartialEq)]
enum Pass {
    All,
    Nodes,
    Relationships,
}

/// Write the graph of the parse output at `path` as `run`'s, `files_per_part` files at a time,
/// reporting progress in `counters` (the total grows part by part); returns what was written.
pub fn write_parse_output(
    store: &GraphStore,
    path: &Path,
    run: RunKey<'_>,
    files_per_part: usize,
    counters: &Counters,
    runtime: &Handle,
) -> Result<WriteReport, ActivityError> {
    let output =
        read_output_edges(path).map_err(|e| transient(PARSE_OUTPUT_UNREADABLE, e.to_string()))?;
    let into_empty = runtime
        .block_on(store.begin_graph_write(run))
        .map_err(of_graph)?;
    let parts = Parts::new(&output, files_per_part);
    let passes: &[Pass] = if parts.len() > 1 && store.needs_nodes_first() {
        &[Pass::Nodes, Pass::Relationships]
    } else {
        &[Pass::All]
    };
    let mut report = WriteReport {
        into_empty,
        ..WriteReport::default()
    };
    let mut parts = Some(parts);
    for &pass in passes {
        let parts = parts
            .take()
            .unwrap_or_else(|| Parts::new(&output, files_per_part));
        for rows in parts {
            if counters.stop_requested() {
                return Err(ActivityError::cancelled());
            }
            let rows = Arc::new(only(rows, pass));
            let before = report.nodes + report.relationships;
            let progress = |done, total| counters.set(before + done, before + total);
            let part = runtime
                .block_on(store.write_graph_part(run, &rows, into_empty, &progress))
                .map_err(of_graph)?;
            report.add(part);
        }
    }
    // Freeing a big output takes a while; the answer need not wait for it.
    let files = output.files.len();
    drop_after_full_run(output, files);
    Ok(report)
}

/// The rows of `rows` that `pass` writes.
fn only(rows: GraphRows, pass: Pass) -> GraphRows {
    match pass {
        Pass::All => rows,
        Pass::Nodes => GraphRows {
            nodes: rows.nodes,
            ..GraphRows::default()
        },
        Pass::Relationships => GraphRows {
            relationships: rows.relationships,
            ..GraphRows::default()
        },
    }
}
