//! Throughput of the repository parser, for `bench/parse_throughput.sh`: `bare` only parses
//! the files the walk accepts with tree-sitter (no queries, no resolution), `full` runs
//! `parse_repository` end to end and writes its output. Both print one JSON line of figures.
//! Build it in release mode: debug builds are many times slower.
//!
//! ```sh
//! cargo run --release --example parse_bench -- full /path/to/repo 2 /tmp/out.jsonl
//! cargo run --release --example parse_bench -- bare /path/to/repo 2
//! ```

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use rayon::prelude::*;
use worker_host_indexing::parse::{ParseOptions, parse_repository, walk, write_output};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage = || {
        eprintln!("usage: parse_bench bare|full ROOT THREADS [OUTPUT]");
        ExitCode::from(2)
    };
    let [mode, root, threads, rest @ ..] = args.as_slice() else {
        return usage();
    };
    let (mode, root) = (mode.as_str(), PathBuf::from(root));
    let Ok(threads) = threads.parse() else {
        return usage();
    };
    let options = ParseOptions {
        threads,
        ..ParseOptions::default()
    };
    let result = match mode {
        "bare" => bare(&root, &options),
        "full" => full(&root, &options, rest.first().map(PathBuf::from)),
        other => Err(format!("unknown mode {other:?}: bare or full")),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("parse_bench: {message}");
            ExitCode::FAILURE
        }
    }
}

fn bare(root: &Path, options: &ParseOptions) -> Result<(), String> {
    let root = root.canonicalize().map_err(|e| e.to_string())?;
    let started = Instant::now();
    let walked = walk::walk(&root, options);
    let walked_secs = started.elapsed().as_secs_f64();
    let bytes = AtomicU64::new(0);
    let files = AtomicU64::new(0);
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(options.threads)
        .build()
        .map_err(|e| e.to_string())?;
    pool.install(|| {
        walked.candidates.par_iter().for_each_init(
            tree_sitter::Parser::new,
            |parser, candidate| {
                let Ok(source) = walk::read_source(candidate, options.max_file_bytes) else {
                    return;
                };
                if parser.set_language(&candidate.spec.grammar()).is_err() {
                    return;
                }
                if parser.parse(&source, None).is_some() {
                    files.fetch_add(1, Ordering::Relaxed);
                    bytes.fetch_add(source.len() as u64, Ordering::Relaxed);
                }
            },
        );
    });
    let secs = started.elapsed().as_secs_f64();
    println!(
        "{{\"mode\":\"bare\",\"threads\":{},\"files\":{},\"bytes\":{},\"walk_secs\":{walked_secs:.3},\"secs\":{secs:.3}}}",
        options.threads,
        files.into_inner(),
        bytes.into_inner(),
    );
    Ok(())
}

fn full(root: &Path, options: &ParseOptions, output: Option<PathBuf>) -> Result<(), String> {
    let started = Instant::now();
    let parsed = parse_repository(root, options, |_, _| {}).map_err(|e| e.to_string())?;
    let secs = started.elapsed().as_secs_f64();
    let mut output_bytes = 0;
    let mut write_secs = 0.0;
    if let Some(path) = output {
        let writing = Instant::now();
        write_output(&path, &parsed).map_err(|e| e.to_string())?;
        write_secs = writing.elapsed().as_secs_f64();
        output_bytes = std::fs::metadata(&path).map_err(|e| e.to_string())?.len();
    }
    let bytes: u64 = parsed.files.iter().map(|f| f.bytes).sum();
    let definitions: usize = parsed.files.iter().map(|f| f.definitions.len()).sum();
    let internal = |targets: &mut dyn Iterator<Item = &worker_host_indexing::parse::Target>| {
        targets
            .filter(|t| matches!(t, worker_host_indexing::parse::Target::Internal(_)))
            .count()
    };
    println!(
        "{{\"mode\":\"full\",\"threads\":{},\"files\":{},\"bytes\":{bytes},\"definitions\":{definitions},\"calls\":{},\"calls_internal\":{},\"imports\":{},\"imports_internal\":{},\"inherits\":{},\"inherits_internal\":{},\"skipped\":{},\"secs\":{secs:.3},\"write_secs\":{write_secs:.3},\"output_bytes\":{output_bytes}}}",
        options.threads,
        parsed.files.len(),
        parsed.calls.len(),
        internal(&mut parsed.calls.iter().map(|c| &c.target)),
        parsed.imports.len(),
        internal(&mut parsed.imports.iter().map(|i| &i.target)),
        parsed.inherits.len(),
        internal(&mut parsed.inherits.iter().map(|i| &i.target)),
        serde_json::to_string(&parsed.skipped).map_err(|e| e.to_string())?,
    );
    Ok(())
}
