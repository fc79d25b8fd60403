//! Incremental indexing: a host keeps, per repository, the facts and the graph digest of the
//! last run it finished — in memory ([`crate::last_run::RunMemory`]) and in
//! `<data_dir>/index-cache/<repo>/` for after a restart. The next run of the same repository on
//! that host, when the store's last indexed commit is the cached one:
//! - parses only the files whose git blob changed (the change is computed between the two
//!   trees by blob id, so it is exact whatever the history did in between, force-pushes
//!   included) and reuses the cached facts of the others (shared, not copied); resolution
//!   runs over all files, in memory;
//! - hashes, per file, everything that file's rows are built from: its own facts and what the
//!   lookups into the whole parse answered for them (the label and file of each definition a
//!   call, import, base or owner names; whether a path is a file) — a [`RowsDigest`]. A file
//!   whose hash differs from the cached run's, or that was added or removed, is *affected*: a
//!   renamed function makes its callers' files affected (their calls' targets changed), a
//!   type that becomes an interface makes the files of its methods affected (Go methods and
//!   Rust `impl`s may live in another file), an `impl Trait for X` in another file makes X's
//!   file affected (the relationship is X's). Two equal hashes mean equal rows, so the rows of
//!   the other files are not even built;
//! - builds the rows of the affected files only, and the nodes of no file (external names,
//!   directories) they point at, and hands them to the persist activity in a small
//!   [`DeltaFile`] instead of the whole parse output;
//! - deletes, in the affected files only, what the run did not write (then the external names
//!   nothing points at), by index seeks.
//!
//! The same commit twice: every file reused, no hash differs, nothing written, nothing deleted.
//! Anything unexpected (no cache, another host indexed the repository since, an unreadable
//! cache, too many affected files, a qualified name two files define) falls back to a full run.

use crate::graph::{GraphRows, RowLookups};
use crate::parse::{FILES_PER_BATCH, FileFacts};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use std::{
    borrow::Borrow,
    collections::{BTreeSet, HashMap},
    fs::File,
    hash::{DefaultHasher, Hash, Hasher},
    io::{BufRead, BufReader, BufWriter, Write},
    path::{Path, PathBuf},
    sync::Arc,
};

/// Above this many affected files an incremental run writes everything, like a full one.
pub const MAX_AFFECTED_FILES: usize = 5000;
/// Version of the cache (the facts file's layout, the digest's meaning); another version is
/// ignored (full run).
const FACTS_VERSION: u32 = 2;

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

/// A cached run's facts: the commit, each path's blob id, each parsed file's unresolved facts
/// (shared with the runs that reuse them).
#[derive(Debug, Default)]
pub struct CachedFacts {
    pub commit: String,
    pub blobs: HashMap<String, String>,
    pub files: HashMap<String, Arc<FileFacts>>,
}

impl CachedFacts {
    /// The facts of `path` when its blob is unchanged in `blobs` (the new tree's).
    pub fn reusable(&self, path: &str, blobs: &HashMap<String, String>) -> Option<Arc<FileFacts>> {
        let old = self.blobs.get(path)?;
        (blobs.get(path) == Some(old))
            .then(|| self.files.get(path).cloned())
            .flatten()
    }
}

/// Write the facts file of a run.
pub fn write_facts<F: Borrow<FileFacts> + Sync>(
    path: &Path,
    commit: &str,
    blobs: &HashMap<String, String>,
    files: &[F],
) -> std::io::Result<()> {
    let mut out = BufWriter::new(File::create(path)?);
    let header = Header {
        version: FACTS_VERSION,
        commit: commit.to_owned(),
        blobs: blobs.clone(),
    };
    serde_json::to_writer(&mut out, &header)?;
    out.write_all(b"\n")?;
    for batch in files.chunks(FILES_PER_BATCH) {
        let lines = (batch.par_iter())
            .map(|file| serde_json::to_vec(file.borrow()))
            .collect::<Result<Vec<_>, _>>()?;
        for line in lines {
            out.write_all(&line)?;
            out.write_all(b"\n")?;
        }
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
    loop {
        let batch: Vec<String> = (lines.by_ref().take(FILES_PER_BATCH))
            .collect::<Result<_, _>>()
            .ok()?;
        if batch.is_empty() {
            break;
        }
        let facts: Vec<FileFacts> = (batch.par_iter())
            .map(|line| serde_json::from_str(line))
            .collect::<Result<_, _>>()
            .ok()?;
        files.extend(facts.into_iter().map(|f| (f.path.clone(), Arc::new(f))));
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

/// A digest of a run's graph rows without the rows: one hash per file of everything the
/// file's rows are built from (its facts and what the lookups into the other files answered
/// for them, see [`RowLookups::file_digests`]). Equal hashes, equal rows: enough to tell
/// which files' rows may have changed without building the others'.
#[derive(Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RowsDigest {
    files: HashMap<String, u64>,
}

impl RowsDigest {
    /// The digest of the rows of a parse (given by its lookups); `None` when its files' rows
    /// cannot be told apart (every run of it is then a full one).
    pub fn of(lookups: &RowLookups<'_>) -> Option<Self> {
        lookups.file_digests().map(|files| Self { files })
    }

    /// Files whose rows may differ between the run of `self` and that of `new`: a hash that
    /// changed, a file added or removed.
    pub fn changed_files(&self, new: &RowsDigest) -> BTreeSet<String> {
        let mut changed: BTreeSet<String> = new
            .files
            .iter()
            .filter(|(file, hash)| self.files.get(*file) != Some(hash))
            .map(|(file, _)| file.clone())
            .collect();
        changed.extend(
            self.files
                .keys()
                .filter(|f| !new.files.contains_key(*f))
                .cloned(),
        );
        changed
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

/// What an incremental run writes and where it cleans.
#[derive(Debug, Default)]
pub struct Delta {
    /// The rows to write: every row of an affected file, and the nodes of no file they point
    /// at (written again, which changes nothing, if they exist).
    pub rows: GraphRows,
    /// Files some row of which may have been added, changed or removed.
    pub affected_files: BTreeSet<String>,
}

/// What changed from the cached run's graph (`old`, its digest) to that of a parse (given by
/// its lookups; `new` is its digest): only the affected files' rows are built. `None` when
/// more than [`MAX_AFFECTED_FILES`] files are affected: the run writes everything.
pub fn delta(old: &RowsDigest, lookups: &RowLookups<'_>, new: &RowsDigest) -> Option<Delta> {
    let affected = old.changed_files(new);
    if affected.len() > MAX_AFFECTED_FILES {
        return None;
    }
    let rows = lookups.rows_of(|file| affected.contains(file));
    Some(Delta {
        rows,
        affected_files: affected,
    })
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
    use crate::graph::{Label, NodeRef, NodeRow, RelRow, RelType};
    use crate::parse::{ParseOutput, parse_sources};
    use std::collections::BTreeMap;

    fn digest(output: &ParseOutput) -> RowsDigest {
        RowsDigest::of(&RowLookups::new(output)).expect("a digest")
    }

    type Nodes = BTreeMap<(Label, String), NodeRow>;
    type Rels = BTreeMap<(RelType, NodeRef, NodeRef), RelRow>;

    fn keyed(rows: GraphRows) -> (Nodes, Rels) {
        let nodes = rows.nodes.into_iter().flat_map(|(label, list)| {
            list.into_iter()
                .map(move |row| ((label, row.key.clone()), row))
        });
        let rels = rows.relationships.into_iter().flat_map(|(rel, list)| {
            list.into_iter()
                .map(move |row| ((rel, row.src.clone(), row.dst.clone()), row))
        });
        (nodes.collect(), rels.collect())
    }

    /// Runs `old` then `new` the incremental way on a model of the store (what persist and the
    /// cleanup of the affected files do to rows) and checks the graph equals a full index of
    /// `new`. Returns the affected files.
    fn incremental_equals_full(old: &[(&str, &str)], new: &[(&str, &str)]) -> Vec<String> {
        let (old, new) = (parse_sources(old), parse_sources(new));
        let (mut nodes, mut rels) = keyed(GraphRows::from_parse(&old));
        let new_lookups = RowLookups::new(&new);
        let delta = delta(&digest(&old), &new_lookups, &digest(&new)).expect("a delta");
        let (written_nodes, written_rels) = keyed(delta.rows);
        nodes.extend(written_nodes.clone());
        rels.extend(written_rels.clone());
        let affected = &delta.affected_files;
        let in_affected = |n: &NodeRow| n.file.as_ref().is_some_and(|f| affected.contains(f));
        let stale: BTreeSet<(Label, String)> = nodes
            .iter()
            .filter(|(key, n)| in_affected(n) && !written_nodes.contains_key(*key))
            .map(|(key, _)| key.clone())
            .collect();
        let of_affected: BTreeSet<(Label, String)> = nodes
            .iter()
            .filter(|(_, n)| in_affected(n))
            .map(|(key, _)| key.clone())
            .collect();
        nodes.retain(|key, _| !stale.contains(key));
        let at =
            |r: &NodeRef, set: &BTreeSet<(Label, String)>| set.contains(&(r.label, r.key.clone()));
        rels.retain(|key, rel| {
            if at(&rel.src, &stale) || at(&rel.dst, &stale) {
                return false;
            }
            let of_file = at(&rel.src, &of_affected) || at(&rel.dst, &of_affected);
            !(of_file && affected.contains(&rel.file) && !written_rels.contains_key(key))
        });
        let pointed: BTreeSet<(Label, String)> = rels
            .values()
            .flat_map(|r| [&r.src, &r.dst])
            .map(|r| (r.label, r.key.clone()))
            .collect();
        nodes.retain(|key, n| n.file.is_some() || pointed.contains(key));
        let (full_nodes, full_rels) = keyed(GraphRows::from_parse(&new));
        assert_eq!(nodes, full_nodes, "nodes; affected {affected:?}");
        assert_eq!(rels, full_rels, "relationships; affected {affected:?}");
        delta.affected_files.into_iter().collect()
    }

    const A: &str = "from b import g\nimport os\n\n\ndef f():\n    os.getcwd()\n    return g()\n";
    const B: &str = "def g():\n    return 1\n";
    const C: &str = "def unrelated():\n    return 2\n";

    #[test]
    fn a_digest_survives_a_file_and_the_same_commit_changes_nothing() {
        let old = parse_sources(&[("a.py", A), ("b.py", B)]);
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("digest.json");
        digest(&old).write(&path).expect("write");
        let read = RowsDigest::read(&path).expect("read back");
        assert_eq!(read, digest(&old));
        let same = delta(&read, &RowLookups::new(&old), &digest(&old)).expect("a delta");
        assert!(same.affected_files.is_empty() && same.rows.node_count() == 0);
    }

    #[test]
    fn a_renamed_function_makes_its_callers_file_affected() {
        let renamed = "def h():\n    return 1\n";
        let affected = incremental_equals_full(
            &[("a.py", A), ("b.py", B), ("c.py", C)],
            &[("a.py", A), ("b.py", renamed), ("c.py", C)],
        );
        assert_eq!(affected, ["a.py", "b.py"], "c.py is not touched");
    }

    #[test]
    fn a_function_that_becomes_a_class_changes_the_calls_into_it() {
        let class = "class g:\n    pass\n";
        let affected = incremental_equals_full(
            &[("a.py", A), ("b.py", B), ("c.py", C)],
            &[("a.py", A), ("b.py", class), ("c.py", C)],
        );
        assert_eq!(affected, ["a.py", "b.py"]);
    }

    #[test]
    fn a_deleted_file_is_affected_and_its_importers_too() {
        let affected = incremental_equals_full(
            &[("a.py", A), ("b.py", B), ("c.py", C)],
            &[("a.py", A), ("c.py", C)],
        );
        assert_eq!(affected, ["a.py", "b.py"]);
    }

    #[test]
    fn an_added_file_can_resolve_a_name_that_was_external() {
        let caller = "def f():\n    return helper()\n";
        let helper = "def helper():\n    return 3\n";
        let affected = incremental_equals_full(
            &[("a.py", caller), ("c.py", C)],
            &[("a.py", caller), ("c.py", C), ("d.py", helper)],
        );
        assert_eq!(
            affected,
            ["a.py", "d.py"],
            "the only definition of `helper`"
        );
        // And a second definition makes it ambiguous again.
        incremental_equals_full(
            &[("a.py", caller), ("c.py", C), ("d.py", helper)],
            &[
                ("a.py", caller),
                ("c.py", C),
                ("d.py", helper),
                ("e.py", helper),
            ],
        );
    }

    #[test]
    fn go_methods_follow_their_type_in_another_file() {
        let server = "package web\n\ntype Server struct{}\n";
        let handle =
            "package web\n\nfunc (s *Server) Handle() { s.Close() }\nfunc (s *Server) Close() {}\n";
        let other = "package web\n\nfunc Other() {}\n";
        let files = |server| {
            [
                ("web/server.go", server),
                ("web/handle.go", handle),
                ("web/other.go", other),
            ]
        };
        let interface = "package web\n\ntype Server interface{}\n";
        let affected = incremental_equals_full(&files(server), &files(interface));
        assert_eq!(affected, ["web/handle.go", "web/server.go"]);
        let renamed = "package web\n\ntype Served struct{}\n";
        incremental_equals_full(&files(server), &files(renamed));
        incremental_equals_full(&files(renamed), &files(server));
        let moved = "package web\n\n\n\ntype Server struct{}\n";
        let affected = incremental_equals_full(&files(server), &files(moved));
        assert_eq!(affected, ["web/server.go"], "lines of the type only");
    }

    #[test]
    fn rust_impls_in_another_file_follow_their_type() {
        let geo = "pub struct Point { x: i32 }\n";
        let imp = "use std::fmt;\nimpl Point {\n    pub fn norm(&self) -> i32 { self.x }\n}\nimpl fmt::Display for Point {\n    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result { Ok(()) }\n}\n";
        let plain = "impl Point {\n    pub fn norm(&self) -> i32 { self.x }\n}\n";
        let main =
            "mod geo;\nmod imp;\nfn main() {\n    let p = geo::Point { x: 1 };\n    p.norm();\n}\n";
        let files = |imp| {
            [
                ("src/geo.rs", geo),
                ("src/imp.rs", imp),
                ("src/main.rs", main),
            ]
        };
        // The IMPLEMENTS of `impl Display for Point` belongs to the type's file.
        let affected = incremental_equals_full(&files(imp), &files(plain));
        assert!(affected.contains(&"src/geo.rs".to_owned()), "{affected:?}");
        incremental_equals_full(&files(plain), &files(imp));
        let enum_geo = "pub enum Point { A }\n";
        incremental_equals_full(
            &[
                ("src/geo.rs", geo),
                ("src/imp.rs", imp),
                ("src/main.rs", main),
            ],
            &[
                ("src/geo.rs", enum_geo),
                ("src/imp.rs", imp),
                ("src/main.rs", main),
            ],
        );
    }

    #[test]
    fn a_series_of_edits_always_equals_a_full_index() {
        let versions: [&[(&str, &str)]; 5] = [
            &[("a.py", A), ("b.py", B)],
            &[
                ("a.py", A),
                ("b.py", "class g:\n    def run(self):\n        return g()\n"),
            ],
            &[
                ("a.py", "import b\n\n\nclass K(b.g):\n    pass\n"),
                ("b.py", "class g:\n    pass\n"),
            ],
            &[
                ("a.py", "import b\n\n\nclass K(b.g):\n    pass\n"),
                ("pkg/__init__.py", "from .m import g\n"),
                ("pkg/m.py", B),
            ],
            &[("b.py", B), ("c.py", C)],
        ];
        for pair in versions.windows(2) {
            incremental_equals_full(pair[0], pair[1]);
            incremental_equals_full(pair[1], pair[0]);
        }
    }
}
