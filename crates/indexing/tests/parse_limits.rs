//! Hostile repository contents stay cheap: a deeply nested file of each language family, just
//! under the default `max_file_bytes` (1 MiB), is parsed in bounded time and memory, and is
//! either indexed or skipped with a reason. This binary holds one test, so the process's peak
//! RSS (`VmHWM`) is what these files cost.

use std::time::{Duration, Instant};

use worker_host_indexing::parse::{ParseOptions, SkipReason, commit_directory, parse_repository};

/// Peak RSS allowed for the whole test process.
const MAX_PEAK_RSS_KIB: u64 = 512 * 1024;
/// Wall time allowed for one file (a debug build on a busy machine).
const MAX_SECS_PER_FILE: u64 = 60;
/// Every file is at least this large: close to the 1 MiB default limit.
const MIN_BYTES: usize = 900 * 1024;
const MAX_BYTES: usize = 1024 * 1024;

/// `open(i)` and `close(i)` repeated as deep as the budget of bytes allows: `open(0) open(1)
/// ... close(1) close(0)`.
fn nested(header: &str, open: impl Fn(usize) -> String, close: impl Fn(usize) -> String) -> String {
    let mut opens = String::from(header);
    let mut closes = Vec::new();
    let mut size = opens.len();
    for level in 0.. {
        let (o, c) = (open(level), close(level));
        if size + o.len() + c.len() > MAX_BYTES - 64 {
            break;
        }
        size += o.len() + c.len();
        opens.push_str(&o);
        closes.push(c);
    }
    closes.reverse();
    opens + &closes.concat()
}

/// One deeply nested file per language family, as (path, text).
fn hostile_files() -> Vec<(&'static str, String)> {
    let brace = |_| "}\n".to_owned();
    vec![
        (
            "deep.js",
            nested("", |i| format!("function f{i}() {{ f{i}();\n"), brace),
        ),
        (
            "deep.ts",
            nested(
                "",
                |i| format!("namespace n{i} {{ class C{i} {{}}\n"),
                brace,
            ),
        ),
        (
            "deep.py",
            nested(
                "",
                |i| format!("{}def f{i}():\n", " ".repeat(i)),
                |_| String::new(),
            ),
        ),
        (
            "deep.rs",
            nested("", |i| format!("mod m{i} {{ fn f{i}() {{ g(); }}\n"), brace),
        ),
        (
            "Deep.java",
            nested(
                "",
                |i| format!("class C{i} {{ void f() {{ g(); }}\n"),
                brace,
            ),
        ),
        (
            "deep.go",
            nested(
                "package p\nfunc f() {\n",
                |_| "g(func() {\n".to_owned(),
                |_| "})\n".to_owned(),
            ) + "}\n",
        ),
    ]
}

fn peak_rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM in /proc/self/status")
}

#[test]
fn deeply_nested_files_cost_bounded_time_and_memory() {
    let options = ParseOptions {
        threads: 1,
        ..ParseOptions::default()
    };
    for (path, text) in hostile_files() {
        assert!(
            (MIN_BYTES..=MAX_BYTES).contains(&text.len()),
            "{path}: {} bytes",
            text.len()
        );
        let dir = tempfile::tempdir().expect("temp dir");
        let files = dir.path().join("files");
        std::fs::create_dir(&files).expect("mkdir");
        std::fs::write(files.join(path), &text).expect("write");
        drop(text);
        let repo = dir.path().join("snapshot.git");
        commit_directory(&files, &repo).expect("commit");
        let started = Instant::now();
        let output = parse_repository(&repo, "HEAD", &options, |_, _| {}).expect("parse");
        let took = started.elapsed();
        let outcome = outcome(&output, path);
        eprintln!(
            "{path}: {outcome} in {took:.2?}, peak RSS so far {} MiB",
            peak_rss_kib() / 1024
        );
        assert!(
            took < Duration::from_secs(MAX_SECS_PER_FILE),
            "{path}: took {took:?}"
        );
        assert_ne!(outcome, "missing", "{path}: neither indexed nor skipped");
        check_skip_reason(&output, path);
    }
    let peak = peak_rss_kib();
    assert!(
        peak < MAX_PEAK_RSS_KIB,
        "peak RSS {} MiB over {} MiB",
        peak / 1024,
        MAX_PEAK_RSS_KIB / 1024
    );
}

/// `indexed (N definitions)`, `skipped: <reason>` or `missing`.
fn outcome(output: &worker_host_indexing::parse::ParseOutput, path: &str) -> String {
    if let Some(file) = output.files.iter().find(|f| f.path == path) {
        return format!("indexed ({} definitions)", file.definitions.len());
    }
    match output.skipped_files.iter().find(|s| s.path == path) {
        Some(skipped) => format!("skipped: {:?}", skipped.reason),
        None => "missing".to_owned(),
    }
}

/// A skipped file is skipped for one of the parsing limits, nothing else.
fn check_skip_reason(output: &worker_host_indexing::parse::ParseOutput, path: &str) {
    if let Some(skipped) = output.skipped_files.iter().find(|s| s.path == path) {
        assert!(
            matches!(
                skipped.reason,
                SkipReason::TooDeep
                    | SkipReason::NameTooLong
                    | SkipReason::TooManyFacts
                    | SkipReason::Timeout
            ),
            "{path}: skipped as {:?}",
            skipped.reason
        );
    }
}
