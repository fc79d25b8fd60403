//! Turning a [`ParseOutput`] into the rows of the graph: nodes grouped by label, relationships
//! grouped by type, each in a deterministic order. Pure and backend-independent: both stores
//! write these rows, and tests compare what a store reads back with them.
//!
//! The repository node is the endpoint of `(Repository)-[:CONTAINS]->(File)`; its key is the
//! `repo_id`, which the rows do not know, so it is written as the empty key [`REPOSITORY_KEY`]
//! and each store substitutes the repository it writes to.

use std::collections::{BTreeMap, BTreeSet, HashMap, hash_map::Entry};
use std::hash::{DefaultHasher, Hash, Hasher};
use std::ops::Range;

use rayon::prelude::*;

use serde::{Deserialize, Serialize};

use super::value::{Props, Value};
use crate::parse::{
    CallEdge, Definition, DefinitionKind, FileFacts, ImportEdge, InheritEdge, InheritKind,
    ParseOutput, Target,
};

/// How rows refer to the repository node (see the module doc).
pub const REPOSITORY_KEY: &str = "";

/// A node label of the graph.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Label {
    Repository,
    IndexRun,
    File,
    Class,
    Struct,
    Enum,
    Trait,
    Interface,
    Function,
    Method,
    Directory,
    External,
}

impl Label {
    /// Every label, in a fixed order.
    pub const ALL: [Label; 12] = [
        Label::Repository,
        Label::IndexRun,
        Label::File,
        Label::Class,
        Label::Struct,
        Label::Enum,
        Label::Trait,
        Label::Interface,
        Label::Function,
        Label::Method,
        Label::Directory,
        Label::External,
    ];

    /// The code graph's labels: all but the metadata (`Repository`, `IndexRun`).
    pub const CODE: &[Label] = Label::ALL.split_at(2).1;

    /// The definitions (`Class` … `Method`): what `find` and symbol lookups search.
    pub const DEFINITIONS: &[Label] = Label::ALL.split_at(3).1.split_at(7).0;

    /// The label as stored.
    pub fn as_str(self) -> &'static str {
        match self {
            Label::Repository => "Repository",
            Label::IndexRun => "IndexRun",
            Label::File => "File",
            Label::Class => "Class",
            Label::Struct => "Struct",
            Label::Enum => "Enum",
            Label::Trait => "Trait",
            Label::Interface => "Interface",
            Label::Function => "Function",
            Label::Method => "Method",
            Label::Directory => "Directory",
            Label::External => "External",
        }
    }

    /// The label of a stored name.
    pub fn parse(name: &str) -> Option<Label> {
        Label::ALL.into_iter().find(|label| label.as_str() == name)
    }

    /// The label of a definition kind.
    pub fn of_kind(kind: DefinitionKind) -> Label {
        match kind {
            DefinitionKind::Class => Label::Class,
            DefinitionKind::Struct => Label::Struct,
            DefinitionKind::Enum => Label::Enum,
            DefinitionKind::Trait => Label::Trait,
            DefinitionKind::Interface => Label::Interface,
            DefinitionKind::Function => Label::Function,
            DefinitionKind::Method => Label::Method,
        }
    }

    /// Labels whose nodes are metadata, kept by every cleanup.
    pub fn is_metadata(self) -> bool {
        matches!(self, Label::Repository | Label::IndexRun)
    }

    /// Labels whose nodes only exist as targets: removed by a cleanup once nothing points at them.
    pub fn is_target_only(self) -> bool {
        matches!(self, Label::Directory | Label::External)
    }
}

/// A relationship type of the graph (serialized as stored: `HAS_METHOD`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum RelType {
    Contains,
    Defines,
    HasMethod,
    Calls,
    Imports,
    Extends,
    Implements,
    HasRun,
}

impl RelType {
    /// Every type, in a fixed order.
    pub const ALL: [RelType; 8] = [
        RelType::Contains,
        RelType::Defines,
        RelType::HasMethod,
        RelType::Calls,
        RelType::Imports,
        RelType::Extends,
        RelType::Implements,
        RelType::HasRun,
    ];

    /// The type as stored.
    pub fn as_str(self) -> &'static str {
        match self {
            RelType::Contains => "CONTAINS",
            RelType::Defines => "DEFINES",
            RelType::HasMethod => "HAS_METHOD",
            RelType::Calls => "CALLS",
            RelType::Imports => "IMPORTS",
            RelType::Extends => "EXTENDS",
            RelType::Implements => "IMPLEMENTS",
            RelType::HasRun => "HAS_RUN",
        }
    }

    /// The type of a stored name.
    pub fn parse(name: &str) -> Option<RelType> {
        RelType::ALL.into_iter().find(|t| t.as_str() == name)
    }
}

/// A node by label and key.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct NodeRef {
    pub label: Label,
    pub key: String,
}

impl NodeRef {
    fn new(label: Label, key: impl Into<String>) -> Self {
        Self {
            label,
            key: key.into(),
        }
    }
}

/// One node to write (its label is the group it is in).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeRow {
    pub key: String,
    /// The file the node belongs to; none for directories and external names.
    pub file: Option<String>,
    pub props: Props,
}

/// One relationship to write (its type is the group it is in).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RelRow {
    pub src: NodeRef,
    pub dst: NodeRef,
    /// The file the fact came from.
    pub file: String,
    pub props: Props,
}

/// The whole graph of one parse, ready to write.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GraphRows {
    /// Nodes per label, sorted by key.
    pub nodes: BTreeMap<Label, Vec<NodeRow>>,
    /// Relationships per type, sorted by source then target.
    pub relationships: BTreeMap<RelType, Vec<RelRow>>,
}

impl GraphRows {
    /// Number of node rows.
    pub fn node_count(&self) -> u64 {
        self.nodes.values().map(|rows| rows.len() as u64).sum()
    }

    /// Number of relationship rows.
    pub fn relationship_count(&self) -> u64 {
        self.relationships
            .values()
            .map(|rows| rows.len() as u64)
            .sum()
    }

    /// Builds the graph of a parse (see the module doc of [`crate::graph`] for the model).
    pub fn from_parse(output: &ParseOutput) -> GraphRows {
        RowLookups::new(output).rows_of(|_| true)
    }
}

/// What the rows of a parse look up in the whole of it (definitions by qualified name, file
/// paths): built once, for the digest of each file's rows and for the rows of some files.
pub struct RowLookups<'a> {
    output: &'a ParseOutput,
    lookups: Lookups<'a>,
}

impl<'a> RowLookups<'a> {
    /// The lookups of `output`.
    pub fn new(output: &'a ParseOutput) -> Self {
        Self {
            output,
            lookups: Lookups::new(output),
        }
    }

    /// The rows of [`GraphRows::from_parse`] that belong to the files `keep` accepts, and the
    /// nodes of no file (directories, external names) they point at: each file's rows are
    /// built from its own facts and what the lookups answer for them.
    pub fn rows_of(&self, keep: impl Fn(&str) -> bool + Copy) -> GraphRows {
        let mut builder = Builder::default();
        for part in Part::whole(self.output) {
            walk(self.output, &self.lookups, &part, keep, &mut builder);
        }
        builder.finish()
    }

    /// The steps of each of `groups` groups of files (`group_of` names a file's group, below
    /// `groups`; none: in no group), found in one pass over the output.
    pub fn steps_by_group(
        &self,
        groups: usize,
        group_of: impl Fn(&str) -> Option<usize>,
    ) -> Vec<FileSteps> {
        let mut steps: Vec<FileSteps> = (0..groups).map(|_| FileSteps::default()).collect();
        let lookups = &self.lookups;
        for (i, call) in self.output.calls.iter().enumerate() {
            let group = lookups
                .source_of(&call.caller)
                .and_then(|(_, f)| group_of(f));
            if let Some(steps) = group.and_then(|g| steps.get_mut(g)) {
                steps.calls.push(i);
            }
        }
        for (i, import) in self.output.imports.iter().enumerate() {
            let group = lookups.import_file(import).and_then(&group_of);
            if let Some(steps) = group.and_then(|g| steps.get_mut(g)) {
                steps.imports.push(i);
            }
        }
        for (i, inherit) in self.output.inherits.iter().enumerate() {
            let child = lookups.defs.get(inherit.child.as_str());
            if let Some(steps) = child
                .and_then(|c| group_of(c.file))
                .and_then(|g| steps.get_mut(g))
            {
                steps.inherits.push(i);
            }
        }
        steps
    }

    /// [`Self::rows_of`] for the files `keep` accepts when `steps` are their steps (their
    /// group's, from [`Self::steps_by_group`]): only those steps are visited, and each is
    /// known to be theirs without asking `keep` again.
    pub fn rows_of_steps(&self, keep: impl Fn(&str) -> bool, steps: &FileSteps) -> GraphRows {
        let mut builder = Builder::default();
        walk(self.output, &self.lookups, &Part::Files, keep, &mut builder);
        walk(
            self.output,
            &self.lookups,
            &Part::Steps(steps),
            |_| true,
            &mut builder,
        );
        builder.finish()
    }

    /// A hash per file of everything the file's rows are built from: its own facts and what
    /// the lookups answered for them, step by step. Two parses whose hashes of a file are
    /// equal give that file equal rows. `None` when a file's rows may depend on another file's
    /// facts other than through the lookups (a qualified name that two files define): then
    /// every file must be taken as changed. Hashed in parallel, in parts.
    pub fn file_digests(&self) -> Option<HashMap<String, u64>> {
        if self.lookups.shared_names {
            return None;
        }
        let parts: Vec<Part> = Part::whole(self.output).collect();
        let digests: Vec<foldhash::HashMap<&str, u64>> = parts
            .par_iter()
            .map(|part| {
                let mut digests = Digests::default();
                walk(self.output, &self.lookups, part, |_| true, &mut digests);
                digests.finish()
            })
            .collect();
        let files = self.output.files.iter().map(|file| {
            let mut hasher = DefaultHasher::new();
            for part in &digests {
                part.get(file.path.as_str()).hash(&mut hasher);
            }
            (file.path.clone(), hasher.finish())
        });
        Some(files.collect())
    }
}

/// The calls, imports and inherits of some files, as indices into a parse output
/// ([`RowLookups::steps_by_group`]).
#[derive(Debug, Default)]
pub struct FileSteps {
    calls: Vec<usize>,
    imports: Vec<usize>,
    inherits: Vec<usize>,
}

/// A part of the steps of a parse's rows: the files with their definitions, a range of the
/// calls, the imports, the inherits; or the listed steps of some files.
enum Part<'s> {
    Files,
    Calls(Range<usize>),
    Imports,
    Inherits,
    Steps(&'s FileSteps),
}

impl Part<'static> {
    /// How many calls one part holds at most.
    const CALLS: usize = 16_384;

    /// All steps of `output`, in order.
    fn whole(output: &ParseOutput) -> impl Iterator<Item = Part<'static>> {
        let calls = output.calls.len();
        let ranges = (0..calls.div_ceil(Self::CALLS))
            .map(move |i| Part::Calls(i * Self::CALLS..calls.min((i + 1) * Self::CALLS)));
        std::iter::once(Part::Files)
            .chain(ranges)
            .chain([Part::Imports, Part::Inherits])
    }
}

/// A node by label and borrowed key, as the lookups answer.
#[derive(Clone, Copy, Hash)]
struct Ref<'a> {
    label: Label,
    key: &'a str,
}

impl<'a> Ref<'a> {
    fn new(label: Label, key: &'a str) -> Self {
        Self { label, key }
    }

    fn owned(self) -> NodeRef {
        NodeRef::new(self.label, self.key)
    }
}

/// A definition's label and file, by qualified name.
struct DefInfo<'a> {
    label: Label,
    file: &'a str,
}

/// What the rows of one file look up in the whole parse.
struct Lookups<'a> {
    /// Qualified name → the first definition of that name.
    defs: foldhash::HashMap<&'a str, DefInfo<'a>>,
    files: foldhash::HashSet<&'a str>,
    /// Two files define the same qualified name (their paths contain `::`).
    shared_names: bool,
}

impl<'a> Lookups<'a> {
    fn new(output: &'a ParseOutput) -> Self {
        let mut lookups = Lookups {
            defs: foldhash::HashMap::default(),
            files: foldhash::HashSet::default(),
            shared_names: false,
        };
        for file in &output.files {
            lookups.files.insert(file.path.as_str());
            for def in &file.definitions {
                match lookups.defs.entry(def.qualified_name.as_str()) {
                    Entry::Occupied(first) => lookups.shared_names |= first.get().file != file.path,
                    Entry::Vacant(slot) => {
                        slot.insert(DefInfo {
                            label: Label::of_kind(def.kind),
                            file: file.path.as_str(),
                        });
                    }
                }
            }
        }
        lookups
    }

    /// The node a definition hangs under: its owner when the repository defines it, else the
    /// nearest enclosing definition of its qualified name; none means the file.
    fn parent_of(&self, qualified_name: &'a str, owner: Option<&'a str>) -> Option<Ref<'a>> {
        if let Some(owner) = owner.filter(|o| *o != qualified_name)
            && let Some(info) = self.defs.get(owner)
        {
            return Some(Ref::new(info.label, owner));
        }
        let (path, _) = qualified_name.split_once("::")?;
        let chain_start = path.len() + 2;
        let mut end = qualified_name.len();
        while let Some(dot) = qualified_name[chain_start..end].rfind('.') {
            end = chain_start + dot;
            let candidate = &qualified_name[..end];
            if let Some(info) = self.defs.get(candidate) {
                return Some(Ref::new(info.label, candidate));
            }
        }
        None
    }

    /// The caller's node and file: its definition, or the file for top-level code.
    fn source_of(&self, caller: &'a str) -> Option<(Ref<'a>, &'a str)> {
        if let Some(info) = self.defs.get(caller) {
            return Some((Ref::new(info.label, caller), info.file));
        }
        let path = caller.split_once("::").map_or(caller, |(path, _)| path);
        self.files
            .contains(path)
            .then_some((Ref::new(Label::File, path), path))
    }

    /// The file an import belongs to, when the parse has that file.
    fn import_file(&self, import: &'a ImportEdge) -> Option<&'a str> {
        let file = import.file.as_str();
        self.files.contains(file).then_some(file)
    }

    /// The node a resolved reference points at: a definition, a file, else a directory (for
    /// internal names) or an external name.
    fn target(&self, target: &'a Target) -> Ref<'a> {
        match target {
            Target::Internal(name) => {
                if let Some(info) = self.defs.get(name.as_str()) {
                    Ref::new(info.label, name)
                } else if self.files.contains(name.as_str()) {
                    Ref::new(Label::File, name)
                } else {
                    Ref::new(Label::Directory, name)
                }
            }
            Target::External(name) => Ref::new(Label::External, name),
        }
    }
}

/// What the facts of a file make of its rows, one step at a time, each step named with the
/// file it belongs to and the answers of the lookups it needed.
trait Sink<'a> {
    fn file(&mut self, file: &'a FileFacts);
    fn definition(&mut self, file: &'a str, def: &'a Definition, parent: Ref<'a>, rel: RelType);
    fn call(&mut self, file: &'a str, src: Ref<'a>, dst: Ref<'a>, line: u32);
    fn import(&mut self, import: &'a ImportEdge, dst: Ref<'a>);
    fn inherit(&mut self, file: &'a str, src: Ref<'a>, dst: Ref<'a>, rel: RelType, parent: &'a str);
}

/// Feeds `sink` the steps of `part` that belong to the files `keep` accepts, in order.
fn walk<'a>(
    output: &'a ParseOutput,
    lookups: &Lookups<'a>,
    part: &Part,
    keep: impl Fn(&str) -> bool,
    sink: &mut impl Sink<'a>,
) {
    match part {
        Part::Files => {
            for file in output.files.iter().filter(|f| keep(&f.path)) {
                sink.file(file);
                for def in &file.definitions {
                    let parent = lookups.parent_of(&def.qualified_name, def.owner.as_deref());
                    let (parent, rel) = match parent {
                        None => (Ref::new(Label::File, &file.path), RelType::Defines),
                        Some(parent) if parent.label == Label::File => (parent, RelType::Defines),
                        Some(parent)
                            if def.kind == DefinitionKind::Method && is_type(parent.label) =>
                        {
                            (parent, RelType::HasMethod)
                        }
                        Some(parent) => (parent, RelType::Contains),
                    };
                    sink.definition(&file.path, def, parent, rel);
                }
            }
        }
        Part::Calls(range) => {
            for call in &output.calls[range.clone()] {
                walk_call(lookups, call, &keep, sink);
            }
        }
        Part::Imports => {
            for import in &output.imports {
                walk_import(lookups, import, &keep, sink);
            }
        }
        Part::Inherits => {
            for inherit in &output.inherits {
                walk_inherit(lookups, inherit, &keep, sink);
            }
        }
        Part::Steps(steps) => {
            for &i in &steps.calls {
                walk_call(lookups, &output.calls[i], &keep, sink);
            }
            for &i in &steps.imports {
                walk_import(lookups, &output.imports[i], &keep, sink);
            }
            for &i in &steps.inherits {
                walk_inherit(lookups, &output.inherits[i], &keep, sink);
            }
        }
    }
}

/// The step of one call, when its file is kept.
fn walk_call<'a>(
    lookups: &Lookups<'a>,
    call: &'a CallEdge,
    keep: &impl Fn(&str) -> bool,
    sink: &mut impl Sink<'a>,
) {
    if let Some((src, file)) = lookups.source_of(&call.caller)
        && keep(file)
    {
        sink.call(file, src, lookups.target(&call.target), call.line);
    }
}

/// The step of one import, when its file is kept.
fn walk_import<'a>(
    lookups: &Lookups<'a>,
    import: &'a ImportEdge,
    keep: &impl Fn(&str) -> bool,
    sink: &mut impl Sink<'a>,
) {
    if lookups.import_file(import).is_some_and(keep) {
        sink.import(import, lookups.target(&import.target));
    }
}

/// The step of one inherit, when the child's file is kept.
fn walk_inherit<'a>(
    lookups: &Lookups<'a>,
    inherit: &'a InheritEdge,
    keep: &impl Fn(&str) -> bool,
    sink: &mut impl Sink<'a>,
) {
    let Some(child) = lookups.defs.get(inherit.child.as_str()) else {
        return;
    };
    if !keep(child.file) {
        return;
    }
    let src = Ref::new(child.label, &inherit.child);
    let rel = match inherit.kind {
        InheritKind::Extends => RelType::Extends,
        InheritKind::Implements => RelType::Implements,
    };
    let dst = lookups.target(&inherit.target);
    sink.inherit(child.file, src, dst, rel, &inherit.parent);
}

/// A relationship being aggregated: its file and the lines, names and modules seen.
#[derive(Default)]
struct Aggregate {
    file: String,
    lines: BTreeSet<i64>,
    names: BTreeSet<String>,
    /// (line, module) of the first import, to keep the module of the earliest line.
    first_module: Option<(u32, String)>,
    parent: Option<String>,
}

/// The sink that builds the rows.
#[derive(Default)]
struct Builder {
    nodes: BTreeMap<Label, BTreeMap<String, NodeRow>>,
    relationships: BTreeMap<RelType, BTreeMap<(NodeRef, NodeRef), Aggregate>>,
}

impl<'a> Sink<'a> for Builder {
    fn file(&mut self, file: &'a FileFacts) {
        let props = Props::from_iter([
            ("language".into(), Value::from(language_name(file))),
            ("lines".into(), Value::from(file.lines)),
            ("bytes".into(), Value::from(file.bytes)),
            ("has_errors".into(), Value::from(file.has_errors)),
        ]);
        self.node(Label::File, &file.path, Some(&file.path), props);
        self.relate(
            RelType::Contains,
            NodeRef::new(Label::Repository, REPOSITORY_KEY),
            NodeRef::new(Label::File, &file.path),
            &file.path,
        );
    }

    fn definition(&mut self, file: &'a str, def: &'a Definition, parent: Ref<'a>, rel: RelType) {
        let label = Label::of_kind(def.kind);
        let props = Props::from_iter([
            ("name".into(), Value::from(def.name.as_str())),
            ("start_line".into(), Value::from(def.start_line)),
            ("end_line".into(), Value::from(def.end_line)),
        ]);
        self.node(label, &def.qualified_name, Some(file), props);
        let node = NodeRef::new(label, &def.qualified_name);
        self.relate(rel, parent.owned(), node, file);
    }

    fn call(&mut self, file: &'a str, src: Ref<'a>, dst: Ref<'a>, line: u32) {
        let dst = self.target(dst);
        let agg = self.relate(RelType::Calls, src.owned(), dst, file);
        agg.lines.insert(i64::from(line));
    }

    fn import(&mut self, import: &'a ImportEdge, dst: Ref<'a>) {
        let dst = self.target(dst);
        let src = NodeRef::new(Label::File, &import.file);
        let agg = self.relate(RelType::Imports, src, dst, &import.file);
        agg.lines.insert(i64::from(import.line));
        if let Some(name) = &import.name {
            agg.names.insert(name.clone());
        }
        if agg
            .first_module
            .as_ref()
            .is_none_or(|(line, _)| import.line < *line)
        {
            agg.first_module = Some((import.line, import.module.clone()));
        }
    }

    fn inherit(
        &mut self,
        file: &'a str,
        src: Ref<'a>,
        dst: Ref<'a>,
        rel: RelType,
        parent: &'a str,
    ) {
        let dst = self.target(dst);
        let agg = self.relate(rel, src.owned(), dst, file);
        agg.parent.get_or_insert_with(|| parent.to_owned());
    }
}

impl Builder {
    /// The node a relationship points at, creating the nodes of no file (directories and
    /// external names) it needs.
    fn target(&mut self, dst: Ref<'_>) -> NodeRef {
        if dst.label.is_target_only() {
            self.node(dst.label, dst.key, None, Props::new());
        }
        dst.owned()
    }

    fn node(&mut self, label: Label, key: &str, file: Option<&str>, props: Props) {
        self.nodes
            .entry(label)
            .or_default()
            .entry(key.to_owned())
            .or_insert_with(|| NodeRow {
                key: key.to_owned(),
                file: file.map(str::to_owned),
                props,
            });
    }

    fn relate(&mut self, rel: RelType, src: NodeRef, dst: NodeRef, file: &str) -> &mut Aggregate {
        self.relationships
            .entry(rel)
            .or_default()
            .entry((src, dst))
            .or_insert_with(|| Aggregate {
                file: file.to_owned(),
                ..Aggregate::default()
            })
    }

    fn finish(self) -> GraphRows {
        let nodes = self
            .nodes
            .into_iter()
            .map(|(label, rows)| (label, rows.into_values().collect()))
            .collect();
        let relationships = self
            .relationships
            .into_iter()
            .map(|(rel, rows)| {
                let rows = rows
                    .into_iter()
                    .map(|((src, dst), agg)| RelRow {
                        src,
                        dst,
                        file: agg.file,
                        props: aggregate_props(agg.lines, agg.names, agg.first_module, agg.parent),
                    })
                    .collect();
                (rel, rows)
            })
            .collect();
        GraphRows {
            nodes,
            relationships,
        }
    }
}

/// The sink that hashes each file's steps, in order (see [`RowLookups::file_digests`]).
#[derive(Default)]
struct Digests<'a> {
    files: foldhash::HashMap<&'a str, DefaultHasher>,
    /// The file of the last step and its hasher (steps come in runs of one file).
    current: Option<(&'a str, DefaultHasher)>,
}

impl<'a> Digests<'a> {
    fn of(&mut self, file: &'a str) -> &mut DefaultHasher {
        if self.current.as_ref().is_some_and(|(last, _)| *last != file)
            && let Some((last, hasher)) = self.current.take()
        {
            self.files.insert(last, hasher);
        }
        let files = &mut self.files;
        let (_, hasher) = self
            .current
            .get_or_insert_with(|| (file, files.remove(file).unwrap_or_default()));
        hasher
    }

    /// Each file's hash.
    fn finish(mut self) -> foldhash::HashMap<&'a str, u64> {
        self.files.extend(self.current.take());
        let files = self.files.into_iter();
        files
            .map(|(file, hasher)| (file, hasher.finish()))
            .collect()
    }
}

impl<'a> Sink<'a> for Digests<'a> {
    fn file(&mut self, file: &'a FileFacts) {
        let facts = (file.language, file.lines, file.bytes, file.has_errors);
        (0u8, facts).hash(self.of(&file.path));
    }

    fn definition(&mut self, file: &'a str, def: &'a Definition, parent: Ref<'a>, rel: RelType) {
        let node = (def.kind, &def.name, &def.qualified_name);
        (1u8, node, def.start_line, def.end_line, parent, rel).hash(self.of(file));
    }

    fn call(&mut self, file: &'a str, src: Ref<'a>, dst: Ref<'a>, line: u32) {
        (2u8, src, dst, line).hash(self.of(file));
    }

    fn import(&mut self, import: &'a ImportEdge, dst: Ref<'a>) {
        let facts = (&import.module, &import.name, import.line);
        (3u8, dst, facts).hash(self.of(&import.file));
    }

    fn inherit(
        &mut self,
        file: &'a str,
        src: Ref<'a>,
        dst: Ref<'a>,
        rel: RelType,
        parent: &'a str,
    ) {
        (4u8, src, dst, rel, parent).hash(self.of(file));
    }
}

fn aggregate_props(
    lines: BTreeSet<i64>,
    names: BTreeSet<String>,
    first_module: Option<(u32, String)>,
    parent: Option<String>,
) -> Props {
    let mut props = Props::new();
    if !lines.is_empty() {
        props.insert("lines".into(), Value::Ints(lines.into_iter().collect()));
    }
    if !names.is_empty() {
        props.insert("names".into(), Value::Strs(names.into_iter().collect()));
    }
    if let Some((_, module)) = first_module {
        props.insert("module".into(), Value::Str(module));
    }
    if let Some(parent) = parent {
        props.insert("parent".into(), Value::Str(parent));
    }
    props
}

fn is_type(label: Label) -> bool {
    matches!(
        label,
        Label::Class | Label::Struct | Label::Enum | Label::Trait | Label::Interface
    )
}

fn language_name(file: &crate::parse::FileFacts) -> String {
    serde_json::to_value(file.language)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::{
        CallEdge, Definition, FileFacts, ImportEdge, InheritEdge, Language, ParseOutput, Via,
    };

    fn def(kind: DefinitionKind, qualified_name: &str, owner: Option<&str>) -> Definition {
        let name = qualified_name
            .rsplit(['.', ':'])
            .next()
            .unwrap_or(qualified_name);
        Definition {
            kind,
            name: name.to_owned(),
            qualified_name: qualified_name.to_owned(),
            owner: owner.map(str::to_owned),
            start_line: 1,
            end_line: 2,
        }
    }

    fn file(path: &str, definitions: Vec<Definition>) -> FileFacts {
        FileFacts {
            path: path.to_owned(),
            language: Language::Python,
            bytes: 10,
            lines: 3,
            has_errors: false,
            definitions,
            imports: vec![],
            calls: vec![],
            inherits: vec![],
        }
    }

    fn sample() -> ParseOutput {
        ParseOutput {
            files: vec![
                file(
                    "a.py",
                    vec![
                        def(DefinitionKind::Class, "a.py::A", None),
                        def(DefinitionKind::Method, "a.py::A.run", Some("a.py::A")),
                        def(DefinitionKind::Class, "a.py::A.Inner", Some("a.py::A")),
                        def(DefinitionKind::Function, "a.py::A.run.helper", None),
                    ],
                ),
                file("b.py", vec![def(DefinitionKind::Function, "b.py::f", None)]),
            ],
            calls: vec![
                CallEdge {
                    caller: "a.py::A.run".into(),
                    callee: "f".into(),
                    receiver: None,
                    line: 5,
                    target: Target::Internal("b.py::f".into()),
                    via: Via::Import,
                },
                CallEdge {
                    caller: "a.py::A.run".into(),
                    callee: "f".into(),
                    receiver: None,
                    line: 4,
                    target: Target::Internal("b.py::f".into()),
                    via: Via::Import,
                },
                CallEdge {
                    caller: "b.py".into(),
                    callee: "join".into(),
                    receiver: Some("os.path".into()),
                    line: 9,
                    target: Target::External("os.path.join".into()),
                    via: Via::Unresolved,
                },
            ],
            imports: vec![
                ImportEdge {
                    file: "a.py".into(),
                    module: "b".into(),
                    name: Some("f".into()),
                    line: 1,
                    target: Target::Internal("b.py::f".into()),
                    via: Via::ModulePath,
                },
                ImportEdge {
                    file: "a.py".into(),
                    module: "pkg".into(),
                    name: None,
                    line: 2,
                    target: Target::Internal("pkg".into()),
                    via: Via::ModulePath,
                },
            ],
            inherits: vec![InheritEdge {
                child: "a.py::A".into(),
                parent: "Base".into(),
                kind: InheritKind::Extends,
                target: Target::External("Base".into()),
                via: Via::Unresolved,
            }],
            ..ParseOutput::default()
        }
    }

    fn rel<'r>(rows: &'r GraphRows, rel: RelType, src: &str, dst: &str) -> Option<&'r RelRow> {
        rows.relationships
            .get(&rel)?
            .iter()
            .find(|r| r.src.key == src && r.dst.key == dst)
    }

    #[test]
    fn code_and_definition_labels_are_cut_from_all() {
        use Label::*;
        assert_eq!(
            Label::CODE,
            [
                File, Class, Struct, Enum, Trait, Interface, Function, Method, Directory, External
            ]
        );
        assert_eq!(
            Label::DEFINITIONS,
            [Class, Struct, Enum, Trait, Interface, Function, Method]
        );
    }

    #[test]
    fn definitions_hang_under_owners_enclosing_definitions_or_files() {
        let rows = GraphRows::from_parse(&sample());
        assert!(rel(&rows, RelType::Defines, "a.py", "a.py::A").is_some());
        assert!(rel(&rows, RelType::HasMethod, "a.py::A", "a.py::A.run").is_some());
        assert!(rel(&rows, RelType::Contains, "a.py::A", "a.py::A.Inner").is_some());
        assert!(
            rel(
                &rows,
                RelType::Contains,
                "a.py::A.run",
                "a.py::A.run.helper"
            )
            .is_some()
        );
        assert!(rel(&rows, RelType::Contains, REPOSITORY_KEY, "b.py").is_some());
        assert_eq!(rows.nodes[&Label::Class].len(), 2);
        assert_eq!(rows.nodes[&Label::File][0].file.as_deref(), Some("a.py"));
    }

    #[test]
    fn calls_and_imports_aggregate_per_pair_and_targets_get_nodes() {
        let rows = GraphRows::from_parse(&sample());
        let call = rel(&rows, RelType::Calls, "a.py::A.run", "b.py::f").expect("call");
        assert_eq!(call.props.get("lines"), Some(&Value::Ints(vec![4, 5])));
        assert_eq!(call.file, "a.py");
        let top = rel(&rows, RelType::Calls, "b.py", "os.path.join").expect("top-level call");
        assert_eq!(top.src.label, Label::File);
        assert_eq!(top.dst.label, Label::External);
        let import = rel(&rows, RelType::Imports, "a.py", "b.py::f").expect("import");
        assert_eq!(
            import.props.get("names"),
            Some(&Value::Strs(vec!["f".into()]))
        );
        assert_eq!(import.props.get("module"), Some(&Value::from("b")));
        let dir = rel(&rows, RelType::Imports, "a.py", "pkg").expect("directory import");
        assert_eq!(dir.dst.label, Label::Directory);
        assert!(!dir.props.contains_key("names"));
        let base = rel(&rows, RelType::Extends, "a.py::A", "Base").expect("base");
        assert_eq!(base.props.get("parent"), Some(&Value::from("Base")));
        assert_eq!(rows.nodes[&Label::External].len(), 2);
        assert_eq!(rows.nodes[&Label::Directory][0].file, None);
    }

    #[test]
    fn a_relationship_belongs_to_the_file_of_one_of_its_ends() {
        // What a cleanup of some files relies on to find their relationships.
        let sources = [
            ("go/server.go", "package web\n\ntype Server struct{}\n"),
            (
                "go/handle.go",
                "package web\n\nfunc (s *Server) Handle() { s.Close() }\nfunc (s *Server) Close() {}\n",
            ),
            (
                "py/a.py",
                "from py.b import B\n\nclass A(B):\n    def run(self):\n        def inner():\n            return self.go()\n        return inner()\n",
            ),
            (
                "py/b.py",
                "import os\n\nclass B:\n    def go(self):\n        return os.getcwd()\n",
            ),
        ];
        let facts = sources
            .iter()
            .map(|(p, s)| crate::parse::parse_source(p, s).expect("parse"))
            .collect();
        let resolved = crate::parse::resolve::resolve(facts);
        let rows = GraphRows::from_parse(&ParseOutput {
            files: resolved.files,
            calls: resolved.calls,
            imports: resolved.imports,
            inherits: resolved.inherits,
            ..ParseOutput::default()
        });
        let file_of = |node: &NodeRef| {
            rows.nodes
                .get(&node.label)?
                .iter()
                .find(|n| n.key == node.key)?
                .file
                .clone()
        };
        let mut seen = 0;
        for (rel, list) in &rows.relationships {
            for row in list {
                let ends = [file_of(&row.src), file_of(&row.dst)];
                assert!(ends.contains(&Some(row.file.clone())), "{rel:?} {row:?}");
                seen += 1;
            }
        }
        assert!(seen > 10, "{:#?}", rows.relationships);
        let has_method = &rows.relationships[&RelType::HasMethod];
        assert!(
            has_method
                .iter()
                .any(|r| r.src.key.starts_with("go/server.go")
                    && r.dst.key.starts_with("go/handle.go")),
            "a method declared in another file than its type: {has_method:#?}"
        );
    }

    #[test]
    fn rows_are_deterministic_and_counted() {
        let output = sample();
        let mut reversed = output.clone();
        reversed.calls.reverse();
        reversed.imports.reverse();
        let rows = GraphRows::from_parse(&output);
        assert_eq!(rows, GraphRows::from_parse(&reversed));
        // Files, classes, methods, functions, directories, external names.
        assert_eq!(rows.node_count(), 2 + 2 + 1 + 2 + 1 + 2);
        assert_eq!(
            rows.relationship_count(),
            // CONTAINS, DEFINES, HAS_METHOD, CALLS, IMPORTS, EXTENDS.
            4 + 2 + 1 + 2 + 2 + 1,
            "{:#?}",
            rows.relationships
        );
    }
}
