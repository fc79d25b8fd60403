//! `worker-host graph`: questions about the indexed code, asked of the configured store with no
//! Temporal server. A [`Question`] is answered by [`ask`] as an [`Answer`], which prints as
//! aligned columns (like `status`) or, with `--json`, as the JSON the MCP server's tools return.

use std::fmt::Write as _;
use std::path::Path;
use std::process::ExitCode;

use serde::Serialize;

use super::query::{
    CallAnswer, CallQuery, CallRow, Direction, FileAnswer, FindAnswer, ImportRow, QueryError,
    RepoStats, RepoSummary, Symbol,
};
use super::{GraphBackend, GraphSettings, GraphStore};
use worker_host_core::text_table::aligned as table;

/// Exit code when the repository, symbol or file is unknown, or a symbol is ambiguous.
pub const EXIT_NO_ANSWER: u8 = 1;
/// Exit code when the store cannot be opened or read.
pub const EXIT_STORE: u8 = 2;
/// Rows of `find`, `callers` and `callees` shown unless `--limit` says otherwise.
pub const DEFAULT_LIMIT: usize = 200;

/// The `graph` command's arguments.
#[derive(Debug, Clone, clap::Args)]
pub struct GraphArgs {
    #[command(subcommand)]
    pub question: Question,
    /// Only this repository (its id in the graph, as `repos` lists it).
    #[arg(long, global = true)]
    pub repo: Option<String>,
    /// Print the answer as JSON (what the MCP server's tools return).
    #[arg(long, global = true)]
    pub json: bool,
}

/// What can be asked.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum Question {
    /// Indexed repositories with their last commit, last run and sizes.
    Repos,
    /// Nodes per label and relationships per type.
    Stats {
        /// The repository (same as --repo).
        #[arg(value_name = "REPO")]
        repository: Option<String>,
    },
    /// Definitions by name: exact matches, else names starting with it (case ignored).
    Find {
        /// A name (`join`) or a qualified tail (`Popen.wait`).
        name: String,
        /// Show at most this many.
        #[arg(long, default_value_t = DEFAULT_LIMIT)]
        limit: usize,
    },
    /// What calls a symbol (a qualified name, a name, or an external name like os.path.join).
    Callers(CallQuestion),
    /// What a symbol calls.
    Callees(CallQuestion),
    /// A file's definitions, imports and importers.
    File {
        /// The path from the repository's root.
        path: String,
    },
}

/// The arguments of `callers` and `callees`.
#[derive(Debug, Clone, clap::Args)]
pub struct CallQuestion {
    /// A qualified name (`pkg/mod.py::Class.method`), a name, or an external name.
    pub symbol: String,
    /// Follow the calls this many steps (1: direct calls only).
    #[arg(long, default_value_t = 1)]
    pub depth: u32,
    /// Show at most this many calls.
    #[arg(long, default_value_t = DEFAULT_LIMIT)]
    pub limit: usize,
}

impl CallQuestion {
    /// The question asked of the store, in `direction`.
    pub fn query(&self, direction: Direction) -> CallQuery<'_> {
        CallQuery {
            symbol: &self.symbol,
            direction,
            depth: self.depth,
            limit: self.limit,
        }
    }
}

/// The answer to a [`Question`], serialized as an object.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Answer {
    Repos { repositories: Vec<RepoSummary> },
    Stats { repositories: Vec<RepoStats> },
    Find(FindAnswer),
    Calls(CallAnswer),
    File(FileAnswer),
}

/// Answers `question` about `repo` (or every repository) from `store`.
pub async fn ask(
    store: &GraphStore,
    repo: Option<&str>,
    question: &Question,
) -> Result<Answer, QueryError> {
    Ok(match question {
        Question::Repos => Answer::Repos {
            repositories: store.repos(repo).await?,
        },
        Question::Stats { repository } => Answer::Stats {
            repositories: store.stats(repository.as_deref().or(repo)).await?,
        },
        Question::Find { name, limit } => Answer::Find(store.find(repo, name, *limit).await?),
        Question::Callers(call) => {
            Answer::Calls(store.calls(repo, call.query(Direction::Incoming)).await?)
        }
        Question::Callees(call) => {
            Answer::Calls(store.calls(repo, call.query(Direction::Outgoing)).await?)
        }
        Question::File { path } => Answer::File(store.file(repo, path).await?),
    })
}

/// Opens the store of `settings` for reading. An embedded store that was never written is not
/// created: there is nothing to ask yet.
pub async fn open(settings: &GraphSettings, data_dir: &Path) -> Result<GraphStore, QueryError> {
    let path = settings.embedded_path(data_dir);
    if settings.backend == GraphBackend::Embedded && !path.exists() {
        return Err(QueryError::NotFound(format!(
            "no graph at {}: index a repository first (`worker-host index <repo>`), or pass the \
             --config whose [indexing.graph] and [host] data_dir hold it",
            path.display()
        )));
    }
    Ok(GraphStore::open(settings, data_dir).await?)
}

/// Opens the store, asks `args`' question and prints the answer; the exit code says whether
/// there was one.
pub async fn run(settings: &GraphSettings, data_dir: &Path, args: &GraphArgs) -> ExitCode {
    let answer = match open(settings, data_dir).await {
        Ok(store) => ask(&store, args.repo.as_deref(), &args.question).await,
        Err(e) => Err(e),
    };
    match answer {
        Ok(answer) if args.json => match serde_json::to_string_pretty(&answer) {
            Ok(text) => {
                println!("{text}");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("error: cannot print the answer as JSON: {e}");
                ExitCode::from(EXIT_STORE)
            }
        },
        Ok(answer) => {
            print!("{}", render(&answer));
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            if let QueryError::Ambiguous { candidates, .. } = &e {
                eprint!("{}", symbol_table(candidates));
            }
            ExitCode::from(exit_code(&e))
        }
    }
}

/// The exit code of a failed question.
pub fn exit_code(e: &QueryError) -> u8 {
    match e {
        QueryError::NotFound(_) | QueryError::Ambiguous { .. } => EXIT_NO_ANSWER,
        QueryError::Store(_) => EXIT_STORE,
    }
}

/// The answer as text: aligned columns under a one-line header.
pub fn render(answer: &Answer) -> String {
    let mut out = String::new();
    match answer {
        Answer::Repos { repositories } => {
            let mut rows = vec![cells(&[
                "REPOSITORY",
                "COMMIT",
                "LAST RUN",
                "STATUS",
                "NODES",
                "RELATIONSHIPS",
                "URL",
            ])];
            rows.extend(repositories.iter().map(|r| {
                let run = r.last_run.as_ref();
                vec![
                    r.repo_id.clone(),
                    short_commit(r.last_indexed_commit.as_deref()),
                    run.map_or_else(|| "-".to_owned(), |run| run.run_id.clone()),
                    run.map_or_else(|| "-".to_owned(), |run| run.status.as_str().to_owned()),
                    r.nodes.to_string(),
                    r.relationships.to_string(),
                    r.url.clone().unwrap_or_else(|| "-".to_owned()),
                ]
            }));
            out.push_str(&table(&rows));
        }
        Answer::Stats { repositories } => {
            for r in repositories {
                let _ = writeln!(out, "{}:", r.repo_id);
                for (header, counts) in
                    [("  NODES", &r.nodes), ("  RELATIONSHIPS", &r.relationships)]
                {
                    let mut rows = vec![cells(&[header, "COUNT"])];
                    rows.extend(
                        counts
                            .iter()
                            .map(|(name, n)| vec![format!("  {name}"), n.to_string()]),
                    );
                    out.push_str(&table(&rows));
                }
            }
        }
        Answer::Find(find) => {
            let how = if find.matched == "exact" {
                "named"
            } else {
                "starting with (case ignored)"
            };
            let _ = writeln!(
                out,
                "{} definition{} {how} `{}`{}",
                find.total,
                plural(find.total),
                find.name,
                shown(find.definitions.len(), find.total)
            );
            out.push_str(&symbol_table(&find.definitions));
        }
        Answer::Calls(calls) => {
            let _ = writeln!(
                out,
                "{} of {} {} ({}:{}), depth {}: {} call{}{}",
                calls.direction,
                calls.symbol.kind,
                calls.symbol.key,
                calls.symbol.file.as_deref().unwrap_or("-"),
                calls
                    .symbol
                    .line
                    .map_or_else(|| "-".to_owned(), |l| l.to_string()),
                calls.depth,
                calls.total,
                plural(calls.total),
                shown(calls.calls.len(), calls.total)
            );
            out.push_str(&call_table(&calls.calls));
        }
        Answer::File(file) => {
            let _ = writeln!(out, "{} (repository {})", file.file.key, file.file.repo_id);
            let _ = writeln!(out, "definitions: {}", file.definitions.len());
            out.push_str(&symbol_table(&file.definitions));
            let _ = writeln!(out, "imports: {}", file.imports.len());
            out.push_str(&import_table(&file.imports, false));
            let _ = writeln!(out, "importers: {}", file.importers.len());
            out.push_str(&import_table(&file.importers, true));
        }
    }
    out
}

fn symbol_table(symbols: &[Symbol]) -> String {
    let mut rows = vec![cells(&["KIND", "NAME", "FILE:LINE", "KEY", "REPOSITORY"])];
    rows.extend(symbols.iter().map(|s| {
        vec![
            s.kind.clone(),
            s.name.clone(),
            location(s),
            s.key.clone(),
            s.repo_id.clone(),
        ]
    }));
    table(&rows)
}

fn call_table(calls: &[CallRow]) -> String {
    let mut rows = vec![cells(&[
        "DEPTH",
        "KIND",
        "KEY",
        "FILE:LINE",
        "VIA",
        "CALL LINES",
    ])];
    rows.extend(calls.iter().map(|c| {
        vec![
            c.depth.to_string(),
            c.node.kind.clone(),
            c.node.key.clone(),
            location(&c.node),
            c.via.clone(),
            join(&c.lines),
        ]
    }));
    table(&rows)
}

fn import_table(imports: &[ImportRow], importers: bool) -> String {
    let first = if importers { "FILE" } else { "TARGET" };
    let mut rows = vec![cells(&[first, "KIND", "MODULE", "NAMES", "LINES"])];
    rows.extend(imports.iter().map(|i| {
        let (first, kind) = if importers {
            (i.file.clone(), format!("-> {}", i.target))
        } else {
            (i.target.clone(), i.target_kind.clone())
        };
        vec![
            first,
            kind,
            i.module.clone().unwrap_or_else(|| "-".to_owned()),
            if i.names.is_empty() {
                "-".to_owned()
            } else {
                i.names.join(", ")
            },
            join(&i.lines),
        ]
    }));
    table(&rows)
}

fn location(s: &Symbol) -> String {
    match (&s.file, s.line) {
        (Some(file), Some(line)) => format!("{file}:{line}"),
        (Some(file), None) => file.clone(),
        (None, _) => "-".to_owned(),
    }
}

fn join(lines: &[i64]) -> String {
    if lines.is_empty() {
        return "-".to_owned();
    }
    lines
        .iter()
        .map(i64::to_string)
        .collect::<Vec<_>>()
        .join(",")
}

fn short_commit(commit: Option<&str>) -> String {
    commit.map_or_else(|| "-".to_owned(), |c| c.chars().take(12).collect())
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

fn shown(shown: usize, total: usize) -> String {
    if shown < total {
        format!(" (first {shown}; --limit shows more)")
    } else {
        String::new()
    }
}

fn cells(header: &[&str]) -> Vec<String> {
    header.iter().map(|s| (*s).to_owned()).collect()
}
