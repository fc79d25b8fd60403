//! The embedded backend: the graph in one SQLite file (bundled SQLite, WAL journal), two tables
//! — `nodes` keyed by (repo_id, label, key) and `relationships` keyed by (repo_id, type, source,
//! target) — with properties as JSON. A write of rows is one transaction of prepared
//! statements (progress is reported batch by batch); every call runs on tokio's blocking pool,
//! holding the one connection.
//!
//! Secondary indexes cost most of a write (each entry repeats the long text keys), so there
//! are only those a lookup needs: nodes by file and by name, relationships by target. A lookup
//! by source without a type seeks the primary key once per type (`type IN (…)`); a cleanup of
//! stale rows (`run_id <> ?`) scans the repository's range, which no index on `run_id` saves.
//! Files made before drop the indexes they had beyond these ([`UNUSED_INDEXES`]) when opened.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use rusqlite::{Connection, OptionalExtension, params};

use super::dump::{DumpNode, DumpRelationship, GraphDump};
use super::query::{Direction, GraphReader, Hop, Neighbour, Symbol, SymbolFilter};
use super::records::{
    DeleteReport, GraphCounts, GraphWrite, IndexRunRecord, RepositoryRecord, RunKey, WriteReport,
};
use super::rows::{GraphRows, Label, NodeRef, REPOSITORY_KEY, RelType};
use super::value::Props;
use super::{CleanupScope, GraphError};

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS nodes (
    repo_id TEXT NOT NULL, label TEXT NOT NULL, key TEXT NOT NULL,
    file TEXT, run_id TEXT NOT NULL, props TEXT NOT NULL,
    PRIMARY KEY (repo_id, label, key)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS nodes_file ON nodes (repo_id, file);
CREATE INDEX IF NOT EXISTS nodes_name ON nodes (repo_id, lower(json_extract(props, '$.name')));
CREATE TABLE IF NOT EXISTS relationships (
    repo_id TEXT NOT NULL, type TEXT NOT NULL,
    src_label TEXT NOT NULL, src_key TEXT NOT NULL,
    dst_label TEXT NOT NULL, dst_key TEXT NOT NULL,
    file TEXT, run_id TEXT NOT NULL, props TEXT NOT NULL,
    PRIMARY KEY (repo_id, type, src_label, src_key, dst_label, dst_key)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS relationships_dst ON relationships (repo_id, dst_label, dst_key);
";

/// Indexes of earlier versions of [`SCHEMA`] that no query uses (see the module doc).
const UNUSED_INDEXES: [&str; 3] = ["nodes_run", "relationships_run", "relationships_src"];

/// Page size of a new file, in bytes (SQLite's default is 4 KiB; a file keeps the size it was
/// made with): wider pages split less often under a write's random-order index inserts and
/// make the trees shallower; a stdlib-sized write takes about a fifth less time.
const PAGE_BYTES: i64 = 16 * 1024;

/// Page cache of the connection, in KiB (SQLite's default is 2 MiB): a write's secondary
/// index pages are visited in random order and stay cached until its one commit.
const CACHE_KIB: i64 = 64 * 1024;

const UPSERT_NODE: &str = "INSERT INTO nodes (repo_id, label, key, file, run_id, props)
    VALUES (?1, ?2, ?3, ?4, ?5, ?6)
    ON CONFLICT (repo_id, label, key) DO UPDATE
    SET file = excluded.file, run_id = excluded.run_id, props = excluded.props";

const UPSERT_RELATIONSHIP: &str = "INSERT INTO relationships
    (repo_id, type, src_label, src_key, dst_label, dst_key, file, run_id, props)
    VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
    ON CONFLICT (repo_id, type, src_label, src_key, dst_label, dst_key) DO UPDATE
    SET file = excluded.file, run_id = excluded.run_id, props = excluded.props";

/// The repository node as an endpoint of the graph: created when missing, its metadata kept.
const TOUCH_REPOSITORY: &str = "INSERT INTO nodes (repo_id, label, key, file, run_id, props)
    VALUES (?1, 'Repository', ?1, NULL, ?2, '{}')
    ON CONFLICT (repo_id, label, key) DO UPDATE SET run_id = excluded.run_id";

/// A failure inside a blocking call: SQLite's, or one of ours.
enum Fail {
    Sql(rusqlite::Error),
    Graph(GraphError),
}

impl From<rusqlite::Error> for Fail {
    fn from(err: rusqlite::Error) -> Self {
        Fail::Sql(err)
    }
}

impl From<GraphError> for Fail {
    fn from(err: GraphError) -> Self {
        Fail::Graph(err)
    }
}

/// The SQLite store.
pub(crate) struct EmbeddedStore {
    conn: Arc<Mutex<Connection>>,
    path: PathBuf,
    batch_rows: usize,
}

/// One batch of rows to write: a range of one label's nodes or one type's relationships.
enum Batch {
    Nodes(Label, std::ops::Range<usize>),
    Relationships(RelType, std::ops::Range<usize>),
}

impl EmbeddedStore {
    /// Opens (or creates) the file and its schema.
    pub(crate) async fn open(path: &Path, batch_rows: usize) -> Result<Self, GraphError> {
        let owned = path.to_owned();
        let conn = tokio::task::spawn_blocking(move || -> Result<Connection, GraphError> {
            let sql = |source| GraphError::Embedded {
                path: owned.display().to_string(),
                source,
            };
            if let Some(dir) = owned.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir).map_err(|e| {
                    GraphError::Other(format!("cannot create {}: {e}", dir.display()))
                })?;
            }
            let conn = Connection::open(&owned).map_err(sql)?;
            conn.busy_timeout(std::time::Duration::from_secs(30))
                .map_err(sql)?;
            // Before the first table: it only applies to a file still empty.
            conn.pragma_update(None, "page_size", PAGE_BYTES)
                .map_err(sql)?;
            conn.pragma_update(None, "journal_mode", "WAL")
                .map_err(sql)?;
            conn.pragma_update(None, "synchronous", "NORMAL")
                .map_err(sql)?;
            conn.pragma_update(None, "cache_size", -CACHE_KIB)
                .map_err(sql)?;
            conn.execute_batch(SCHEMA).map_err(sql)?;
            drop_unused_indexes(&conn, &owned).map_err(sql)?;
            Ok(conn)
        })
        .await
        .map_err(join_error)??;
        Ok(Self {
            conn: Arc::new(Mutex::new(conn)),
            path: path.to_owned(),
            batch_rows,
        })
    }

    /// Runs `f` with the connection on the blocking pool.
    async fn with_conn<T, F>(&self, f: F) -> Result<T, GraphError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, Fail> + Send + 'static,
    {
        let conn = Arc::clone(&self.conn);
        let outcome = tokio::task::spawn_blocking(move || {
            let mut guard = conn
                .lock()
                .map_err(|_| Fail::Graph(GraphError::Other("connection lock poisoned".into())))?;
            f(&mut guard)
        })
        .await
        .map_err(join_error)?;
        outcome.map_err(|fail| match fail {
            Fail::Sql(source) => GraphError::Embedded {
                path: self.path.display().to_string(),
                source,
            },
            Fail::Graph(err) => err,
        })
    }

    pub(crate) async fn persist_metadata(
        &self,
        repo: Option<&RepositoryRecord>,
        run: &IndexRunRecord,
    ) -> Result<(), GraphError> {
        let repo_props =
            repo.map(|r| Ok::<_, GraphError>((r.repo_id.clone(), to_json(&r.to_props()?)?)));
        let repo_props = repo_props.transpose()?;
        let run_props = to_json(&run.to_props()?)?;
        let (repo_id, run_id) = (run.repo_id.clone(), run.run_id.clone());
        self.with_conn(move |conn| {
            let tx = conn.transaction()?;
            if let Some((id, props)) = &repo_props {
                tx.execute(
                    "INSERT INTO nodes (repo_id, label, key, file, run_id, props)
                     VALUES (?1, 'Repository', ?1, NULL, ?2, ?3)
                     ON CONFLICT (repo_id, label, key) DO UPDATE
                     SET run_id = excluded.run_id, props = excluded.props",
                    params![id, run_id, props],
                )?;
            }
            tx.execute(
                "INSERT INTO nodes (repo_id, label, key, file, run_id, props)
                 VALUES (?1, 'Repository', ?1, NULL, ?2, '{}') ON CONFLICT DO NOTHING",
                params![repo_id, run_id],
            )?;
            tx.execute(
                UPSERT_NODE,
                params![
                    repo_id,
                    "IndexRun",
                    run_id,
                    None::<String>,
                    run_id,
                    run_props
                ],
            )?;
            tx.execute(
                UPSERT_RELATIONSHIP,
                params![
                    repo_id,
                    RelType::HasRun.as_str(),
                    "Repository",
                    repo_id,
                    "IndexRun",
                    run_id,
                    None::<String>,
                    run_id,
                    "{}"
                ],
            )?;
            tx.commit()?;
            Ok(())
        })
        .await
    }

    pub(crate) async fn begin_graph_write(&self, run: RunKey<'_>) -> Result<bool, GraphError> {
        let (repo, run) = (run.repo_id.to_owned(), run.run_id.to_owned());
        self.with_conn(move |conn| {
            let into_empty = !has_code_nodes(conn, &repo)?;
            conn.execute(TOUCH_REPOSITORY, params![repo, run])?;
            Ok(into_empty)
        })
        .await
    }

    pub(crate) async fn persist_graph(
        &self,
        write: GraphWrite<'_>,
    ) -> Result<WriteReport, GraphError> {
        let (repo, run) = (write.run.repo_id.to_owned(), write.run.run_id.to_owned());
        let rows = write.rows;
        let mut batches = Vec::new();
        for (label, list) in &rows.nodes {
            for start in (0..list.len()).step_by(self.batch_rows) {
                batches.push(Batch::Nodes(
                    *label,
                    start..list.len().min(start + self.batch_rows),
                ));
            }
        }
        for (rel, list) in &rows.relationships {
            for start in (0..list.len()).step_by(self.batch_rows) {
                batches.push(Batch::Relationships(
                    *rel,
                    start..list.len().min(start + self.batch_rows),
                ));
            }
        }
        let steps = batches.len() as u64;
        // The blocking call sends the rows written after each batch; they are reported here.
        let (sent, mut received) = tokio::sync::mpsc::unbounded_channel();
        let shared = Arc::clone(rows);
        let writing = self.with_conn(move |conn| {
            let tx = conn.transaction()?;
            let mut written = 0;
            for batch in &batches {
                written += write_batch(&tx, &shared, batch, &repo, &run)?;
                // The receiver outlives the call unless the write was abandoned.
                let _ = sent.send(written);
            }
            tx.commit()?;
            Ok(())
        });
        let reporting = async {
            while let Some(written) = received.recv().await {
                (write.written)(written);
            }
        };
        let (outcome, ()) = tokio::join!(writing, reporting);
        outcome?;
        Ok(WriteReport::of(rows, steps, write.into_empty))
    }

    pub(crate) async fn cleanup_stale(
        &self,
        run: RunKey<'_>,
        scope: &CleanupScope,
    ) -> Result<DeleteReport, GraphError> {
        let (repo, run) = (run.repo_id.to_owned(), run.run_id.to_owned());
        match scope {
            CleanupScope::All => {
                self.with_conn(move |conn| cleanup_all(conn, &repo, &run))
                    .await
            }
            CleanupScope::Files(files) => {
                let files = files.clone();
                self.with_conn(move |conn| cleanup_files(conn, &repo, &run, &files))
                    .await
            }
        }
    }

    pub(crate) async fn dump(&self, repo_id: &str) -> Result<GraphDump, GraphError> {
        let repo = repo_id.to_owned();
        self.with_conn(move |conn| {
            let mut nodes = Vec::new();
            let mut stmt = conn.prepare(
                "SELECT label, key, file, props FROM nodes WHERE repo_id = ?1 AND label <> 'IndexRun'",
            )?;
            let mut rows = stmt.query(params![repo])?;
            while let Some(row) = rows.next()? {
                let label: String = row.get(0)?;
                let repository = label == Label::Repository.as_str();
                nodes.push(DumpNode {
                    key: if repository { REPOSITORY_KEY.to_owned() } else { row.get(1)? },
                    file: row.get(2)?,
                    props: if repository { Props::new() } else { from_json(&row.get::<_, String>(3)?)? },
                    label,
                });
            }
            let mut relationships = Vec::new();
            let mut stmt = conn.prepare(
                "SELECT type, src_label, src_key, dst_label, dst_key, file, props FROM relationships
                 WHERE repo_id = ?1 AND type <> 'HAS_RUN'",
            )?;
            let mut rows = stmt.query(params![repo])?;
            let endpoint = |label: &str, key: String| {
                if label == Label::Repository.as_str() { REPOSITORY_KEY.to_owned() } else { key }
            };
            while let Some(row) = rows.next()? {
                let src_label: String = row.get(1)?;
                let dst_label: String = row.get(3)?;
                relationships.push(DumpRelationship {
                    rel_type: row.get(0)?,
                    src_key: endpoint(&src_label, row.get(2)?),
                    dst_key: endpoint(&dst_label, row.get(4)?),
                    src_label,
                    dst_label,
                    file: row.get(5)?,
                    props: from_json(&row.get::<_, String>(6)?)?,
                });
            }
            Ok(GraphDump::new(nodes, relationships))
        })
        .await
    }
}

impl GraphReader for EmbeddedStore {
    async fn repository(&self, repo_id: &str) -> Result<Option<RepositoryRecord>, GraphError> {
        let repo = repo_id.to_owned();
        self.with_conn(move |conn| {
            let props: Option<String> = conn
                .query_row(
                    "SELECT props FROM nodes WHERE repo_id = ?1 AND label = 'Repository' AND key = ?1",
                    params![repo],
                    |row| row.get(0),
                )
                .optional()?;
            match props {
                Some(props) => Ok(RepositoryRecord::from_props(&repo, &from_json(&props)?)?),
                None => Ok(None),
            }
        })
        .await
    }

    async fn index_runs(&self, repo_id: &str) -> Result<Vec<IndexRunRecord>, GraphError> {
        let repo = repo_id.to_owned();
        self.with_conn(move |conn| {
            let mut stmt = conn.prepare(
                "SELECT key, props FROM nodes WHERE repo_id = ?1 AND label = 'IndexRun'",
            )?;
            let rows = stmt.query_map(params![repo], |row| {
                Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?))
            })?;
            let mut runs = Vec::new();
            for row in rows {
                let (run_id, props) = row?;
                runs.push(IndexRunRecord::from_props(
                    &repo,
                    &run_id,
                    &from_json(&props)?,
                )?);
            }
            Ok(runs)
        })
        .await
    }

    async fn counts(&self, repo_id: &str) -> Result<GraphCounts, GraphError> {
        let repo = repo_id.to_owned();
        self.with_conn(move |conn| {
            let mut counts = GraphCounts::default();
            for (table, column, into) in [
                ("nodes", "label", &mut counts.nodes),
                ("relationships", "type", &mut counts.relationships),
            ] {
                let mut stmt = conn.prepare(&format!(
                    "SELECT {column}, count(*) FROM {table} WHERE repo_id = ?1 GROUP BY {column}"
                ))?;
                let rows = stmt.query_map(params![repo], |row| {
                    Ok((row.get::<_, String>(0)?, row.get::<_, i64>(1)?))
                })?;
                for row in rows {
                    let (name, count) = row?;
                    into.insert(name, u64::try_from(count).unwrap_or_default());
                }
            }
            Ok(counts)
        })
        .await
    }

    async fn repo_ids(&self) -> Result<Vec<String>, GraphError> {
        self.with_conn(|conn| {
            // Distinct leading key of the primary key, one index seek per repository.
            let mut stmt = conn.prepare_cached(
                "WITH RECURSIVE r(id) AS (
                    SELECT min(repo_id) FROM nodes
                    UNION ALL
                    SELECT (SELECT min(repo_id) FROM nodes WHERE repo_id > r.id) FROM r
                    WHERE r.id IS NOT NULL)
                 SELECT id FROM r WHERE id IS NOT NULL",
            )?;
            let ids = stmt
                .query_map([], |row| row.get::<_, String>(0))?
                .collect::<Result<Vec<_>, _>>()?;
            Ok(ids)
        })
        .await
    }

    async fn symbols(&self, repo: &str, of: SymbolFilter<'_>) -> Result<Vec<Symbol>, GraphError> {
        let labels = label_list(of.labels());
        let (condition, args) = match of {
            SymbolFilter::Key(key) => ("key = ?2".to_owned(), vec![key.to_owned()]),
            SymbolFilter::File(path) => ("file = ?2".to_owned(), vec![path.to_owned()]),
            SymbolFilter::Name(name) => (
                format!("{LOWER_NAME} = ?2 AND {NAME} = ?3"),
                vec![name.to_ascii_lowercase(), name.to_owned()],
            ),
            SymbolFilter::NamePrefix(prefix) => (
                format!("{LOWER_NAME} >= ?2 AND {LOWER_NAME} < ?3"),
                vec![prefix.to_owned(), format!("{prefix}\u{10FFFF}")],
            ),
        };
        let repo = repo.to_owned();
        self.with_conn(move |conn| {
            let mut stmt = conn.prepare_cached(&format!(
                "SELECT label, key, file, props FROM nodes
                 WHERE repo_id = ?1 AND {condition} AND label IN ({labels})"
            ))?;
            let args = std::iter::once(&repo).chain(&args);
            symbols(&repo, stmt.query(rusqlite::params_from_iter(args))?)
        })
        .await
    }

    async fn neighbours(&self, repo: &str, hop: Hop<'_>) -> Result<Vec<Neighbour>, GraphError> {
        let Hop { rel, at, direction } = hop;
        let (repo, nodes) = (repo.to_owned(), at.to_vec());
        self.with_conn(move |conn| {
            let (near, far) = match direction {
                Direction::Incoming => ("dst", "src"),
                Direction::Outgoing => ("src", "dst"),
            };
            let mut stmt = conn.prepare_cached(&format!(
                "SELECT n.label, n.key, n.file, n.props, r.props FROM relationships r
                 JOIN nodes n ON n.repo_id = r.repo_id AND n.label = r.{far}_label
                     AND n.key = r.{far}_key
                 WHERE r.repo_id = ?1 AND r.{near}_label = ?2 AND r.{near}_key = ?3
                 AND r.type = ?4"
            ))?;
            let mut out = Vec::new();
            for node in &nodes {
                let mut rows =
                    stmt.query(params![repo, node.label.as_str(), node.key, rel.as_str()])?;
                while let Some(row) = rows.next()? {
                    out.push(Neighbour {
                        near: node.key.clone(),
                        far: symbol(&repo, row)?,
                        props: from_json(&row.get::<_, String>(4)?)?,
                    });
                }
            }
            Ok(out)
        })
        .await
    }
}

/// Everything of `repo` that `run` did not write, scanned in one transaction.
fn cleanup_all(conn: &mut Connection, repo: &str, run: &str) -> Result<DeleteReport, Fail> {
    let tx = conn.transaction()?;
    let stale_node = "repo_id = ?1 AND run_id <> ?2 AND label NOT IN ('Repository', 'IndexRun')";
    let mut relationships = tx.execute(
        "DELETE FROM relationships WHERE repo_id = ?1 AND run_id <> ?2 AND type <> 'HAS_RUN'",
        params![repo, run],
    )?;
    // Detach: relationships that end at a stale node go with it (unqualified columns of the
    // subquery are those of `nodes`).
    for end in ["src", "dst"] {
        relationships += tx.execute(
            &format!(
                "DELETE FROM relationships AS r WHERE r.repo_id = ?1 AND EXISTS (
                    SELECT 1 FROM nodes WHERE nodes.repo_id = ?1 AND nodes.label = r.{end}_label
                    AND nodes.key = r.{end}_key AND {stale_node})"
            ),
            params![repo, run],
        )?;
    }
    let mut nodes = tx.execute(
        &format!("DELETE FROM nodes WHERE {stale_node}"),
        params![repo, run],
    )?;
    nodes += tx.execute(
        &format!(
            "DELETE FROM nodes WHERE repo_id = ?1 AND label IN ('Directory', 'External')
             AND NOT EXISTS (SELECT 1 FROM relationships r WHERE r.repo_id = ?1
                 AND r.type IN ({all_types}) AND r.src_label = nodes.label
                 AND r.src_key = nodes.key)
             AND NOT EXISTS (SELECT 1 FROM relationships r WHERE r.repo_id = ?1
                 AND r.dst_label = nodes.label AND r.dst_key = nodes.key)",
            all_types = type_list(|_| true),
        ),
        params![repo],
    )?;
    tx.commit()?;
    Ok(DeleteReport {
        nodes: nodes as u64,
        relationships: relationships as u64,
    })
}

/// What `run` did not write in `files` only, by index seeks: the cost of the files, not of
/// the repository. A relationship's `file` is that of one of its ends (see [`super`]), so the
/// stale relationships of a file are found from the file's nodes. The Directory and External
/// nodes that lose their last relationship here go too: only a deleted relationship can leave
/// one alone.
fn cleanup_files(
    conn: &mut Connection,
    repo: &str,
    run: &str,
    files: &[String],
) -> Result<DeleteReport, Fail> {
    let tx = conn.transaction()?;
    let mut relationships = 0;
    let mut nodes = 0;
    let mut lonely: BTreeSet<(String, String)> = BTreeSet::new();
    {
        // INDEXED BY: without statistics SQLite prefers the repository's primary-key range to
        // an index that does not cover the columns read, and each lookup would scan it.
        let mut of_file = tx.prepare_cached(
            "SELECT label, key, run_id <> ?3 AND label NOT IN ('Repository', 'IndexRun')
             FROM nodes INDEXED BY nodes_file WHERE repo_id = ?1 AND file = ?2",
        )?;
        // From a source: the primary key, a seek per type; to a target: its index.
        let code_types = type_list(|t| t != RelType::HasRun);
        let mut delete_rels: Vec<rusqlite::CachedStatement<'_>> = [
            (
                "",
                format!("type IN ({code_types}) AND src_label = ?2 AND src_key = ?3"),
            ),
            (
                "INDEXED BY relationships_dst",
                "dst_label = ?2 AND dst_key = ?3 AND type <> 'HAS_RUN'".to_owned(),
            ),
        ]
        .iter()
        .map(|(index, of_end)| {
            tx.prepare_cached(&format!(
                "DELETE FROM relationships {index} WHERE repo_id = ?1 AND {of_end}
                 AND (?4 OR (run_id <> ?5 AND file IS ?6))
                 RETURNING src_label, src_key, dst_label, dst_key"
            ))
        })
        .collect::<Result<_, _>>()?;
        let mut delete_node =
            tx.prepare_cached("DELETE FROM nodes WHERE repo_id = ?1 AND label = ?2 AND key = ?3")?;
        for file in files {
            let found = of_file
                .query_map(params![repo, file, run], |row| {
                    Ok((
                        row.get::<_, String>(0)?,
                        row.get::<_, String>(1)?,
                        row.get::<_, bool>(2)?,
                    ))
                })?
                .collect::<Result<Vec<_>, _>>()?;
            for (label, key, stale) in found {
                for delete in &mut delete_rels {
                    let mut rows = delete.query(params![repo, label, key, stale, run, file])?;
                    while let Some(row) = rows.next()? {
                        relationships += 1;
                        for (l, k) in [(0_usize, 1_usize), (2, 3)] {
                            let end_label: String = row.get(l)?;
                            if end_label == Label::Directory.as_str()
                                || end_label == Label::External.as_str()
                            {
                                lonely.insert((end_label, row.get(k)?));
                            }
                        }
                    }
                }
                if stale {
                    nodes += delete_node.execute(params![repo, label, key])?;
                }
            }
        }
        let mut delete_lonely = tx.prepare_cached(&format!(
            "DELETE FROM nodes WHERE repo_id = ?1 AND label = ?2 AND key = ?3
             AND NOT EXISTS (SELECT 1 FROM relationships r WHERE r.repo_id = ?1
                 AND r.type IN ({all_types}) AND r.src_label = ?2 AND r.src_key = ?3)
             AND NOT EXISTS (SELECT 1 FROM relationships r WHERE r.repo_id = ?1
                 AND r.dst_label = ?2 AND r.dst_key = ?3)",
            all_types = type_list(|_| true),
        ))?;
        for (label, key) in &lonely {
            nodes += delete_lonely.execute(params![repo, label, key])?;
        }
    }
    tx.commit()?;
    Ok(DeleteReport {
        nodes: nodes as u64,
        relationships: relationships as u64,
    })
}

/// Whether the repository has any node besides `Repository` and `IndexRun`.
fn has_code_nodes(conn: &Connection, repo: &str) -> Result<bool, Fail> {
    let found = conn
        .query_row(
            "SELECT 1 FROM nodes WHERE repo_id = ?1 AND label NOT IN ('Repository', 'IndexRun')
             LIMIT 1",
            params![repo],
            |_| Ok(()),
        )
        .optional()?;
    Ok(found.is_some())
}

/// Drops the [`UNUSED_INDEXES`] a file made by an earlier version has, once.
fn drop_unused_indexes(conn: &Connection, path: &Path) -> rusqlite::Result<()> {
    for index in UNUSED_INDEXES {
        let found = conn
            .query_row(
                "SELECT 1 FROM sqlite_schema WHERE type = 'index' AND name = ?1",
                params![index],
                |_| Ok(()),
            )
            .optional()?;
        if found.is_some() {
            tracing::info!(path = %path.display(), index, "dropping an index no query uses");
            conn.execute_batch(&format!("DROP INDEX {index}"))?;
        }
    }
    Ok(())
}

/// Writes one batch inside the write's transaction; returns the rows written.
fn write_batch(
    tx: &rusqlite::Transaction<'_>,
    rows: &GraphRows,
    batch: &Batch,
    repo: &str,
    run: &str,
) -> Result<u64, Fail> {
    let mut written = 0;
    match batch {
        Batch::Nodes(label, range) => {
            let mut stmt = tx.prepare_cached(UPSERT_NODE)?;
            for row in rows.nodes.get(label).map_or(&[][..], |r| &r[range.clone()]) {
                stmt.execute(params![
                    repo,
                    label.as_str(),
                    row.key,
                    row.file,
                    run,
                    to_json(&row.props)?
                ])?;
                written += 1;
            }
        }
        Batch::Relationships(rel, range) => {
            let mut stmt = tx.prepare_cached(UPSERT_RELATIONSHIP)?;
            let key = |node: &NodeRef| -> String {
                if node.label == Label::Repository {
                    repo.to_owned()
                } else {
                    node.key.clone()
                }
            };
            for row in rows
                .relationships
                .get(rel)
                .map_or(&[][..], |r| &r[range.clone()])
            {
                stmt.execute(params![
                    repo,
                    rel.as_str(),
                    row.src.label.as_str(),
                    key(&row.src),
                    row.dst.label.as_str(),
                    key(&row.dst),
                    row.file,
                    run,
                    to_json(&row.props)?
                ])?;
                written += 1;
            }
        }
    }
    Ok(written)
}

/// The short name of a definition, as stored.
const NAME: &str = "json_extract(props, '$.name')";
/// The same, ASCII-lower-cased: the expression of the `nodes_name` index.
const LOWER_NAME: &str = "lower(json_extract(props, '$.name'))";

/// `'A', 'B'` for an `IN` list of the relationship types `keep` accepts (constants).
fn type_list(keep: impl Fn(RelType) -> bool) -> String {
    RelType::ALL
        .into_iter()
        .filter(|&t| keep(t))
        .map(|t| format!("'{}'", t.as_str()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `'A', 'B'` for an `IN` list of labels (constants, never user input).
fn label_list(labels: &[Label]) -> String {
    labels
        .iter()
        .map(|l| format!("'{}'", l.as_str()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The node of a `label, key, file, props` row.
fn symbol(repo: &str, row: &rusqlite::Row<'_>) -> Result<Symbol, Fail> {
    let label: String = row.get(0)?;
    let props = from_json(&row.get::<_, String>(3)?)?;
    Ok(Symbol::of(repo, &label, row.get(1)?, row.get(2)?, &props))
}

fn symbols(repo: &str, mut rows: rusqlite::Rows<'_>) -> Result<Vec<Symbol>, Fail> {
    let mut out = Vec::new();
    while let Some(row) = rows.next()? {
        out.push(symbol(repo, row)?);
    }
    Ok(out)
}

fn to_json<T: serde::Serialize + ?Sized>(value: &T) -> Result<String, GraphError> {
    serde_json::to_string(value).map_err(|e| GraphError::Other(e.to_string()))
}

fn from_json(text: &str) -> Result<Props, GraphError> {
    serde_json::from_str(text)
        .map_err(|e| GraphError::Other(format!("stored properties are not valid: {e}")))
}

fn join_error(err: tokio::task::JoinError) -> GraphError {
    GraphError::Other(format!("embedded store task failed: {err}"))
}
