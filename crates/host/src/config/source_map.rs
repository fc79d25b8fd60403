//! Maps a key path of the parsed config back to a line and column of the file, so that every
//! problem points at the text the user wrote.

use super::{
    error::Location,
    key_path::{KeyPath, Segment, Target},
};
use std::path::{Path, PathBuf};
use toml_edit::{Document, Item, TableLike, Value};

/// The parsed file with spans, and the line starts to turn byte offsets into lines.
pub(crate) struct SourceMap {
    path: PathBuf,
    doc: Document<String>,
    line_starts: Vec<usize>,
}

impl SourceMap {
    pub(crate) fn new(path: &Path, doc: Document<String>) -> Self {
        let line_starts = std::iter::once(0)
            .chain(doc.raw().match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        Self {
            path: path.to_owned(),
            doc,
            line_starts,
        }
    }

    /// 1-based line and column of a byte offset.
    pub(crate) fn position(&self, offset: usize) -> (usize, usize) {
        let line = self.line_starts.partition_point(|&s| s <= offset);
        let start = self.line_starts[line.saturating_sub(1)];
        let column = self.doc.raw()[start..offset.min(self.doc.raw().len())]
            .chars()
            .count()
            + 1;
        (line, column)
    }

    /// Where `path` is written: the deepest part of it that the file holds (a missing key points
    /// at the table that should hold it).
    pub(crate) fn locate(&self, path: &KeyPath, target: Target) -> Location {
        self.file_location(self.span(path, target))
    }

    fn file_location(&self, offset: usize) -> Location {
        let (line, column) = self.position(offset);
        Location::File {
            path: self.path.clone(),
            line,
            column,
        }
    }

    /// Byte offset of the deepest written part of `path`.
    fn span(&self, path: &KeyPath, target: Target) -> usize {
        let mut node = Node::Table(self.doc.as_table());
        let mut best = 0;
        let last = path.0.len().saturating_sub(1);
        for (i, seg) in path.0.iter().enumerate() {
            let next = match (seg, node) {
                (Segment::Key(k), Node::Table(t)) => t.get_key_value(k).map(|(key, item)| {
                    let key_start = key.span().map(|s| s.start);
                    let start = if i == last && matches!(target, Target::Key) {
                        key_start
                    } else {
                        item_start(item).or(key_start)
                    };
                    best = start.unwrap_or(best);
                    node_of(item)
                }),
                (Segment::Index(n), Node::Tables(a)) => a.get(*n).map(|t| {
                    best = t.span().map_or(best, |s| s.start);
                    Node::Table(t as &dyn TableLike)
                }),
                (Segment::Index(n), Node::Array(a)) => a.get(*n).map(|v| {
                    best = v.span().map_or(best, |s| s.start);
                    value_node(v)
                }),
                _ => None,
            };
            match next {
                Some(n) => node = n,
                None => break,
            }
        }
        best
    }
}

#[derive(Clone, Copy)]
enum Node<'a> {
    Table(&'a dyn TableLike),
    Tables(&'a toml_edit::ArrayOfTables),
    Array(&'a toml_edit::Array),
    Leaf,
}

fn node_of(item: &Item) -> Node<'_> {
    match item {
        Item::Table(t) => Node::Table(t),
        Item::ArrayOfTables(a) => Node::Tables(a),
        Item::Value(v) => value_node(v),
        Item::None => Node::Leaf,
    }
}

fn value_node(v: &Value) -> Node<'_> {
    match v {
        Value::InlineTable(t) => Node::Table(t),
        Value::Array(a) => Node::Array(a),
        _ => Node::Leaf,
    }
}

fn item_start(item: &Item) -> Option<usize> {
    match item {
        Item::ArrayOfTables(a) => a.get(0).and_then(|t| t.span()).map(|s| s.start),
        other => other.span().map(|s| s.start),
    }
}
