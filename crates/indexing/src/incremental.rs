//! Incremental indexing: a host keeps, per repository, the facts and the graph digest of the
//! last run it finished — in memory ([`crate::last_run::RunMemory`]) and in
//! `<data_dir>/index-cache/<repo>/` for after a restart. The next run of the same repository on
//! that host, when the store's last indexed commit is the cached one:
//! - parses only the files whose git blob changed (the change is computed between the two
//!   trees by blob id, so it is exact whatever the history did in between, force-pushes
//!   included) and reuses the cached facts of the others; resolution runs over all files, in
//!   memory;
//! - compares, in the same activity, a digest of the new graph rows (a hash per file) with the
//!   cached run's and hands the persist activity only the rows of the files whose rows changed
//!   (a file is *affected* when any node or relationship it holds was added, changed or
//!   removed — a renamed function makes its callers' files affected too), and the new nodes
//!   that belong to no file (external names), in a small [`DeltaFile`] instead of the whole
//!   parse output;
//! - deletes, in the affected files only, what the run did not write (then the external names
//!   nothing points at), by index seeks.
//!
//! The same commit twice: every file reused, no row differs, nothing written, nothing deleted.
//! Anything unexpected (no cache, another host indexed the repository since, an unreadable
//! cache, too many affected files) falls back to a full run.

use crate::graph::{GraphRows, Label, NodeRow, RelRow};
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
                .join(crate::workspace::INDEX_CACHE)
                .join(format!("{readable}-{:016x}", hasher.finish())),
        }
    }

    /// The unresolved facts and blob ids of the cached run.
    pub fn facts(&self) -> PathBuf {
        self.root.join("facts.jsonl")
    }

    /// The digest of the cached run's graph rows.
    pub fn digest(&self) -> PathBuf {
        self.root.join("rows.digest.json")
    }

    /// Make `facts` and `digest` (written elsewhere on the same file system) the cache. The
    /// two are replaced together: they are gathered in a new folder that takes the old one's
    /// place, so a crash leaves the old cache, the new one, or none (a full run next time) —
    /// never a mix.
    pub fn replace(&self, facts: &Path, digest: &Path) -> std::io::Result<()> {
        let fresh = self.root.with_extension("new");
        if fresh.exists() {
            std::fs::remove_dir_all(&fresh)?;
        }
        std::fs::create_dir_all(&fresh)?;
        for (from, name) in [(digest, "rows.digest.json"), (facts, "facts.jsonl")] {
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

    /// A scratch folder next to the cache, on the same file system.
    pub fn scratch(&self) -> PathBuf {
        self.root.with_extension("tmp")
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
    files: impl IntoIterator<Item = impl std::borrow::Borrow<FileFacts>>,
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
        serde_json::to_writer(&mut out, file.borrow())?;
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

/// Path → blob id of every file in the tree of `commit` in the repository at `repo` (read from
/// tree objects only: no blob is read).
pub fn tree_blobs(repo: &Path, commit: &str) -> Result<HashMap<String, String>, git2::Error> {
    let repository = git2::Repository::open(repo)?;
    let tree = repository.revparse_single(commit)?.peel_to_tree()?;
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

/// A digest of a run's graph rows: one hash per file over every node and relationship that
/// belongs to it, and one per node of no file. Enough to tell which files' rows changed without
/// keeping the rows themselves.
#[derive(Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RowsDigest {
    files: HashMap<String, u64>,
    fileless: HashMap<String, u64>,
}

impl RowsDigest {
    /// The digest of `rows`.
    pub fn of(rows: &GraphRows) -> Self {
        let mut files: HashMap<&str, DefaultHasher> = HashMap::new();
        let mut fileless = HashMap::new();
        for (label, list) in &rows.nodes {
            for row in list {
                match &row.file {
                    Some(file) => {
                        let h = files.entry(file).or_default();
                        (label, &row.key, &row.props).hash(h);
                    }
                    None => {
                        let mut h = DefaultHasher::new();
                        row.props.hash(&mut h);
                        fileless.insert(fileless_key(*label, &row.key), h.finish());
                    }
                }
            }
        }
        for (rel, list) in &rows.relationships {
            for row in list {
                let h = files.entry(&row.file).or_default();
                (rel, &row.src, &row.dst, &row.props).hash(h);
            }
        }
        Self {
            files: files
                .into_iter()
                .map(|(f, h)| (f.to_owned(), h.finish()))
                .collect(),
            fileless,
        }
    }

    /// Add the digest of another part of the same graph (see [`crate::graph::Parts`]): its
    /// files are not in this one; a node of no file may be in both, with the same hash.
    pub fn absorb(&mut self, part: RowsDigest) {
        self.files.extend(part.files);
        self.fileless.extend(part.fileless);
    }

    /// Write the digest as JSON.
    pub fn write(&self, path: &Path) -> std::io::Result<()> {
        let out = BufWriter::new(File::create(path)?);
        serde_json::to_writer(out, self).map_err(std::io::Error::other)
    }

    /// Read a digest; `None` when it is missing or damaged.
    pub fn read(path: &Path) -> Option<Self> {
        serde_json::from_reader(BufReader::new(File::open(path).ok()?)).ok()
    }
}

fn fileless_key(label: Label, key: &str) -> String {
    format!("{}\u{0}{key}", label.as_str())
}

/// What an incremental run writes and where it cleans.
#[derive(Debug, Default)]
pub struct Delta {
    /// The rows to write: every row of an affected file, and new or changed rows of no file.
    pub rows: GraphRows,
    /// Files some row of which was added, changed or removed.
    pub affected_files: BTreeSet<String>,
}

/// What changed from the cached run's graph (`old`, its digest) to the new rows.
pub fn delta(old: &RowsDigest, new_rows: &GraphRows, new: &RowsDigest) -> Delta {
    let mut affected: BTreeSet<String> = new
        .files
        .iter()
        .filter(|(file, hash)| old.files.get(*file) != Some(hash))
        .map(|(file, _)| file.clone())
        .collect();
    affected.extend(
        old.files
            .keys()
            .filter(|f| !new.files.contains_key(*f))
            .cloned(),
    );
    let mut rows = GraphRows::default();
    for (label, list) in &new_rows.nodes {
        let keep = list.iter().filter(|r| match &r.file {
            Some(f) => affected.contains(f),
            None => {
                let key = fileless_key(*label, &r.key);
                old.fileless.get(&key) != new.fileless.get(&key)
            }
        });
        let keep: Vec<NodeRow> = keep.cloned().collect();
        if !keep.is_empty() {
            rows.nodes.insert(*label, keep);
        }
    }
    for (rel, list) in &new_rows.relationships {
        let keep: Vec<RelRow> = list
            .iter()
            .filter(|r| affected.contains(&r.file))
            .cloned()
            .collect();
        if !keep.is_empty() {
            rows.relationships.insert(*rel, keep);
        }
    }
    Delta {
        rows,
        affected_files: affected,
    }
}

/// What the parse of an incremental run hands the persist activity, in the run's folder: the
/// rows to write and the files to clean. Small: the size of the change.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct DeltaFile {
    pub rows: GraphRows,
    pub affected_files: Vec<String>,
}

impl DeltaFile {
    /// Write it as JSON.
    pub fn write(&self, path: &Path) -> std::io::Result<()> {
        let mut out = BufWriter::new(File::create(path)?);
        serde_json::to_writer(&mut out, self).map_err(std::io::Error::other)?;
        out.flush()
    }

    /// Read it; an error names what is wrong.
    pub fn read(path: &Path) -> Result<Self, String> {
        let file = File::open(path).map_err(|e| format!("cannot open {}: {e}", path.display()))?;
        serde_json::from_reader(BufReader::new(file))
            .map_err(|e| format!("{} is not a delta: {e}", path.display()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::parse_source;

    fn rows(files: &[(&str, &str)]) -> GraphRows {
        let facts = files
            .iter()
            .map(|(p, s)| parse_source(p, s).expect("parse"))
            .collect();
        let resolved = crate::parse::resolve::resolve(facts);
        GraphRows::from_parse(&crate::parse::ParseOutput {
            files: resolved.files,
            calls: resolved.calls,
            imports: resolved.imports,
            inherits: resolved.inherits,
            ..Default::default()
        })
    }

    #[test]
    fn a_digest_survives_a_file_and_finds_what_changed() {
        let a = "import os\n\n\ndef f():\n    os.getcwd()\n    return g()\n";
        let b = "def g():\n    return 1\n";
        let old = rows(&[("a.py", a), ("b.py", b)]);
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("digest.json");
        RowsDigest::of(&old).write(&path).expect("write");
        let read = RowsDigest::read(&path).expect("read back");
        assert_eq!(read, RowsDigest::of(&old));

        let same = delta(&read, &old, &RowsDigest::of(&old));
        assert!(same.affected_files.is_empty() && same.rows.node_count() == 0);

        let renamed = rows(&[("a.py", a), ("b.py", "def h():\n    return 1\n")]);
        let changed = delta(&read, &renamed, &RowsDigest::of(&renamed));
        let files: Vec<&str> = changed.affected_files.iter().map(String::as_str).collect();
        assert_eq!(files, ["a.py", "b.py"], "a.py's call now points elsewhere");
    }
}
