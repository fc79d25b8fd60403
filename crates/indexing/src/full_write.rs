//! The graph of a whole parse output written into the store a part of `files_per_part` files
//! (`[indexing.graph]`) at a time ([`Parts`]), so the rows held at once are a part's, not the
//! repository's; the output itself stays in memory (every part's lookups need all
//! definitions). The next part's rows are built on a thread of their own while a part is
//! written. On Neo4j, a write of more than one part writes every part's nodes first and builds
//! the parts again for their relationships (a relationship is matched by its ends); on the
//! embedded store, which writes a part's relationships with its nodes, a part is at most
//! [`BUILT_WHILE_WRITING`] files (or an eighth of the repository, whichever is more), so that
//! most of the building is done while writing. Runs on a blocking thread; the store's async
//! calls are driven from it.

use crate::{
    failure::of_graph,
    graph::{GraphRows, GraphStore, Parts, RunKey, WriteReport},
    last_run::drop_after_full_run,
    parse::ParseOutput,
    progress::Counters,
};
use std::sync::{Arc, mpsc};
use temporalio_sdk::activities::ActivityError;
use tokio::runtime::Handle;

/// At most this many files per part on a store that writes a part's nodes and relationships
/// together: a part is built while the one before is written.
const BUILT_WHILE_WRITING: usize = 200;
/// But no more parts than this for that: each part's rows are picked from a walk over the
/// whole output, so many small parts of a big repository cost more than they save.
const MAX_PARTS_BUILT_WHILE_WRITING: usize = 8;

/// Which rows of a part a pass writes.
#[derive(Clone, Copy, PartialEq)]
enum Pass {
    All,
    Nodes,
    Relationships,
}

/// Write the graph of `output` as `run`'s, `files_per_part` files at a time, reporting progress
/// in `counters` (the total grows part by part); returns what was written.
pub fn write_parse_output(
    store: &GraphStore,
    output: ParseOutput,
    run: RunKey<'_>,
    files_per_part: usize,
    counters: &Counters,
    runtime: &Handle,
) -> Result<WriteReport, ActivityError> {
    let into_empty = runtime
        .block_on(store.begin_graph_write(run))
        .map_err(of_graph)?;
    let files_per_part = match store.needs_nodes_first() {
        true => files_per_part.max(1),
        false => {
            let overlapped = output.files.len().div_ceil(MAX_PARTS_BUILT_WHILE_WRITING);
            files_per_part
                .min(overlapped.max(BUILT_WHILE_WRITING))
                .max(1)
        }
    };
    let passes: &[Pass] = if output.files.len() > files_per_part && store.needs_nodes_first() {
        &[Pass::Nodes, Pass::Relationships]
    } else {
        &[Pass::All]
    };
    let mut report = WriteReport {
        into_empty,
        ..WriteReport::default()
    };
    for &pass in passes {
        std::thread::scope(|scope| {
            // One part waits while one is written: two parts' rows at most.
            let (built, parts) = mpsc::sync_channel(1);
            let output = &output;
            scope.spawn(move || {
                for rows in Parts::new(output, files_per_part) {
                    // A closed channel: the write stopped.
                    if built.send(only(rows, pass)).is_err() {
                        return;
                    }
                }
            });
            for rows in parts {
                if counters.stop_requested() {
                    return Err(ActivityError::cancelled());
                }
                let rows = Arc::new(rows);
                let before = report.nodes + report.relationships;
                let progress = |done, total| counters.set(before + done, before + total);
                let part = runtime
                    .block_on(store.write_graph_part(run, &rows, into_empty, &progress))
                    .map_err(of_graph)?;
                report.add(part);
            }
            Ok(())
        })?;
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
