//! Write throughput of the graph store, for `bench/graph_write.sh`: parses a repository, turns
//! it into graph rows, optionally exports the rows as JSON (for `bench/graph_load.py`, the
//! Python driver baseline), then writes them with `GraphStore::persist_graph` into each backend
//! given and prints one JSON line of figures per backend. Build it in release mode.
//!
//! ```sh
//! NEO4J_PASSWORD=… cargo run --release --example graph_bench -- ROOT \
//!     [--export rows.json] [--neo4j bolt://127.0.0.1:7687] [--embedded DIR] [--repo-id ID] \
//!     [--files-per-part N]
//! ```
//!
//! With `--files-per-part`, the embedded store is written a part of N files at a time, as a
//! full index writes it ([`Parts`]), and the time spent building the parts is printed apart.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use worker_host_indexing::graph::{
    GraphBackend, GraphRows, GraphSettings, GraphStore, Parts, RunKey,
};
use worker_host_indexing::parse::{ParseOptions, commit_directory, parse_repository};

/// The host's allocator (see `src/main.rs`), so the figures are the host's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

struct Args {
    root: PathBuf,
    export: Option<PathBuf>,
    neo4j: Option<String>,
    embedded: Option<PathBuf>,
    repo_id: String,
    files_per_part: Option<usize>,
}

fn parse_args() -> Result<Args, String> {
    let mut args = std::env::args().skip(1);
    let mut parsed = Args {
        root: PathBuf::new(),
        export: None,
        neo4j: None,
        embedded: None,
        repo_id: "bench".to_owned(),
        files_per_part: None,
    };
    let mut root = None;
    while let Some(arg) = args.next() {
        let mut value = || args.next().ok_or_else(|| format!("{arg} needs a value"));
        match arg.as_str() {
            "--export" => parsed.export = Some(PathBuf::from(value()?)),
            "--neo4j" => parsed.neo4j = Some(value()?),
            "--embedded" => parsed.embedded = Some(PathBuf::from(value()?)),
            "--repo-id" => parsed.repo_id = value()?,
            "--files-per-part" => {
                parsed.files_per_part = Some(value()?.parse().map_err(|e| format!("{e}"))?)
            }
            other if other.starts_with("--") => return Err(format!("unknown option {other}")),
            other => root = Some(PathBuf::from(other)),
        }
    }
    parsed.root = root.ok_or("ROOT is required")?;
    Ok(parsed)
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(args) => args,
        Err(e) => {
            eprintln!(
                "graph_bench: {e}\nusage: graph_bench ROOT [--export FILE] [--neo4j URI] [--embedded DIR] [--repo-id ID] [--files-per-part N]"
            );
            return ExitCode::from(2);
        }
    };
    match run(&args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("graph_bench: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: &Args) -> Result<(), String> {
    // A plain folder is committed to a scratch repository first, outside the timing.
    let scratch = tempfile::tempdir().map_err(|e| e.to_string())?;
    let repo = if git2::Repository::open(&args.root).is_ok() {
        args.root.clone()
    } else {
        let repo = scratch.path().join("snapshot.git");
        commit_directory(&args.root, &repo).map_err(|e| e.to_string())?;
        repo
    };
    let started = Instant::now();
    let output = parse_repository(&repo, "HEAD", &ParseOptions::default(), |_, _| {})
        .map_err(|e| e.to_string())?;
    let parse_s = started.elapsed().as_secs_f64();
    let started = Instant::now();
    let rows = std::sync::Arc::new(GraphRows::from_parse(&output));
    let rows_s = started.elapsed().as_secs_f64();
    println!(
        "{}",
        serde_json::json!({
            "stage": "rows", "files": output.files.len(), "nodes": rows.node_count(),
            "relationships": rows.relationship_count(), "parse_s": parse_s, "rows_s": rows_s,
        })
    );
    if let Some(path) = &args.export {
        let file = std::fs::File::create(path).map_err(|e| format!("{}: {e}", path.display()))?;
        serde_json::to_writer(std::io::BufWriter::new(file), &rows).map_err(|e| e.to_string())?;
    }
    if let Some(uri) = &args.neo4j {
        let settings = GraphSettings {
            backend: GraphBackend::Neo4j,
            uri: uri.clone(),
            ..GraphSettings::default()
        };
        write(&settings, Path::new("."), &args.repo_id, &rows).await?;
    }
    if let Some(dir) = &args.embedded {
        match args.files_per_part {
            None => write(&GraphSettings::default(), dir, &args.repo_id, &rows).await?,
            Some(n) => {
                drop(rows);
                write_parts(dir, &args.repo_id, &output, n).await?
            }
        }
    }
    Ok(())
}

/// Writes the rows into a fresh store of `settings` and prints the figures.
async fn write(
    settings: &GraphSettings,
    data_dir: &Path,
    repo_id: &str,
    rows: &std::sync::Arc<GraphRows>,
) -> Result<(), String> {
    let store = GraphStore::open(settings, data_dir)
        .await
        .map_err(|e| e.to_string())?;
    let started = Instant::now();
    let report = store
        .persist_graph(RunKey::new(repo_id, "bench-run"), rows, &|_, _| {})
        .await
        .map_err(|e| e.to_string())?;
    let seconds = started.elapsed().as_secs_f64();
    let elements = report.nodes + report.relationships;
    println!(
        "{}",
        serde_json::json!({
            "stage": "write", "backend": store.backend_name(), "nodes": report.nodes,
            "relationships": report.relationships, "batches": report.batches,
            "seconds": seconds, "elements_per_s": elements as f64 / seconds,
        })
    );
    Ok(())
}

/// Writes the graph a part of `files_per_part` files at a time, as a full index does.
async fn write_parts(
    data_dir: &Path,
    repo_id: &str,
    output: &worker_host_indexing::parse::ParseOutput,
    files_per_part: usize,
) -> Result<(), String> {
    let store = GraphStore::open(&GraphSettings::default(), data_dir)
        .await
        .map_err(|e| e.to_string())?;
    let started = Instant::now();
    let mut elements = 0;
    let mut build_s = 0.0;
    let mut parts = Parts::new(output, files_per_part);
    loop {
        let built = Instant::now();
        let Some(rows) = parts.next() else { break };
        build_s += built.elapsed().as_secs_f64();
        let report = store
            .persist_graph(
                RunKey::new(repo_id, "bench-run"),
                &std::sync::Arc::new(rows),
                &|_, _| {},
            )
            .await
            .map_err(|e| e.to_string())?;
        elements += report.nodes + report.relationships;
    }
    let seconds = started.elapsed().as_secs_f64();
    println!(
        "{}",
        serde_json::json!({
            "stage": "write-parts", "files_per_part": files_per_part, "elements": elements,
            "seconds": seconds, "build_s": build_s, "elements_per_s": elements as f64 / seconds,
        })
    );
    Ok(())
}
