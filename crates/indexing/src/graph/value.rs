//! Property values of nodes and relationships: the few types the graph model uses, stored the
//! same way by both backends (Neo4j properties, JSON in SQLite) and read back unchanged.

use std::borrow::Cow;

use litemap::LiteMap;
use serde::{Deserialize, Serialize};

/// Properties of a node or relationship, by name (besides `repo_id`, `key`, `run_id`, `file`),
/// sorted by name. A flat map: a repository has millions of rows of one to four properties each,
/// and a B-tree node costs about ten times what such a row holds. Names the code writes are
/// borrowed; names read back from a store are owned. Serialized as a JSON object.
pub type Props = LiteMap<Cow<'static, str>, Value>;

/// One property value. Lists are never empty: an empty list is left out instead, so both
/// backends read back the same thing.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Value {
    Bool(bool),
    Int(i64),
    Str(String),
    Ints(Vec<i64>),
    Strs(Vec<String>),
}

impl Value {
    /// The string, if the value is one.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    /// The integer, if the value is one.
    pub fn as_int(&self) -> Option<i64> {
        match self {
            Value::Int(i) => Some(*i),
            _ => None,
        }
    }
}

impl From<&str> for Value {
    fn from(value: &str) -> Self {
        Value::Str(value.to_owned())
    }
}

impl From<String> for Value {
    fn from(value: String) -> Self {
        Value::Str(value)
    }
}

impl From<bool> for Value {
    fn from(value: bool) -> Self {
        Value::Bool(value)
    }
}

impl From<u64> for Value {
    /// Saturates at `i64::MAX`, the largest integer Neo4j stores.
    fn from(value: u64) -> Self {
        Value::Int(i64::try_from(value).unwrap_or(i64::MAX))
    }
}

impl From<u32> for Value {
    fn from(value: u32) -> Self {
        Value::Int(i64::from(value))
    }
}
