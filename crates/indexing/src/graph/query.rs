//! Questions asked of the code graph: which repositories it holds, how large they are, where a
//! name is defined, who calls what (transitively), and what a file defines, imports and is
//! imported by. The answers are plain serde data, so the `graph` command's `--json` and the MCP
//! server's tools print the same thing.
//!
//! Each backend implements only [`GraphReader`], a handful of reads by key, name, file and
//! relationship; the questions are answered once, here, on top of them, so both stores give the
//! same answers by construction.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::GraphError;
use super::records::{GraphCounts, IndexRunRecord, RepositoryRecord, RunStatus};
use super::rows::{Label, NodeRef, RelType};
use super::value::{Props, Value};

/// One node as answers show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Symbol {
    pub repo_id: String,
    /// The node's label: `Function`, `Method`, `Class`, ..., `File`, `External`, `Directory`.
    pub kind: String,
    /// The qualified name (`pkg/mod.py::Outer.method`), path or external name.
    pub key: String,
    /// The short name: a definition's own name, a file's path, an external name as resolved.
    pub name: String,
    /// The file it belongs to (none for external names and directories).
    pub file: Option<String>,
    /// First and last line of a definition.
    pub line: Option<i64>,
    pub end_line: Option<i64>,
}

impl Symbol {
    /// The node of `label` and `key` with its stored `file` and properties.
    pub(crate) fn of(
        repo_id: &str,
        label: &str,
        key: String,
        file: Option<String>,
        props: &Props,
    ) -> Self {
        let name = props
            .get("name")
            .and_then(Value::as_str)
            .map_or_else(|| key.clone(), str::to_owned);
        Self {
            repo_id: repo_id.to_owned(),
            kind: label.to_owned(),
            line: props.get("start_line").and_then(Value::as_int),
            end_line: props.get("end_line").and_then(Value::as_int),
            key,
            name,
            file,
        }
    }

    fn node(&self) -> Option<NodeRef> {
        Label::parse(&self.kind).map(|label| NodeRef {
            label,
            key: self.key.clone(),
        })
    }

    /// The order of answers: by repository, file, line, then key.
    fn sort_key(&self) -> (&str, Option<&str>, Option<i64>, &str, &str) {
        (
            &self.repo_id,
            self.file.as_deref(),
            self.line,
            &self.key,
            &self.kind,
        )
    }
}

/// Which nodes [`GraphReader::symbols`] reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SymbolFilter<'a> {
    /// Code nodes (not `Repository`/`IndexRun`) with this key, of any label.
    Key(&'a str),
    /// Definitions with exactly this `name`.
    Name(&'a str),
    /// Definitions whose `name` starts with this lower-case prefix, ASCII case ignored
    /// (SQLite's `lower`).
    NamePrefix(&'a str),
    /// Definitions of one file.
    File(&'a str),
}

impl SymbolFilter<'_> {
    /// The labels the filter reads.
    pub(crate) fn labels(self) -> &'static [Label] {
        match self {
            Self::Key(_) => Label::CODE,
            _ => Label::DEFINITIONS,
        }
    }
}

/// Which end of a relationship the known nodes are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Relationships that end at the known nodes: the far end is the source.
    Incoming,
    /// Relationships that start at the known nodes: the far end is the target.
    Outgoing,
}

/// A `callers` or `callees` question: the calls of `symbol` in `direction`, followed `depth`
/// steps; at most `limit` calls.
#[derive(Debug, Clone, Copy)]
pub struct CallQuery<'a> {
    pub symbol: &'a str,
    pub direction: Direction,
    pub depth: u32,
    pub limit: usize,
}

/// Relationships of type `rel` at the known nodes `at`, in `direction`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Hop<'a> {
    pub rel: RelType,
    pub at: &'a [NodeRef],
    pub direction: Direction,
}

impl<'a> Hop<'a> {
    pub(crate) fn new(rel: RelType, at: &'a [NodeRef], direction: Direction) -> Self {
        Self { rel, at, direction }
    }
}

/// A relationship seen from one of the known nodes.
#[derive(Debug, Clone)]
pub(crate) struct Neighbour {
    /// The key of the known node.
    pub near: String,
    /// The node at the other end.
    pub far: Symbol,
    /// The relationship's own properties.
    pub props: Props,
}

/// The reads the questions are built from; each backend implements them once.
pub(crate) trait GraphReader {
    /// Every repository with anything in the store, sorted.
    async fn repo_ids(&self) -> Result<Vec<String>, GraphError>;
    /// The repository's metadata, if written.
    async fn repository(&self, repo_id: &str) -> Result<Option<RepositoryRecord>, GraphError>;
    /// The repository's index runs, in any order.
    async fn index_runs(&self, repo_id: &str) -> Result<Vec<IndexRunRecord>, GraphError>;
    /// Nodes per label and relationships per type.
    async fn counts(&self, repo_id: &str) -> Result<GraphCounts, GraphError>;
    /// The nodes `filter` selects.
    async fn symbols(&self, repo: &str, of: SymbolFilter<'_>) -> Result<Vec<Symbol>, GraphError>;
    /// The relationships `hop` names.
    async fn neighbours(&self, repo: &str, hop: Hop<'_>) -> Result<Vec<Neighbour>, GraphError>;
}

/// Why a question has no answer.
#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    /// The repository, symbol or file is not in the graph.
    #[error("{0}")]
    NotFound(String),
    /// More than one node fits; the answer lists them.
    #[error("`{what}` is ambiguous: {} candidates; ask again with one of their keys (or --repo)", candidates.len())]
    Ambiguous {
        what: String,
        candidates: Vec<Symbol>,
    },
    /// The store failed.
    #[error(transparent)]
    Store(#[from] GraphError),
}

/// One repository of `repos`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RepoSummary {
    pub repo_id: String,
    pub url: Option<String>,
    pub last_indexed_commit: Option<String>,
    /// The newest index run.
    pub last_run: Option<RunSummary>,
    pub nodes: u64,
    pub relationships: u64,
}

/// An index run, in short.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunSummary {
    pub run_id: String,
    pub status: RunStatus,
    pub commit: Option<String>,
    pub started_at_ms: u64,
    pub ended_at_ms: Option<u64>,
}

/// The answer of `stats`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RepoStats {
    pub repo_id: String,
    pub nodes: BTreeMap<String, u64>,
    pub relationships: BTreeMap<String, u64>,
}

/// The answer of `find`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FindAnswer {
    pub name: String,
    /// `"exact"`, or `"prefix"` when no name matched exactly and names starting with the
    /// given one (case ignored) are listed instead.
    pub matched: String,
    /// How many definitions matched; `definitions` holds at most the limit.
    pub total: usize,
    pub definitions: Vec<Symbol>,
}

/// The answer of `callers` and `callees`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallAnswer {
    /// The node asked about.
    pub symbol: Symbol,
    /// `"callers"` or `"callees"`.
    pub direction: String,
    /// How far the answer follows calls.
    pub depth: u32,
    /// How many calls were found; `calls` holds at most the limit.
    pub total: usize,
    pub calls: Vec<CallRow>,
}

/// One call in a [`CallAnswer`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallRow {
    /// 1 for direct callers (callees), 2 for theirs, ...
    pub depth: u32,
    /// The caller (for `callers`) or callee (for `callees`).
    pub node: Symbol,
    /// Key of the node one step closer to the symbol: what `node` calls, or what calls it.
    pub via: String,
    /// Lines of the calls, in the caller's file.
    pub lines: Vec<i64>,
}

/// The answer of `file`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileAnswer {
    pub file: Symbol,
    pub definitions: Vec<Symbol>,
    /// What the file imports.
    pub imports: Vec<ImportRow>,
    /// Files that import the file or one of its definitions.
    pub importers: Vec<ImportRow>,
}

/// One import in a [`FileAnswer`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportRow {
    /// The importing file.
    pub file: String,
    /// What is imported: a definition, file, directory or external name.
    pub target: String,
    pub target_kind: String,
    /// The module as written (of the earliest line).
    pub module: Option<String>,
    pub names: Vec<String>,
    pub lines: Vec<i64>,
}

/// Which repositories a question covers: the one asked for (which must exist), or all.
pub(crate) async fn scope<R: GraphReader>(
    reader: &R,
    repo: Option<&str>,
) -> Result<Vec<String>, QueryError> {
    let all = reader.repo_ids().await?;
    match repo {
        None if all.is_empty() => Err(QueryError::NotFound(
            "the graph is empty: index a repository first (`worker-host index <repo>`)".into(),
        )),
        None => Ok(all),
        Some(repo) if all.iter().any(|r| r == repo) => Ok(vec![repo.to_owned()]),
        Some(repo) => Err(QueryError::NotFound(format!(
            "no repository `{repo}` in the graph (indexed: {})",
            if all.is_empty() {
                "none".to_owned()
            } else {
                all.join(", ")
            }
        ))),
    }
}

/// Every repository (or the one asked for) with its last run and sizes.
pub(crate) async fn repos<R: GraphReader>(
    reader: &R,
    repo: Option<&str>,
) -> Result<Vec<RepoSummary>, QueryError> {
    let mut out = Vec::new();
    for repo_id in scope(reader, repo).await? {
        let record = reader.repository(&repo_id).await?;
        let last_run = reader
            .index_runs(&repo_id)
            .await?
            .into_iter()
            .max_by(|a, b| (a.started_at_ms, &a.run_id).cmp(&(b.started_at_ms, &b.run_id)))
            .map(|run| RunSummary {
                run_id: run.run_id,
                status: run.status,
                commit: run.commit,
                started_at_ms: run.started_at_ms,
                ended_at_ms: run.ended_at_ms,
            });
        let counts = reader.counts(&repo_id).await?;
        out.push(RepoSummary {
            url: record.as_ref().map(|r| r.url.clone()),
            last_indexed_commit: record.and_then(|r| r.last_indexed_commit),
            last_run,
            nodes: counts.nodes.values().sum(),
            relationships: counts.relationships.values().sum(),
            repo_id,
        });
    }
    Ok(out)
}

/// Nodes per label and relationships per type of each repository in scope.
pub(crate) async fn stats<R: GraphReader>(
    reader: &R,
    repo: Option<&str>,
) -> Result<Vec<RepoStats>, QueryError> {
    let mut out = Vec::new();
    for repo_id in scope(reader, repo).await? {
        let counts = reader.counts(&repo_id).await?;
        out.push(RepoStats {
            repo_id,
            nodes: counts.nodes,
            relationships: counts.relationships,
        });
    }
    Ok(out)
}

/// Definitions named `name` (a short name, or a qualified tail such as `Outer.method`): exact
/// matches, or, when there are none, names starting with it (ASCII case ignored).
pub(crate) async fn find<R: GraphReader>(
    reader: &R,
    repo: Option<&str>,
    name: &str,
    limit: usize,
) -> Result<FindAnswer, QueryError> {
    let repos = scope(reader, repo).await?;
    let mut matched = "exact";
    let mut found = exact_definitions(reader, &repos, name).await?;
    if found.is_empty() {
        matched = "prefix";
        let prefix = name.to_ascii_lowercase();
        for repo_id in &repos {
            found.extend(
                reader
                    .symbols(repo_id, SymbolFilter::NamePrefix(&prefix))
                    .await?,
            );
        }
    }
    if found.is_empty() {
        return Err(QueryError::NotFound(format!(
            "no definition named `{name}` or starting with it in {}",
            describe(&repos)
        )));
    }
    sort(&mut found);
    let total = found.len();
    found.truncate(limit);
    Ok(FindAnswer {
        name: name.to_owned(),
        matched: matched.to_owned(),
        total,
        definitions: found,
    })
}

/// Definitions whose name is the last part of `name` and whose qualified name ends with all of
/// it, in every repository of `repos`.
async fn exact_definitions<R: GraphReader>(
    reader: &R,
    repos: &[String],
    name: &str,
) -> Result<Vec<Symbol>, GraphError> {
    let short = name.rsplit(['.', ':']).next().unwrap_or(name);
    let mut found = Vec::new();
    for repo_id in repos {
        for symbol in reader.symbols(repo_id, SymbolFilter::Name(short)).await? {
            let key = symbol.key.as_str();
            if short == name
                || key == name
                || key.ends_with(&format!("::{name}"))
                || key.ends_with(&format!(".{name}"))
            {
                found.push(symbol);
            }
        }
    }
    Ok(found)
}

/// The one node `symbol` names: a node with that key (a qualified name, a path, an external
/// name such as `os.path.join`), else a definition by name or qualified tail.
pub(crate) async fn resolve<R: GraphReader>(
    reader: &R,
    repos: &[String],
    symbol: &str,
) -> Result<Symbol, QueryError> {
    let mut found = Vec::new();
    for repo_id in repos {
        found.extend(reader.symbols(repo_id, SymbolFilter::Key(symbol)).await?);
    }
    if found.is_empty() {
        found = exact_definitions(reader, repos, symbol).await?;
    }
    sort(&mut found);
    match found.len() {
        0 => Err(QueryError::NotFound(format!(
            "no symbol `{symbol}` in {} (`graph find {symbol}` lists similar names)",
            describe(repos)
        ))),
        1 => Ok(found.remove(0)),
        _ => Err(QueryError::Ambiguous {
            what: symbol.to_owned(),
            candidates: found,
        }),
    }
}

/// Callers (`Incoming`) or callees (`Outgoing`) of `symbol`, following calls `depth` steps.
/// Each level lists every call between a node of the level before and a node not seen yet.
pub(crate) async fn calls<R: GraphReader>(
    reader: &R,
    repo: Option<&str>,
    call: CallQuery<'_>,
) -> Result<CallAnswer, QueryError> {
    let CallQuery {
        symbol,
        direction,
        depth,
        limit,
    } = call;
    let repos = scope(reader, repo).await?;
    let start = resolve(reader, &repos, symbol).await?;
    let depth = depth.max(1);
    let mut seen: BTreeSet<NodeRef> = start.node().into_iter().collect();
    let mut frontier: Vec<NodeRef> = seen.iter().cloned().collect();
    let mut rows = Vec::new();
    for level in 1..=depth {
        if frontier.is_empty() {
            break;
        }
        let mut found = reader
            .neighbours(
                &start.repo_id,
                Hop::new(RelType::Calls, &frontier, direction),
            )
            .await?;
        found.retain(|n| n.far.node().is_some_and(|node| !seen.contains(&node)));
        found.sort_by(|a, b| (a.far.sort_key(), &a.near).cmp(&(b.far.sort_key(), &b.near)));
        let mut next = BTreeSet::new();
        for n in found {
            next.extend(n.far.node());
            rows.push(CallRow {
                depth: level,
                lines: ints(&n.props, "lines"),
                via: n.near,
                node: n.far,
            });
        }
        seen.extend(next.iter().cloned());
        frontier = next.into_iter().collect();
    }
    let total = rows.len();
    rows.truncate(limit);
    Ok(CallAnswer {
        symbol: start,
        direction: match direction {
            Direction::Incoming => "callers",
            Direction::Outgoing => "callees",
        }
        .to_owned(),
        depth,
        total,
        calls: rows,
    })
}

/// A file's definitions, its imports and the files importing it or its definitions. `path` is
/// the repo-relative path, or a tail of it (`graph/query.rs`) when only one file ends so.
pub(crate) async fn file<R: GraphReader>(
    reader: &R,
    repo: Option<&str>,
    path: &str,
) -> Result<FileAnswer, QueryError> {
    let repos = scope(reader, repo).await?;
    let mut found = Vec::new();
    for repo_id in &repos {
        found.extend(
            reader
                .symbols(repo_id, SymbolFilter::Key(path))
                .await?
                .into_iter()
                .filter(|s| s.kind == Label::File.as_str()),
        );
    }
    let file = match found.len() {
        0 => {
            return Err(QueryError::NotFound(format!(
                "no file `{path}` in {} (give the path from the repository's root)",
                describe(&repos)
            )));
        }
        1 => found.remove(0),
        _ => {
            return Err(QueryError::Ambiguous {
                what: path.to_owned(),
                candidates: found,
            });
        }
    };
    let repo_id = file.repo_id.clone();
    let mut definitions = reader
        .symbols(&repo_id, SymbolFilter::File(&file.key))
        .await?;
    sort(&mut definitions);
    let file_node = NodeRef {
        label: Label::File,
        key: file.key.clone(),
    };
    let mut imports: Vec<ImportRow> = reader
        .neighbours(
            &repo_id,
            Hop::new(
                RelType::Imports,
                std::slice::from_ref(&file_node),
                Direction::Outgoing,
            ),
        )
        .await?
        .into_iter()
        .map(|n| import_row(n.near, &n.far, &n.props))
        .collect();
    let mut targets = vec![file_node];
    targets.extend(definitions.iter().filter_map(Symbol::node));
    let mut importers: Vec<ImportRow> = reader
        .neighbours(
            &repo_id,
            Hop::new(RelType::Imports, &targets, Direction::Incoming),
        )
        .await?
        .into_iter()
        .map(|n| {
            let mut row = import_row(n.far.key.clone(), &n.far, &n.props);
            row.target = n.near;
            row.target_kind = targets
                .iter()
                .find(|t| t.key == row.target)
                .map_or_else(String::new, |t| t.label.as_str().to_owned());
            row
        })
        .collect();
    imports.sort_by(|a, b| (&a.target, &a.target_kind).cmp(&(&b.target, &b.target_kind)));
    importers.sort_by(|a, b| (&a.file, &a.target).cmp(&(&b.file, &b.target)));
    Ok(FileAnswer {
        file,
        definitions,
        imports,
        importers,
    })
}

fn import_row(file: String, target: &Symbol, props: &Props) -> ImportRow {
    ImportRow {
        file,
        target: target.key.clone(),
        target_kind: target.kind.clone(),
        module: props
            .get("module")
            .and_then(Value::as_str)
            .map(str::to_owned),
        names: match props.get("names") {
            Some(Value::Strs(names)) => names.clone(),
            _ => Vec::new(),
        },
        lines: ints(props, "lines"),
    }
}

fn ints(props: &Props, name: &str) -> Vec<i64> {
    match props.get(name) {
        Some(Value::Ints(list)) => list.clone(),
        Some(Value::Int(i)) => vec![*i],
        _ => Vec::new(),
    }
}

fn sort(symbols: &mut [Symbol]) {
    symbols.sort_by(|a, b| a.sort_key().cmp(&b.sort_key()));
}

fn describe(repos: &[String]) -> String {
    match repos {
        [one] => format!("repository `{one}`"),
        _ => format!("{} indexed repositories", repos.len()),
    }
}
