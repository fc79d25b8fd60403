//! A canonical listing of one repository's code graph: every node and relationship, sorted,
//! without `run_id` and without the metadata (`IndexRun` nodes, `HAS_RUN`, the repository's
//! own properties). Two stores, or a full and an incremental indexing, hold the same graph
//! exactly when their dumps are equal; [`GraphDump::from_rows`] is what a store must hold after
//! writing a set of rows into an empty repository.

use serde::{Deserialize, Serialize};

use super::rows::{GraphRows, REPOSITORY_KEY};
use super::value::Props;

/// One node of a dump. The repository node appears with the key `""` (as in
/// [`GraphRows`]) and no properties, so dumps of two repositories compare.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct DumpNode {
    pub label: String,
    pub key: String,
    pub file: Option<String>,
    pub props: Props,
}

/// One relationship of a dump.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct DumpRelationship {
    pub rel_type: String,
    pub src_label: String,
    pub src_key: String,
    pub dst_label: String,
    pub dst_key: String,
    pub file: Option<String>,
    pub props: Props,
}

/// A repository's graph, sorted (see the module doc).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GraphDump {
    pub nodes: Vec<DumpNode>,
    pub relationships: Vec<DumpRelationship>,
}

impl GraphDump {
    /// A dump from unsorted parts.
    pub fn new(mut nodes: Vec<DumpNode>, mut relationships: Vec<DumpRelationship>) -> Self {
        nodes.sort();
        relationships.sort();
        Self {
            nodes,
            relationships,
        }
    }

    /// What a store holds after writing `rows` into an empty repository.
    pub fn from_rows(rows: &GraphRows) -> Self {
        let mut nodes: Vec<DumpNode> = rows
            .nodes
            .iter()
            .flat_map(|(label, rows)| {
                rows.iter().map(|row| DumpNode {
                    label: label.as_str().to_owned(),
                    key: row.key.clone(),
                    file: row.file.clone(),
                    props: row.props.clone(),
                })
            })
            .collect();
        nodes.push(DumpNode {
            label: "Repository".to_owned(),
            key: REPOSITORY_KEY.to_owned(),
            file: None,
            props: Props::new(),
        });
        let relationships = rows
            .relationships
            .iter()
            .flat_map(|(rel, rows)| {
                rows.iter().map(|row| DumpRelationship {
                    rel_type: rel.as_str().to_owned(),
                    src_label: row.src.label.as_str().to_owned(),
                    src_key: row.src.key.clone(),
                    dst_label: row.dst.label.as_str().to_owned(),
                    dst_key: row.dst.key.clone(),
                    file: Some(row.file.clone()),
                    props: row.props.clone(),
                })
            })
            .collect();
        Self::new(nodes, relationships)
    }

    /// The node with this label and key.
    pub fn node(&self, label: &str, key: &str) -> Option<&DumpNode> {
        self.nodes.iter().find(|n| n.label == label && n.key == key)
    }

    /// The relationship of this type between the nodes with these keys.
    pub fn relationship(
        &self,
        rel_type: &str,
        src_key: &str,
        dst_key: &str,
    ) -> Option<&DumpRelationship> {
        self.relationships
            .iter()
            .find(|r| r.rel_type == rel_type && r.src_key == src_key && r.dst_key == dst_key)
    }
}
