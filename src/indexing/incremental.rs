//! Incremental indexing: a host keeps, per repository, the facts and the graph of the last run
//! it finished (`<data_dir>/index-cache/<repo>/`). The next run of the same repository on that
//! host, when the store's last indexed commit is the cached one:
//! - parses only the files whose git blob changed (the change is computed between the two
//!   trees by blob id, so it is exact whatever the history did in between, force-pushes
//!   included) and reuses the cached facts of the others; resolution runs over all files;
//! - compares the new graph rows with the cached ones and writes only the rows of the files
//!   whose rows changed (a file is *affected* when any node or relationship it holds was added,
//!   changed or removed — a renamed function makes its callers' files affected too), and the
//!   new nodes that belong to no file (external names);
//! - deletes, in the affected files only, what the run did not write (then the external names
//!   nothing points at).
//!
//! The same commit twice: every file reused, no row differs, nothing written, nothing deleted.
//! Anything unexpected (no cache, another host indexed the repository since, an unreadable
//! cache, too many affected files) falls back to a full run.

use crate::graph::{GraphRows, Label, NodeRow, RelRow, RelType};
use crate::parse::FileFacts;
use serde::{Deserialize, Serialize};
use std::{
    collections::{BTreeSet, HashMap},
    fs::File,
    hash::{DefaultHasher, Hash, Hasher},
    io::{BufRead, BufReader, BufWriter, Write},
    path::{Path, PathBuf},
};

/// Above this many affected files an incremental run writes everything, like a full one.
pub const MAX_AFFECTED_FILES: usize = 5000;
/// Layout version of the facts file; another version is ignored (full run).
const FACTS_VERSION: u32 = 1;

/// Where a host keeps the last finished run of one repository.
#[derive(Debug, Clone)]
pub struct CacheDir {
    root: PathBuf,
}

impl CacheDir {
    /// The cache of `repo_id` under `data_dir`.
    pub fn of(data_dir: &Path, repo_id: &str) -> Self {
        let mut hasher = DefaultHasher::new();
        repo_id.hash(&mut hasher);
        let readable: String = repo_id
            .chars()
            .rev()
            .take(48)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
            .collect();
        Self {
            root: data_dir
                .join("index-cache")
                .join(format!("{readable}-{:016x}", hasher.finish())),
        }
    }

    /// The unresolved facts and blob ids of the cached run.
    pub fn facts(&self) -> PathBuf {
        self.root.join("facts.jsonl")
    }

    /// The parse output (resolved) of the cached run.
    pub fn graph(&self) -> PathBuf {
        self.root.join("graph.jsonl")
    }

    /// Make the run's `facts` and `graph` files the cache. The two are replaced together: they
    /// are gathered in a new folder that takes the old one's place, so a crash leaves the old
    /// cache, the new one, or none (a full run next time) — never a mix.
    pub fn promote(&self, facts: &Path, graph: &Path) -> std::io::Result<()> {
        let fresh = self.root.with_extension("new");
        if fresh.exists() {
            std::fs::remove_dir_all(&fresh)?;
        }
        std::fs::create_dir_all(&fresh)?;
        for (from, name) in [(graph, "graph.jsonl"), (facts, "facts.jsonl")] {
            let to = fresh.join(name);
            if std::fs::rename(from, &to).is_err() {
                std::fs::copy(from, &to)?;
            }
        }
        if self.root.exists() {
            std::fs::remove_dir_all(&self.root)?;
        }
        std::fs::rename(&fresh, &self.root)
    }

    /// The commit of the cached run, if there is a readable cache.
    pub fn commit(&self) -> Option<String> {
        let mut first = String::new();
        BufReader::new(File::open(self.facts()).ok()?)
            .read_line(&mut first)
            .ok()?;
        let header: Header = serde_json::from_str(&first).ok()?;
        (header.version == FACTS_VERSION).then_some(header.commit)
    }
}

/// The header line of a facts file.
#[derive(Serialize, Deserialize)]
struct Header {
    version: u32,
    commit: String,
    blobs: HashMap<String, String>,
}

/// A cached run's facts: the commit, each path's blob id, each parsed file's unresolved facts.
#[derive(Debug, Default)]
pub struct CachedFacts {
    pub commit: String,
    pub blobs: HashMap<String, String>,
    pub files: HashMap<String, FileFacts>,
}

impl CachedFacts {
    /// The facts of `path` when its blob is unchanged in `blobs` (the new tree's).
    pub fn reusable(&self, path: &str, blobs: &HashMap<String, String>) -> Option<FileFacts> {
        let old = self.blobs.get(path)?;
        (blobs.get(path) == Some(old))
            .then(|| self.files.get(path).cloned())
            .flatten()
    }
}

/// Write the facts file of a run.
pub fn write_facts(
    path: &Path,
    commit: &str,
    blobs: &HashMap<String, String>,
    files: &[FileFacts],
) -> std::io::Result<()> {
    let mut out = BufWriter::new(File::create(path)?);
    let header = Header {
        version: FACTS_VERSION,
        commit: commit.to_owned(),
        blobs: blobs.clone(),
    };
    serde_json::to_writer(&mut out, &header)?;
    out.write_all(b"\n")?;
    for file in files {
        serde_json::to_writer(&mut out, file)?;
        out.write_all(b"\n")?;
    }
    out.flush()
}

/// Read a facts file; `None` when it is missing, of another version or damaged.
pub fn read_facts(path: &Path) -> Option<CachedFacts> {
    let mut lines = BufReader::new(File::open(path).ok()?).lines();
    let header: Header = serde_json::from_str(&lines.next()?.ok()?).ok()?;
    if header.version != FACTS_VERSION {
        return None;
    }
    let mut files = HashMap::new();
    for line in lines {
        let facts: FileFacts = serde_json::from_str(&line.ok()?).ok()?;
        files.insert(facts.path.clone(), facts);
    }
    Some(CachedFacts {
        commit: header.commit,
        blobs: header.blobs,
        files,
    })
}

/// Path → blob id of every file in the `HEAD` tree of the repository at `repo`.
pub fn tree_blobs(repo: &Path) -> Result<HashMap<String, String>, git2::Error> {
    let repository = git2::Repository::open(repo)?;
    let tree = repository.head()?.peel_to_tree()?;
    let mut blobs = HashMap::new();
    tree.walk(git2::TreeWalkMode::PreOrder, |dir, entry| {
        if entry.kind() == Some(git2::ObjectType::Blob) {
            blobs.insert(
                format!("{dir}{}", entry.name().unwrap_or_default()),
                entry.id().to_string(),
            );
        }
        git2::TreeWalkResult::Ok
    })?;
    Ok(blobs)
}

/// What an incremental run writes and where it cleans.
#[derive(Debug, Default)]
pub struct Delta {
    /// The rows to write: every row of an affected file, and new rows of no file.
    pub rows: GraphRows,
    /// Files some row of which was added, changed or removed.
    pub affected_files: BTreeSet<String>,
}

/// The difference between the graph of the cached run (`old`) and the new one.
pub fn delta(old: &GraphRows, new: &GraphRows) -> Delta {
    let mut affected = BTreeSet::new();
    let mut fileless = GraphRows::default();

    let old_nodes: HashMap<(Label, &str), &NodeRow> = old
        .nodes
        .iter()
        .flat_map(|(l, rows)| rows.iter().map(move |r| ((*l, r.key.as_str()), r)))
        .collect();
    let mut seen = BTreeSet::new();
    for (label, rows) in &new.nodes {
        for row in rows {
            seen.insert((*label, row.key.as_str()));
            if old_nodes.get(&(*label, row.key.as_str())) != Some(&row) {
                match &row.file {
                    Some(file) => {
                        affected.insert(file.clone());
                    }
                    None => fileless.nodes.entry(*label).or_default().push(row.clone()),
                }
            }
        }
    }
    for ((label, key), row) in &old_nodes {
        if !seen.contains(&(*label, *key))
            && let Some(file) = &row.file
        {
            affected.insert(file.clone());
        }
    }

    type RelId<'a> = (
        RelType,
        &'a crate::graph::NodeRef,
        &'a crate::graph::NodeRef,
    );
    let old_rels: HashMap<RelId<'_>, &RelRow> = old
        .relationships
        .iter()
        .flat_map(|(t, rows)| rows.iter().map(move |r| ((*t, &r.src, &r.dst), r)))
        .collect();
    let mut seen_rels = BTreeSet::new();
    for (rel, rows) in &new.relationships {
        for row in rows {
            seen_rels.insert((*rel, &row.src, &row.dst));
            if old_rels.get(&(*rel, &row.src, &row.dst)) != Some(&row) {
                affected.insert(row.file.clone());
            }
        }
    }
    for (id, row) in &old_rels {
        if !seen_rels.contains(id) {
            affected.insert(row.file.clone());
        }
    }

    let mut rows = fileless;
    for (label, list) in &new.nodes {
        let keep = list
            .iter()
            .filter(|r| r.file.as_ref().is_some_and(|f| affected.contains(f)));
        rows.nodes.entry(*label).or_default().extend(keep.cloned());
    }
    for (rel, list) in &new.relationships {
        let keep = list.iter().filter(|r| affected.contains(&r.file));
        rows.relationships
            .entry(*rel)
            .or_default()
            .extend(keep.cloned());
    }
    rows.nodes.retain(|_, v| !v.is_empty());
    rows.relationships.retain(|_, v| !v.is_empty());
    Delta {
        rows,
        affected_files: affected,
    }
}
