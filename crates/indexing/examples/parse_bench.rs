//! Throughput of the repository parser, for `bench/parse_throughput.sh`: `bare` only parses
//! the files the walk accepts with tree-sitter (no queries, no resolution), `full` runs
//! `parse_repository` end to end and writes its output (and times reading it back as the
//! write stage does). For `bench/parse_nesting.sh`, `nested`
//! parses one JavaScript file of LEVELS nested named functions (each calling itself), with the
//! default limits (but no size limit) or, with `unbounded`, none. `incremental` times what the
//! parse activity of a one-file re-index does after a full parse: ROUNDS times, parse again
//! reusing every file's facts but one's (which is parsed), then the digest of the rows and the
//! delta (the rows of the affected files); it prints the median of each step. Each mode
//! prints one JSON line of figures.
//! ROOT is a git repository (its `HEAD` is parsed) or a plain folder (committed to a scratch
//! repository first, outside the timing).
//! Build it in release mode: debug builds are many times slower.
//!
//! ```sh
//! cargo run --release --example parse_bench -- full /path/to/repo 2 /tmp/out.jsonl
//! cargo run --release --example parse_bench -- bare /path/to/repo 2
//! cargo run --release --example parse_bench -- nested 10000 1 [unbounded]
//! cargo run --release --example parse_bench -- incremental /path/to/repo 2 [ROUNDS]
//! ```

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use rayon::prelude::*;
use worker_host_indexing::graph::RowLookups;
use worker_host_indexing::incremental::{CachedFacts, RowsDigest, delta, tree_blobs};
use worker_host_indexing::memory::drop_in_background;
use worker_host_indexing::parse::{
    ParseOptions, commit_directory, parse_repository, parse_repository_reusing, read_output_edges,
    walk, write_output,
};

/// The host's allocator (see `src/main.rs`), so the figures are the host's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage = || {
        eprintln!(
            "usage: parse_bench bare|full ROOT THREADS [OUTPUT] | nested LEVELS THREADS [unbounded] \
             | incremental ROOT THREADS [ROUNDS]"
        );
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
        "nested" => match root.to_str().map(str::parse) {
            Some(Ok(levels)) => nested(levels, options, rest.first().map(String::as_str)),
            _ => return usage(),
        },
        "incremental" => match rest.first().map_or(Ok(5), |r| r.parse()) {
            Ok(rounds) => incremental(&root, &options, rounds),
            Err(_) => return usage(),
        },
        other => Err(format!(
            "unknown mode {other:?}: bare, full, nested or incremental"
        )),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("parse_bench: {message}");
            ExitCode::FAILURE
        }
    }
}

/// The repository to parse: `root` itself when it is one, else a snapshot of the folder in a
/// scratch repository (which lives as long as the returned guard).
fn repository(root: &Path) -> Result<(PathBuf, Option<tempfile::TempDir>), String> {
    if git2::Repository::open(root).is_ok() {
        return Ok((root.to_owned(), None));
    }
    let scratch = tempfile::tempdir().map_err(|e| e.to_string())?;
    let repo = scratch.path().join("snapshot.git");
    commit_directory(root, &repo).map_err(|e| e.to_string())?;
    Ok((repo, Some(scratch)))
}

fn bare(root: &Path, options: &ParseOptions) -> Result<(), String> {
    let (root, _scratch) = repository(root)?;
    let started = Instant::now();
    let cpu_before = cpu_secs();
    let repo = git2::Repository::open(&root).map_err(|e| e.to_string())?;
    let tree = repo
        .head()
        .and_then(|head| head.peel_to_tree())
        .map_err(|e| e.to_string())?;
    let walked = walk::walk(&repo, &tree, options);
    let blobs = walk::BlobReader::new(&repo);
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
                let Ok(source) = blobs.read_source(candidate) else {
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
    let cpu = cpu_secs() - cpu_before;
    println!(
        "{{\"mode\":\"bare\",\"threads\":{},\"files\":{},\"bytes\":{},\"walk_secs\":{walked_secs:.3},\"secs\":{secs:.3},\"cpu_secs\":{cpu:.3}}}",
        options.threads,
        files.into_inner(),
        bytes.into_inner(),
    );
    Ok(())
}

fn incremental(root: &Path, options: &ParseOptions, rounds: usize) -> Result<(), String> {
    let (root, _scratch) = repository(root)?;
    let error = |e: &dyn std::fmt::Display| e.to_string();
    let first = parse_repository_reusing(&root, "HEAD", options, |_| None, |_| true, |_, _| {})
        .map_err(|e| error(&e))?;
    let blobs = tree_blobs(&root, "HEAD").map_err(|e| error(&e))?;
    let old = RowsDigest::of(&RowLookups::new(&first.output)).ok_or("no digest of the rows")?;
    let Some(changed) = first.unresolved.get(first.unresolved.len() / 2) else {
        return Err("no file to parse".into());
    };
    let changed = changed.path.clone();
    let cached = CachedFacts {
        blobs: blobs.clone(),
        files: first
            .unresolved
            .iter()
            .map(|f| (f.path.clone(), f.clone()))
            .collect(),
        ..CachedFacts::default()
    };
    drop(first);
    let mut steps: [Vec<f64>; 4] = Default::default();
    let mut affected = 0;
    for _ in 0..rounds {
        let started = Instant::now();
        let reuse = |path: &str| (path != changed).then(|| cached.reusable(path, &blobs))?;
        let parsed = parse_repository_reusing(&root, "HEAD", options, reuse, |_| true, |_, _| {})
            .map_err(|e| error(&e))?;
        let parsed_at = started.elapsed().as_secs_f64();
        let lookups = RowLookups::new(&parsed.output);
        let new = RowsDigest::of(&lookups).ok_or("no digest of the rows")?;
        let digest_at = started.elapsed().as_secs_f64();
        let delta = delta(&old, &lookups, &new).ok_or("too many affected files")?;
        affected = delta.affected_files.len();
        let total = started.elapsed().as_secs_f64();
        steps[0].push(parsed_at);
        steps[1].push(digest_at - parsed_at);
        steps[2].push(total - digest_at);
        steps[3].push(total);
        drop(lookups);
        drop_in_background((parsed, delta));
    }
    let [parse, digest, delta, total] = steps.map(|mut secs| {
        secs.sort_by(f64::total_cmp);
        secs.get(secs.len() / 2).copied().unwrap_or_default()
    });
    println!(
        "{{\"mode\":\"incremental\",\"threads\":{},\"files\":{},\"rounds\":{rounds},\"affected\":{affected},\"parse_secs\":{parse:.3},\"digest_secs\":{digest:.3},\"delta_secs\":{delta:.3},\"secs\":{total:.3}}}",
        options.threads,
        cached.files.len(),
    );
    Ok(())
}

fn full(root: &Path, options: &ParseOptions, output: Option<PathBuf>) -> Result<(), String> {
    let (root, _scratch) = repository(root)?;
    let started = Instant::now();
    let cpu_before = cpu_secs();
    let parsed = parse_repository(&root, "HEAD", options, |_, _| {}).map_err(|e| e.to_string())?;
    let secs = started.elapsed().as_secs_f64();
    let cpu = cpu_secs() - cpu_before;
    let mut output_bytes = 0;
    let mut write_secs = 0.0;
    let mut read_secs = 0.0;
    if let Some(path) = output {
        let writing = Instant::now();
        write_output(&path, &parsed).map_err(|e| e.to_string())?;
        write_secs = writing.elapsed().as_secs_f64();
        output_bytes = std::fs::metadata(&path).map_err(|e| e.to_string())?.len();
        let reading = Instant::now();
        let read = read_output_edges(&path).map_err(|e| e.to_string())?;
        read_secs = reading.elapsed().as_secs_f64();
        if read.calls.len() != parsed.calls.len() {
            return Err(format!(
                "read back {} calls of {}",
                read.calls.len(),
                parsed.calls.len()
            ));
        }
    }
    let bytes: u64 = parsed.files.iter().map(|f| f.bytes).sum();
    let definitions: usize = parsed.files.iter().map(|f| f.definitions.len()).sum();
    let internal = |targets: &mut dyn Iterator<Item = &worker_host_indexing::parse::Target>| {
        targets
            .filter(|t| matches!(t, worker_host_indexing::parse::Target::Internal(_)))
            .count()
    };
    println!(
        "{{\"mode\":\"full\",\"threads\":{},\"files\":{},\"bytes\":{bytes},\"definitions\":{definitions},\"calls\":{},\"calls_internal\":{},\"imports\":{},\"imports_internal\":{},\"inherits\":{},\"inherits_internal\":{},\"skipped\":{},\"secs\":{secs:.3},\"cpu_secs\":{cpu:.3},\"write_secs\":{write_secs:.3},\"read_secs\":{read_secs:.3},\"output_bytes\":{output_bytes}}}",
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

/// CPU seconds (user and system) of the whole process so far, all threads.
fn cpu_secs() -> f64 {
    let mut usage = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: getrusage fills the struct it is given; RUSAGE_SELF is always valid.
    if unsafe { libc::getrusage(libc::RUSAGE_SELF, usage.as_mut_ptr()) } != 0 {
        return 0.0;
    }
    // SAFETY: initialised by the successful call above.
    let usage = unsafe { usage.assume_init() };
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    secs(usage.ru_utime) + secs(usage.ru_stime)
}

/// A kB figure of `/proc/self/status` (`VmHWM`: peak RSS, `VmRSS`: RSS now).
fn status_kib(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status.lines().find_map(|line| {
                let value = line.strip_prefix(field)?.strip_prefix(':')?;
                value.trim().trim_end_matches("kB").trim().parse().ok()
            })
        })
        .unwrap_or(0)
}

fn nested(levels: usize, mut options: ParseOptions, limits: Option<&str>) -> Result<(), String> {
    let unbounded = match limits {
        None => false,
        Some("unbounded") => true,
        Some(other) => return Err(format!("unknown limits {other:?}: unbounded or nothing")),
    };
    // 50,000 levels are more than 1 MiB: the size limit is lifted, to see the others at work.
    options.max_file_bytes = u64::MAX;
    if unbounded {
        options.max_nesting = usize::MAX;
        options.max_name_bytes = usize::MAX;
        options.max_facts = usize::MAX;
        options.file_timeout = None;
    }
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let opens: String = (0..levels)
        .map(|i| format!("function f{i}() {{ f{i}();\n"))
        .collect();
    let text = opens + &"}\n".repeat(levels);
    let bytes = text.len();
    let folder = dir.path().join("files");
    std::fs::create_dir(&folder).map_err(|e| e.to_string())?;
    std::fs::write(folder.join("deep.js"), text).map_err(|e| e.to_string())?;
    let repo = dir.path().join("snapshot.git");
    commit_directory(&folder, &repo).map_err(|e| e.to_string())?;
    let rss_before = status_kib("VmRSS");
    let started = Instant::now();
    let parsed = parse_repository(&repo, "HEAD", &options, |_, _| {}).map_err(|e| e.to_string())?;
    let secs = started.elapsed().as_secs_f64();
    let outcome = match (parsed.files.first(), parsed.skipped_files.first()) {
        (Some(file), _) => format!("indexed {} definitions", file.definitions.len()),
        (None, Some(skipped)) => format!("skipped {:?}", skipped.reason),
        (None, None) => "missing".to_owned(),
    };
    drop(parsed);
    println!(
        "{{\"mode\":\"nested\",\"levels\":{levels},\"unbounded\":{unbounded},\"bytes\":{bytes},\"secs\":{secs:.3},\"peak_rss_kib\":{},\"rss_before_kib\":{rss_before},\"rss_after_kib\":{},\"outcome\":\"{outcome}\"}}",
        status_kib("VmHWM"),
        status_kib("VmRSS"),
    );
    Ok(())
}
