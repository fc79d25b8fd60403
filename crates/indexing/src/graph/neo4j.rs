//! The Neo4j backend, over Bolt with `neo4rs`. Writes are `UNWIND $rows …` statements of
//! `batch_size` rows, each row one property map (identity included): nodes per label (`CREATE`
//! into a repository without code nodes, else `MERGE` on the `(repo_id, key)` uniqueness
//! constraint), returning their element ids; then relationships per type, each end found by
//! the element id its node's statement returned, or, for a node the same write did not write
//! (another part's, an unchanged file's), by label and key. Statements are committed every
//! `max_rows_per_transaction` rows. Deletes run as `CALL (x) { … } IN TRANSACTIONS`, which
//! only works in auto-commit transactions (`Graph::run`/`Graph::execute`).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use neo4rs::{
    BoltList, BoltMap, BoltNull, BoltString, BoltType, ConfigBuilder, Graph, Query, query,
};

use super::dump::{DumpNode, DumpRelationship, GraphDump};
use super::error::Neo4jTarget;
use super::query::{Direction, GraphReader, Hop, Neighbour, Symbol, SymbolFilter};
use super::records::{
    DeleteReport, GraphCounts, GraphWrite, IndexRunRecord, RepositoryRecord, RunKey, WriteReport,
};
use super::rows::{Label, NodeRef, NodeRow, REPOSITORY_KEY, RelRow};
use super::settings::GraphSettings;
use super::value::{Props, Value};
use super::{CleanupScope, GraphError};

/// Properties every node and relationship carries besides its own.
const IDENTITY: [&str; 4] = ["repo_id", "key", "run_id", "file"];

/// The Neo4j store. Holds no password (the driver keeps it for reconnects).
pub(crate) struct Neo4jStore {
    graph: Graph,
    uri: String,
    user: String,
    password_env: String,
    batch_rows: usize,
    transaction_rows: usize,
}

impl Neo4jStore {
    /// Connects and creates the schema (idempotent).
    pub(crate) async fn open(settings: &GraphSettings) -> Result<Self, GraphError> {
        let target = Neo4jTarget {
            uri: &settings.uri,
            user: &settings.user,
            password_env: &settings.password_env,
        };
        let password = std::env::var(&settings.password_env).map_err(|_| {
            target.auth(format!(
                "environment variable {} is not set",
                settings.password_env
            ))
        })?;
        let mut config = ConfigBuilder::default()
            .uri(settings.uri.as_str())
            .user(settings.user.as_str())
            .password(password)
            .fetch_size(1000)
            .max_connections(4);
        if let Some(db) = &settings.database {
            config = config.db(db.as_str());
        }
        let config = config.build().map_err(|e| target.error(e))?;
        let graph = Graph::connect(config).await.map_err(|e| target.error(e))?;
        let store = Self {
            graph,
            uri: settings.uri.clone(),
            user: settings.user.clone(),
            password_env: settings.password_env.clone(),
            batch_rows: settings.batch_rows(),
            transaction_rows: settings.transaction_rows(),
        };
        store.ensure_schema().await?;
        Ok(store)
    }

    fn error(&self, err: neo4rs::Error) -> GraphError {
        Neo4jTarget {
            uri: &self.uri,
            user: &self.user,
            password_env: &self.password_env,
        }
        .error(err)
    }

    async fn run(&self, q: Query) -> Result<(), GraphError> {
        self.graph.run(q).await.map_err(|e| self.error(e))
    }

    /// Runs a read and returns its rows.
    async fn rows(&self, q: Query) -> Result<Vec<neo4rs::Row>, GraphError> {
        let mut stream = self.graph.execute(q).await.map_err(|e| self.error(e))?;
        let mut rows = Vec::new();
        while let Some(row) = stream.next().await.map_err(|e| self.error(e))? {
            rows.push(row);
        }
        Ok(rows)
    }

    async fn ensure_schema(&self) -> Result<(), GraphError> {
        for label in Label::ALL {
            let (name, l) = (label.as_str().to_ascii_lowercase(), label.as_str());
            self.create_schema_rule(format!(
                "CREATE CONSTRAINT graph_{name}_key IF NOT EXISTS FOR (n:{l}) REQUIRE (n.repo_id, n.key) IS UNIQUE"
            ))
            .await?;
            self.create_schema_rule(format!(
                "CREATE INDEX graph_{name}_run IF NOT EXISTS FOR (n:{l}) ON (n.repo_id, n.run_id)"
            ))
            .await?;
        }
        for label in Label::DEFINITIONS {
            let (name, l) = (label.as_str().to_ascii_lowercase(), label.as_str());
            for property in ["name", "file"] {
                self.create_schema_rule(format!(
                    "CREATE INDEX graph_{name}_{property} IF NOT EXISTS FOR (n:{l}) ON (n.repo_id, n.{property})"
                ))
                .await?;
            }
        }
        self.run(query("CALL db.awaitIndexes(300)")).await
    }

    /// Runs one `CREATE … IF NOT EXISTS`. Two stores opening at once can race on the same
    /// rule: the loser is told an equivalent rule exists, which is the outcome it wanted.
    async fn create_schema_rule(&self, cypher: String) -> Result<(), GraphError> {
        match self.graph.run(query(&cypher)).await {
            Err(neo4rs::Error::Neo4j(e))
                if e.code() == "Neo.ClientError.Schema.EquivalentSchemaRuleAlreadyExists" =>
            {
                Ok(())
            }
            outcome => outcome.map_err(|e| self.error(e)),
        }
    }

    pub(crate) async fn persist_metadata(
        &self,
        repo: Option<&RepositoryRecord>,
        run: &IndexRunRecord,
    ) -> Result<(), GraphError> {
        if let Some(repo) = repo {
            self.run(
                query(
                    "MERGE (n:Repository {repo_id: $repo, key: $repo})
                     SET n = $props, n.repo_id = $repo, n.key = $repo, n.run_id = $run",
                )
                .param("repo", repo.repo_id.as_str())
                .param("run", run.run_id.as_str())
                .param("props", props_to_bolt(&repo.to_props()?, [])),
            )
            .await?;
        }
        self.run(
            query(
                "MERGE (r:Repository {repo_id: $repo, key: $repo})
                 ON CREATE SET r.run_id = $run
                 MERGE (n:IndexRun {repo_id: $repo, key: $run})
                 SET n = $props, n.repo_id = $repo, n.key = $run, n.run_id = $run
                 MERGE (r)-[e:HAS_RUN]->(n)
                 SET e.repo_id = $repo, e.run_id = $run",
            )
            .param("repo", run.repo_id.as_str())
            .param("run", run.run_id.as_str())
            .param("props", props_to_bolt(&run.to_props()?, [])),
        )
        .await
    }

    pub(crate) async fn begin_graph_write(&self, run: RunKey<'_>) -> Result<bool, GraphError> {
        self.run(
            query("MERGE (n:Repository {repo_id: $repo, key: $repo}) SET n.run_id = $run")
                .param("repo", run.repo_id)
                .param("run", run.run_id),
        )
        .await?;
        Ok(!self.has_code_nodes(run.repo_id).await?)
    }

    pub(crate) async fn persist_graph(
        &self,
        write: GraphWrite<'_>,
    ) -> Result<WriteReport, GraphError> {
        let GraphWrite {
            run,
            rows,
            written: report,
            into_empty,
        } = write;
        let RunKey { repo_id, run_id } = run;
        // A repository without a code node (its first index, or a first write that committed
        // nothing) is written with CREATE: nothing can match, and CREATE skips MERGE's
        // lookup and lock of every row. Anything already there (a re-index, a retried write
        // that committed part of its batches) is merged.
        let write = if into_empty { "CREATE" } else { "MERGE" };
        let mut batches = Batches::new(self, run, report);
        // The element id of every node this write writes, when relationships follow: they
        // find those ends by id instead of by two index seeks each.
        let mut written: Option<WrittenIds> = (rows.relationship_count() > 0).then(HashMap::new);

        for (label, list) in &rows.nodes {
            let node = match into_empty {
                true => format!("CREATE (n:{})", label.as_str()),
                false => format!(
                    "MERGE (n:{} {{repo_id: $repo, key: r.key}})",
                    label.as_str()
                ),
            };
            let returning = if written.is_some() {
                " RETURN r.key AS k, elementId(n) AS e"
            } else {
                ""
            };
            let cypher = format!("UNWIND $rows AS r {node} SET n = r{returning}");
            let node_row = |row: &NodeRow| {
                let identity = [
                    ("repo_id", BoltType::from(repo_id)),
                    ("key", row.key.as_str().into()),
                    ("run_id", run_id.into()),
                    ("file", row.file.as_deref().into()),
                ];
                props_to_bolt(&row.props, identity)
            };
            let ids = written.as_mut().map(|ids| ids.entry(*label).or_default());
            batches.run_all(&cypher, list, node_row, ids).await?;
        }

        let ids = written.unwrap_or_default();
        for (rel, list) in &rows.relationships {
            let mut groups: BTreeMap<(End, End), Vec<&RelRow>> = BTreeMap::new();
            for row in list {
                let ends = (
                    End::of(&row.src, &ids, repo_id).0,
                    End::of(&row.dst, &ids, repo_id).0,
                );
                groups.entry(ends).or_default().push(row);
            }
            for ((src, dst), list) in groups {
                let cypher = format!(
                    "UNWIND $rows AS r {} {} {write} (a)-[e:{}]->(b) SET e = r.p",
                    src.pattern("a", "s"),
                    dst.pattern("b", "d"),
                    rel.as_str()
                );
                let rel_row = |row: &&RelRow| {
                    let identity = [
                        ("repo_id", BoltType::from(repo_id)),
                        ("file", row.file.as_str().into()),
                        ("run_id", run_id.into()),
                    ];
                    bolt_map([
                        ("s", End::of(&row.src, &ids, repo_id).1.into()),
                        ("d", End::of(&row.dst, &ids, repo_id).1.into()),
                        ("p", props_to_bolt(&row.props, identity)),
                    ])
                };
                batches.run_all(&cypher, &list, rel_row, None).await?;
            }
        }
        let statements = batches.finish().await?;
        Ok(WriteReport::of(rows, statements, into_empty))
    }

    pub(crate) async fn cleanup_stale(
        &self,
        run: RunKey<'_>,
        scope: &CleanupScope,
    ) -> Result<DeleteReport, GraphError> {
        let RunKey { repo_id, run_id } = run;
        if let CleanupScope::Files(files) = scope {
            return self.cleanup_files(run, files).await;
        }
        let n = self.batch_rows;
        let with_params =
            |cypher: String| query(&cypher).param("repo", repo_id).param("run", run_id);
        let mut report = DeleteReport::default();
        for label in Label::ALL.into_iter().filter(|l| *l != Label::IndexRun) {
            let cypher = format!(
                "MATCH (a:{l} {{repo_id: $repo}})-[x]->()
                 WHERE x.run_id <> $run AND type(x) <> 'HAS_RUN'
                 CALL (x) {{ DELETE x }} IN TRANSACTIONS OF {n} ROWS
                 RETURN count(*) AS deleted",
                l = label.as_str()
            );
            report.relationships += self.count(with_params(cypher), "deleted").await?;
        }
        for label in Label::ALL.into_iter().filter(|l| !l.is_metadata()) {
            let cypher = format!(
                "MATCH (x:{l} {{repo_id: $repo}}) WHERE x.run_id <> $run
                 CALL (x) {{ WITH x, COUNT {{ (x)--() }} AS d DETACH DELETE x RETURN d }}
                 IN TRANSACTIONS OF {n} ROWS
                 RETURN count(*) AS nodes, coalesce(sum(d), 0) AS relationships",
                l = label.as_str()
            );
            for row in self.rows(with_params(cypher)).await? {
                report.nodes += get_u64(&row, "nodes")?;
                report.relationships += get_u64(&row, "relationships")?;
            }
        }
        for label in [Label::Directory, Label::External] {
            let cypher = format!(
                "MATCH (x:{l} {{repo_id: $repo}}) WHERE NOT (x)--()
                 CALL (x) {{ DELETE x }} IN TRANSACTIONS OF {n} ROWS
                 RETURN count(*) AS deleted",
                l = label.as_str()
            );
            report.nodes += self.count(with_params(cypher), "deleted").await?;
        }
        Ok(report)
    }

    /// What `run` did not write in `files` only, from the files' nodes (a `File` by its key,
    /// definitions by the `file` index): the cost of the files, not of the repository. A
    /// relationship's `file` is that of one of its ends (see [`super`]). The Directory and
    /// External nodes that lose their last relationship here go too: only a deleted
    /// relationship can leave one alone.
    async fn cleanup_files(
        &self,
        run: RunKey<'_>,
        files: &[String],
    ) -> Result<DeleteReport, GraphError> {
        let RunKey { repo_id, run_id } = run;
        let with_params = |cypher: &str| {
            query(cypher)
                .param("repo", repo_id)
                .param("run", run_id)
                .param("files", files.to_vec())
        };
        let lookups = std::iter::once((Label::File, "key"))
            .chain(Label::DEFINITIONS.iter().map(|label| (*label, "file")));
        let mut report = DeleteReport::default();
        let mut lonely: BTreeSet<String> = BTreeSet::new();
        let mut ends_of = |row: &neo4rs::Row| -> Result<(), GraphError> {
            let ends: Vec<String> = row
                .get("ends")
                .map_err(|e| GraphError::Other(format!("column ends: {e}")))?;
            lonely.extend(ends);
            Ok(())
        };
        for (label, property) in lookups.clone() {
            let cypher = format!(
                "UNWIND $files AS f
                 MATCH (n:{l} {{repo_id: $repo, {property}: f}})-[x]-()
                 WHERE x.run_id <> $run AND x.file = f AND type(x) <> 'HAS_RUN'
                 WITH DISTINCT x
                 WITH x, [e IN [startNode(x), endNode(x)]
                     WHERE e:Directory OR e:External | elementId(e)] AS ends
                 DELETE x
                 RETURN count(*) AS deleted, reduce(a = [], e IN collect(ends) | a + e) AS ends",
                l = label.as_str()
            );
            for row in self.rows(with_params(&cypher)).await? {
                report.relationships += get_u64(&row, "deleted")?;
                ends_of(&row)?;
            }
        }
        for (label, property) in lookups {
            let cypher = format!(
                "UNWIND $files AS f
                 MATCH (x:{l} {{repo_id: $repo, {property}: f}}) WHERE x.run_id <> $run
                 OPTIONAL MATCH (x)--(e) WHERE e:Directory OR e:External
                 WITH x, collect(DISTINCT elementId(e)) AS ends
                 WITH x, ends, COUNT {{ (x)--() }} AS d
                 DETACH DELETE x
                 RETURN count(*) AS nodes, coalesce(sum(d), 0) AS relationships,
                     reduce(a = [], e IN collect(ends) | a + e) AS ends",
                l = label.as_str()
            );
            for row in self.rows(with_params(&cypher)).await? {
                report.nodes += get_u64(&row, "nodes")?;
                report.relationships += get_u64(&row, "relationships")?;
                ends_of(&row)?;
            }
        }
        if !lonely.is_empty() {
            let cypher = "UNWIND $ids AS id MATCH (e) WHERE elementId(e) = id AND NOT (e)--()
                 DELETE e RETURN count(*) AS deleted";
            let ids: Vec<String> = lonely.into_iter().collect();
            report.nodes += self
                .count(query(cypher).param("ids", ids), "deleted")
                .await?;
        }
        Ok(report)
    }

    /// Whether the repository has any node besides `Repository` and `IndexRun`.
    async fn has_code_nodes(&self, repo_id: &str) -> Result<bool, GraphError> {
        let matches = Label::CODE.iter().map(|l| {
            format!(
                "MATCH (n:{} {{repo_id: $repo}}) RETURN n LIMIT 1",
                l.as_str()
            )
        });
        let cypher = format!("CALL {{ {} }} RETURN count(n) AS c", union(matches));
        let found = self
            .count(query(&cypher).param("repo", repo_id), "c")
            .await?;
        Ok(found > 0)
    }

    /// The rows of `cypher` with `$repo` bound to `repo_id`.
    async fn repo_rows(&self, cypher: &str, repo_id: &str) -> Result<Vec<neo4rs::Row>, GraphError> {
        self.rows(query(cypher).param("repo", repo_id)).await
    }

    /// Runs a query that returns counts in `column`; their sum.
    async fn count(&self, q: Query, column: &str) -> Result<u64, GraphError> {
        let mut total = 0;
        for row in self.rows(q).await? {
            total += get_u64(&row, column)?;
        }
        Ok(total)
    }

    pub(crate) async fn dump(&self, repo_id: &str) -> Result<GraphDump, GraphError> {
        let mut nodes = Vec::new();
        let mut relationships = Vec::new();
        let endpoint = |label: &str, key: String| {
            if label == Label::Repository.as_str() {
                REPOSITORY_KEY.to_owned()
            } else {
                key
            }
        };
        for label in Label::ALL.into_iter().filter(|l| *l != Label::IndexRun) {
            let l = label.as_str();
            let cypher = format!(
                "MATCH (n:{l} {{repo_id: $repo}}) RETURN n.key AS k, n.file AS f, properties(n) AS p"
            );
            let rows = self.repo_rows(&cypher, repo_id).await?;
            for row in rows {
                let repository = label == Label::Repository;
                nodes.push(DumpNode {
                    label: l.to_owned(),
                    key: endpoint(l, get_str(&row, "k")?),
                    file: get_opt_str(&row, "f")?,
                    props: if repository {
                        Props::new()
                    } else {
                        props_of(&row, "p")?
                    },
                });
            }
            let rows = self
                .repo_rows(
                    &format!(
                        "MATCH (a:{l} {{repo_id: $repo}})-[e]->(b) WHERE type(e) <> 'HAS_RUN'
                         RETURN type(e) AS t, a.key AS s, labels(b)[0] AS dl, b.key AS d,
                                e.file AS f, properties(e) AS p"
                    ),
                    repo_id,
                )
                .await?;
            for row in rows {
                let dst_label = get_str(&row, "dl")?;
                relationships.push(DumpRelationship {
                    rel_type: get_str(&row, "t")?,
                    src_label: l.to_owned(),
                    src_key: endpoint(l, get_str(&row, "s")?),
                    dst_key: endpoint(&dst_label, get_str(&row, "d")?),
                    dst_label,
                    file: get_opt_str(&row, "f")?,
                    props: props_of(&row, "p")?,
                });
            }
        }
        Ok(GraphDump::new(nodes, relationships))
    }
}

/// The element ids of the nodes a write wrote, per label and key.
type WrittenIds = HashMap<Label, HashMap<String, String>>;

/// How a relationship statement finds one of its ends.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum End {
    /// A node the same write wrote, by the element id its statement returned.
    Written,
    /// Any other node (another part's, an unchanged file's, the repository), by label and key.
    Keyed(Label),
}

impl End {
    /// How a statement finds `node`, and the element id or key it finds it by.
    fn of<'a>(node: &'a NodeRef, ids: &'a WrittenIds, repo_id: &'a str) -> (End, &'a str) {
        match ids.get(&node.label).and_then(|keys| keys.get(&node.key)) {
            Some(id) => (End::Written, id.as_str()),
            None if node.label == Label::Repository => (End::Keyed(node.label), repo_id),
            None => (End::Keyed(node.label), node.key.as_str()),
        }
    }

    /// The `MATCH` binding `var` to the end whose id or key is the row's `column`.
    fn pattern(self, var: &str, column: &str) -> String {
        match self {
            End::Written => format!("MATCH ({var}) WHERE elementId({var}) = r.{column}"),
            End::Keyed(label) => format!(
                "MATCH ({var}:{} {{repo_id: $repo, key: r.{column}}})",
                label.as_str()
            ),
        }
    }
}

/// A write's statements, committed together every `transaction_rows` rows.
struct Batches<'a> {
    store: &'a Neo4jStore,
    run: RunKey<'a>,
    report: &'a (dyn Fn(u64) + Sync),
    txn: Option<neo4rs::Txn>,
    in_txn: u64,
    written: u64,
    statements: u64,
}

impl<'a> Batches<'a> {
    fn new(store: &'a Neo4jStore, run: RunKey<'a>, report: &'a (dyn Fn(u64) + Sync)) -> Self {
        Self {
            store,
            run,
            report,
            txn: None,
            in_txn: 0,
            written: 0,
            statements: 0,
        }
    }

    /// Runs `cypher` over `rows`, a `batch_size` of them at a time, each made into its
    /// parameter map by `row`; with `ids`, see [`Self::run`].
    async fn run_all<T>(
        &mut self,
        cypher: &str,
        rows: &[T],
        row: impl Fn(&T) -> BoltType,
        mut ids: Option<&mut HashMap<String, String>>,
    ) -> Result<(), GraphError> {
        for chunk in rows.chunks(self.store.batch_rows) {
            let batch = chunk.iter().map(&row).collect();
            self.run(cypher, batch, ids.as_deref_mut()).await?;
        }
        Ok(())
    }

    /// Runs `cypher` over `rows`; with `ids`, reads back the `k` and `e` (element id) columns
    /// of its result into them.
    async fn run(
        &mut self,
        cypher: &str,
        rows: Vec<BoltType>,
        ids: Option<&mut HashMap<String, String>>,
    ) -> Result<(), GraphError> {
        let store = self.store;
        let count = rows.len() as u64;
        let q = query(cypher)
            .param("rows", BoltType::List(BoltList::from(rows)))
            .param("repo", self.run.repo_id)
            .param("run", self.run.run_id);
        let tx = match &mut self.txn {
            Some(tx) => tx,
            None => self
                .txn
                .insert(store.graph.start_txn().await.map_err(|e| store.error(e))?),
        };
        match ids {
            None => tx.run(q).await.map_err(|e| store.error(e))?,
            Some(ids) => {
                let mut stream = tx.execute(q).await.map_err(|e| store.error(e))?;
                while let Some(row) = stream.next(tx.handle()).await.map_err(|e| store.error(e))? {
                    ids.insert(get_str(&row, "k")?, get_str(&row, "e")?);
                }
            }
        }
        self.statements += 1;
        self.in_txn += count;
        if self.in_txn >= store.transaction_rows as u64 {
            self.commit().await?;
            (self.report)(self.written);
        }
        Ok(())
    }

    async fn commit(&mut self) -> Result<(), GraphError> {
        if let Some(tx) = self.txn.take() {
            tx.commit().await.map_err(|e| self.store.error(e))?;
            self.written += std::mem::take(&mut self.in_txn);
        }
        Ok(())
    }

    /// Commits what is left; the number of statements run.
    async fn finish(mut self) -> Result<u64, GraphError> {
        self.commit().await?;
        (self.report)(self.written);
        Ok(self.statements)
    }
}

impl GraphReader for Neo4jStore {
    async fn repository(&self, repo_id: &str) -> Result<Option<RepositoryRecord>, GraphError> {
        let rows = self.repo_rows(REPOSITORY_PROPS, repo_id).await?;
        match rows.first() {
            Some(row) => RepositoryRecord::from_props(repo_id, &props_of(row, "p")?),
            None => Ok(None),
        }
    }

    async fn index_runs(&self, repo_id: &str) -> Result<Vec<IndexRunRecord>, GraphError> {
        let rows = self.repo_rows(INDEX_RUNS, repo_id).await?;
        rows.iter()
            .map(|row| {
                IndexRunRecord::from_props(repo_id, &get_str(row, "k")?, &props_of(row, "p")?)
            })
            .collect()
    }

    async fn counts(&self, repo_id: &str) -> Result<GraphCounts, GraphError> {
        let mut counts = GraphCounts::default();
        for label in Label::ALL {
            let l = label.as_str();
            let nodes = self
                .count(
                    query(&format!(
                        "MATCH (n:{l} {{repo_id: $repo}}) RETURN count(n) AS c"
                    ))
                    .param("repo", repo_id),
                    "c",
                )
                .await?;
            if nodes > 0 {
                counts.nodes.insert(l.to_owned(), nodes);
            }
            let cypher = format!(
                "MATCH (n:{l} {{repo_id: $repo}})-[e]->() RETURN type(e) AS t, count(e) AS c"
            );
            let rows = self.repo_rows(&cypher, repo_id).await?;
            for row in rows {
                *counts.relationships.entry(get_str(&row, "t")?).or_default() +=
                    get_u64(&row, "c")?;
            }
        }
        Ok(counts)
    }

    async fn repo_ids(&self) -> Result<Vec<String>, GraphError> {
        let rows = self
            .rows(query(
                "MATCH (n:Repository) RETURN DISTINCT n.repo_id AS r ORDER BY r",
            ))
            .await?;
        rows.iter().map(|row| get_str(row, "r")).collect()
    }

    async fn symbols(&self, repo: &str, of: SymbolFilter<'_>) -> Result<Vec<Symbol>, GraphError> {
        let (pattern, value) = match of {
            SymbolFilter::Key(key) => ("{repo_id: $repo, key: $value})", key),
            SymbolFilter::File(path) => ("{repo_id: $repo, file: $value})", path),
            SymbolFilter::Name(name) => ("{repo_id: $repo, name: $value})", name),
            SymbolFilter::NamePrefix(prefix) => (
                "{repo_id: $repo}) WHERE toLower(n.name) STARTS WITH $value",
                prefix,
            ),
        };
        let matches = of
            .labels()
            .iter()
            .map(|l| format!("MATCH (n:{} {pattern} RETURN n", l.as_str()));
        let rows = self
            .rows(
                query(&format!("CALL {{ {} }} {NODE_COLUMNS}", union(matches)))
                    .param("repo", repo)
                    .param("value", value),
            )
            .await?;
        let mut out = Vec::new();
        for row in &rows {
            let symbol = symbol_of(repo, row)?;
            // Keep exactly what SQLite's ASCII `lower` gives, so both stores agree.
            let kept = match of {
                SymbolFilter::NamePrefix(prefix) => {
                    symbol.name.to_ascii_lowercase().starts_with(prefix)
                }
                _ => true,
            };
            if kept {
                out.push(symbol);
            }
        }
        Ok(out)
    }

    async fn neighbours(&self, repo: &str, hop: Hop<'_>) -> Result<Vec<Neighbour>, GraphError> {
        let Hop { rel, at, direction } = hop;
        let mut by_label: BTreeMap<Label, Vec<String>> = BTreeMap::new();
        for node in at {
            by_label
                .entry(node.label)
                .or_default()
                .push(node.key.clone());
        }
        let mut out = Vec::new();
        for (label, keys) in by_label {
            let (l, t) = (label.as_str(), rel.as_str());
            let pattern = match direction {
                Direction::Incoming => format!("(n)-[e:{t}]->(b)"),
                Direction::Outgoing => format!("(b)-[e:{t}]->(n)"),
            };
            let rows = self
                .rows(
                    query(&format!(
                        "UNWIND $keys AS k MATCH (b:{l} {{repo_id: $repo, key: k}})
                         MATCH {pattern}
                         WITH k, n, properties(e) AS ep {NODE_COLUMNS}, k AS near, ep"
                    ))
                    .param("repo", repo)
                    .param("keys", keys),
                )
                .await?;
            for row in &rows {
                out.push(Neighbour {
                    near: get_str(row, "near")?,
                    far: symbol_of(repo, row)?,
                    props: props_of(row, "ep")?,
                });
            }
        }
        Ok(out)
    }
}

/// The repository node's properties.
const REPOSITORY_PROPS: &str =
    "MATCH (n:Repository {repo_id: $repo, key: $repo}) RETURN properties(n) AS p";
/// The repository's index runs: key and properties.
const INDEX_RUNS: &str =
    "MATCH (n:IndexRun {repo_id: $repo}) RETURN n.key AS k, properties(n) AS p";

/// The columns [`symbol_of`] reads, for a node bound to `n`.
const NODE_COLUMNS: &str = "RETURN labels(n)[0] AS l, n.key AS k, n.file AS f, properties(n) AS p";

/// `MATCH ... UNION ALL MATCH ...`.
fn union(parts: impl Iterator<Item = String>) -> String {
    parts.collect::<Vec<_>>().join(" UNION ALL ")
}

/// The node of a row with [`NODE_COLUMNS`].
fn symbol_of(repo_id: &str, row: &neo4rs::Row) -> Result<Symbol, GraphError> {
    Ok(Symbol::of(
        repo_id,
        &get_str(row, "l")?,
        get_str(row, "k")?,
        get_opt_str(row, "f")?,
        &props_of(row, "p")?,
    ))
}

fn bolt_map<const N: usize>(entries: [(&str, BoltType); N]) -> BoltType {
    let mut map = BoltMap::with_capacity(N);
    for (key, value) in entries {
        map.put(BoltString::new(key), value);
    }
    BoltType::Map(map)
}

/// `props` and then `identity` (which wins over a property of the same name) as a Bolt map.
fn props_to_bolt<const N: usize>(props: &Props, identity: [(&str, BoltType); N]) -> BoltType {
    let mut map = BoltMap::with_capacity(props.len() + N);
    for (name, value) in props.iter() {
        let value = match value {
            Value::Bool(b) => BoltType::from(*b),
            Value::Int(i) => BoltType::from(*i),
            Value::Str(s) => BoltType::from(s.as_str()),
            Value::Ints(list) => BoltType::from(list.clone()),
            Value::Strs(list) => BoltType::from(list.clone()),
        };
        map.put(BoltString::new(name), value);
    }
    for (name, value) in identity {
        map.put(BoltString::new(name), value);
    }
    BoltType::Map(map)
}

/// A stored property map, without the identity properties.
fn props_of(row: &neo4rs::Row, column: &str) -> Result<Props, GraphError> {
    let map = match row.get::<BoltType>(column) {
        Ok(BoltType::Map(map)) => map,
        other => {
            return Err(GraphError::Other(format!(
                "column {column} is not a map: {other:?}"
            )));
        }
    };
    let mut props = Props::new();
    for (name, value) in map.value {
        if IDENTITY.contains(&name.value.as_str()) {
            continue;
        }
        let value = match value {
            BoltType::Boolean(b) => Value::Bool(b.value),
            BoltType::Integer(i) => Value::Int(i.value),
            BoltType::String(s) => Value::Str(s.value),
            BoltType::Null(BoltNull) => continue,
            BoltType::List(list) => list_value(&name.value, list)?,
            other => {
                return Err(GraphError::Other(format!(
                    "property {} has an unexpected type: {other:?}",
                    name.value
                )));
            }
        };
        props.insert(name.value.into(), value);
    }
    Ok(props)
}

fn list_value(name: &str, list: BoltList) -> Result<Value, GraphError> {
    let ints = matches!(list.value.first(), Some(BoltType::Integer(_)));
    let mut out = (Vec::new(), Vec::new());
    for item in list.value {
        match item {
            BoltType::Integer(i) if ints => out.0.push(i.value),
            BoltType::String(s) if !ints => out.1.push(s.value),
            _ => {
                return Err(GraphError::Other(format!(
                    "property {name} is a list of mixed types"
                )));
            }
        }
    }
    Ok(if ints {
        Value::Ints(out.0)
    } else {
        Value::Strs(out.1)
    })
}

fn get_str(row: &neo4rs::Row, column: &str) -> Result<String, GraphError> {
    row.get::<String>(column)
        .map_err(|e| GraphError::Other(format!("column {column}: {e}")))
}

fn get_opt_str(row: &neo4rs::Row, column: &str) -> Result<Option<String>, GraphError> {
    row.get::<Option<String>>(column)
        .map_err(|e| GraphError::Other(format!("column {column}: {e}")))
}

fn get_u64(row: &neo4rs::Row, column: &str) -> Result<u64, GraphError> {
    row.get::<i64>(column)
        .map(|n| u64::try_from(n).unwrap_or_default())
        .map_err(|e| GraphError::Other(format!("column {column}: {e}")))
}
