//! One extractor for every language: it parses a file with the language's grammar, runs the
//! language's query, and turns the captures into [`FileFacts`]. Languages differ only in their
//! `.scm` file, written in tree-sitter's tags vocabulary plus a few captures of our own:
//!
//! | capture | on | meaning |
//! |---|---|---|
//! | `@definition.class` `.struct` `.enum` `.trait` `.interface` `.function` `.method` | the definition node | a definition; `@name` is its name, or without `@name`, the node's `name` field |
//! | `@owner` | with `@definition.method` | the type the method belongs to when it is declared outside it (a Go receiver type) |
//! | `@self` | with `@definition.method` | the receiver variable of that method (Go), so calls on it count as calls on self |
//! | `@scope` | a node, with `@name` | a named scope that is not a definition (Rust `mod`, TypeScript `namespace`): it adds a segment to qualified names |
//! | `@scope.impl` | a node, with `@name` | a block whose functions are methods of the type `@name` (Rust `impl`) |
//! | `@reference.call` | the call node | a call of `@name`, on `@receiver` if captured |
//! | `@import` | the statement | an import of `@import.module`, optionally of `@import.name`, with `@import.alias` for the name (or for the module when no name is captured); `@import.wildcard` imports `*` |
//! | `@reference.inherits`, `@reference.implements` | the base type | a base of the innermost enclosing type (or `impl`) |
//!
//! Captures starting with `_` are helpers for predicates. Several matches with the same
//! `@import.module` node make one import (one match per imported name).
//!
//! The query engine is not run over the whole tree: the extractor walks the tree with a plain
//! cursor and runs the engine only at nodes whose kind starts a pattern ([`super::roots`]),
//! which gives the same matches for a fraction of the engine's per-node work.
//!
//! Nesting comes from the tree: a function is a method when its innermost enclosing scope is a
//! type or an `impl`, and qualified names follow the chain of enclosing scopes. The enclosing
//! scopes are found from the captured nodes' byte ranges (nodes of one tree nest), with one sort
//! and a stack, instead of walking parents: `Node::parent` costs the depth of the node in
//! tree-sitter, so parent walks are quadratic on deeply nested code, and this is linear.

use std::cell::Cell;
use std::ops::ControlFlow;
use std::sync::Arc;

use foldhash::{HashMap, HashMapExt};
use tree_sitter::{
    Node, ParseOptions, ParseState, Parser, Query, QueryCursor, QueryCursorOptions,
    QueryCursorState, QueryMatch, StreamingIterator,
};

use super::language::LanguageSpec;
use super::limits::Limits;
use super::model::{
    Call, Definition, DefinitionKind, FileFacts, Import, ImportedName, Inherit, InheritKind,
    SkipReason,
};
use super::roots::PatternRoots;

/// Receivers longer than this (long call chains) are cut, with `...` appended.
const MAX_RECEIVER_BYTES: usize = 120;

/// Why a file yielded no facts.
#[derive(Debug, thiserror::Error)]
pub enum ExtractError {
    /// Over one of its [`Limits`] (time, nesting, name length, facts): the file is skipped.
    #[error("file over a parsing limit: {0:?}")]
    Limit(SkipReason),
    /// A grammar or query that does not load: a bug of this module, not of the input.
    #[error("{0}")]
    Grammar(String),
}

/// Parses files one after another, reusing its parser. One per thread.
pub struct Extractor {
    parser: Parser,
    query_cursor: QueryCursor,
}

impl Default for Extractor {
    fn default() -> Self {
        Self::new()
    }
}

impl Extractor {
    pub fn new() -> Self {
        Self {
            parser: Parser::new(),
            query_cursor: QueryCursor::new(),
        }
    }

    /// Extracts the facts of one file. `path` is the repo-relative path used in qualified names;
    /// as soon as the file crosses one of its `limits` (past the deadline, while parsing,
    /// querying or nesting), the work stops and the error names the reason.
    pub fn extract(
        &mut self,
        spec: &LanguageSpec,
        path: &str,
        source: &str,
        limits: &Limits,
    ) -> Result<FileFacts, ExtractError> {
        self.extract_with(spec, path, source, limits, Matching::AtRoots)
    }

    /// [`Self::extract`], with the query engine run as `matching` says.
    pub(super) fn extract_with(
        &mut self,
        spec: &LanguageSpec,
        path: &str,
        source: &str,
        limits: &Limits,
        matching: Matching,
    ) -> Result<FileFacts, ExtractError> {
        let compiled = spec.query().map_err(ExtractError::Grammar)?;
        let query = &compiled.query;
        self.parser
            .set_language(&spec.grammar())
            .map_err(|e| ExtractError::Grammar(format!("grammar of {:?}: {e}", spec.language)))?;
        let bytes = source.as_bytes();
        let mut parse_progress = |_: &ParseState| {
            if limits.deadline.passed() {
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            }
        };
        let tree = self
            .parser
            .parse_with_options(
                &mut |offset, _| bytes.get(offset..).unwrap_or_default(),
                None,
                Some(ParseOptions::new().progress_callback(&mut parse_progress)),
            )
            .ok_or(ExtractError::Limit(SkipReason::Timeout))?;
        let root = tree.root_node();

        let mut collector = Collector {
            roles: query
                .capture_names()
                .iter()
                .map(|name| Role::of(name))
                .collect(),
            source,
            max_facts: limits.max_facts,
            items: Vec::new(),
            imports: ImportCollector::default(),
        };
        match compiled
            .roots
            .as_ref()
            .filter(|_| matching == Matching::AtRoots)
        {
            Some(roots) => {
                self.match_at_roots(query, roots, root, bytes, limits, &mut collector)?
            }
            None => {
                self.query_cursor.set_max_start_depth(None);
                match_subtree(
                    &mut self.query_cursor,
                    query,
                    root,
                    bytes,
                    limits,
                    &mut collector,
                )?;
            }
        }
        let Collector { items, imports, .. } = collector;

        let mut facts = FileFacts {
            path: path.to_owned(),
            language: spec.language,
            bytes: source.len() as u64,
            lines: count_lines(source),
            has_errors: root.has_error(),
            definitions: Vec::new(),
            imports: imports.finish(),
            calls: Vec::new(),
            inherits: Vec::new(),
        };
        nest(spec, path, items, &mut facts, limits).map_err(ExtractError::Limit)?;
        Ok(facts)
    }
}

impl Extractor {
    /// Runs the query's patterns at every node of `root`'s tree where one can start: one walk
    /// of the tree with a plain cursor, and the query engine only at those nodes, limited to
    /// patterns starting there (the engine descends only as deep as they need). The engine's
    /// matches are the ones a whole-tree run gives, in the order of their root nodes. Below an
    /// `ERROR` node the engine runs on the whole subtree, as a whole-tree run would there: the
    /// engine does not start a pattern without a single root node directly below an `ERROR`,
    /// which a run started at the node itself could not tell.
    fn match_at_roots(
        &mut self,
        query: &Query,
        roots: &PatternRoots,
        root: Node,
        bytes: &[u8],
        limits: &Limits,
        collector: &mut Collector,
    ) -> Result<(), ExtractError> {
        let mut cursor = root.walk();
        let mut visited = 0usize;
        'walk: loop {
            visited += 1;
            if visited.is_multiple_of(NODES_PER_DEADLINE_CHECK) && limits.deadline.passed() {
                return Err(ExtractError::Limit(SkipReason::Timeout));
            }
            let node = cursor.node();
            let kind = node.kind_id();
            let descend = if kind == ERROR_KIND {
                self.query_cursor.set_max_start_depth(None);
                match_subtree(
                    &mut self.query_cursor,
                    query,
                    node,
                    bytes,
                    limits,
                    collector,
                )?;
                false
            } else {
                if roots.contains(kind) {
                    self.query_cursor.set_max_start_depth(Some(0));
                    let mut matches = self.query_cursor.matches(query, node, bytes);
                    while let Some(found) = matches.next() {
                        collector.add(found)?;
                    }
                }
                true
            };
            if descend && cursor.goto_first_child() {
                continue;
            }
            while !cursor.goto_next_sibling() {
                if !cursor.goto_parent() {
                    break 'walk;
                }
            }
        }
        Ok(())
    }
}

/// How the query engine is run over a tree: both give the same matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Matching {
    /// Only at the nodes where the query's patterns start, when their kinds are known
    /// ([`Extractor::match_at_roots`]); else over the whole tree.
    AtRoots,
    /// Over the whole tree: what the tests compare [`Matching::AtRoots`] with.
    #[cfg(test)]
    WholeTree,
}

/// The kind id of tree-sitter's `ERROR` nodes.
const ERROR_KIND: u16 = u16::MAX;

/// Nodes walked between two checks of the deadline.
const NODES_PER_DEADLINE_CHECK: usize = 4096;

/// Runs the query engine over the whole subtree of `node`, with the deadline checked as it goes.
fn match_subtree(
    query_cursor: &mut QueryCursor,
    query: &Query,
    node: Node,
    bytes: &[u8],
    limits: &Limits,
    collector: &mut Collector,
) -> Result<(), ExtractError> {
    let timed_out = Cell::new(false);
    let mut query_progress = |_: &QueryCursorState| {
        if limits.deadline.passed() {
            timed_out.set(true);
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    };
    let mut matches = query_cursor.matches_with_options(
        query,
        node,
        bytes,
        QueryCursorOptions::new().progress_callback(&mut query_progress),
    );
    while let Some(found) = matches.next() {
        collector.add(found)?;
    }
    if timed_out.get() {
        return Err(ExtractError::Limit(SkipReason::Timeout));
    }
    Ok(())
}

/// Lines of a text: a last line without a newline counts.
fn count_lines(source: &str) -> u32 {
    let newlines = source.bytes().filter(|&b| b == b'\n').count();
    let unterminated = usize::from(!source.is_empty() && !source.ends_with('\n'));
    u32::try_from(newlines + unterminated).unwrap_or(u32::MAX)
}

/// Turns the matches of one file into items and imports.
struct Collector<'source> {
    /// The role of each capture name of the query, by capture index.
    roles: Vec<Role>,
    source: &'source str,
    max_facts: usize,
    items: Vec<Item>,
    imports: ImportCollector,
}

impl Collector<'_> {
    fn add(&mut self, found: &QueryMatch) -> Result<(), ExtractError> {
        let mut captured = Captured::default();
        for capture in found.captures() {
            let role = self
                .roles
                .get(capture.index as usize)
                .copied()
                .unwrap_or(Role::Ignored);
            captured.set(role, capture.node);
        }
        captured.into_item(self.source, &mut self.items, &mut self.imports);
        if self.items.len() + self.imports.facts > self.max_facts {
            return Err(ExtractError::Limit(SkipReason::TooManyFacts));
        }
        Ok(())
    }
}

/// What a capture name means (see the module doc).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    Definition(DefinitionKind),
    Scope,
    ScopeImpl,
    Call,
    Import,
    Inherits(InheritKind),
    Name,
    Owner,
    SelfName,
    Receiver,
    ImportModule,
    ImportName,
    ImportAlias,
    ImportWildcard,
    Ignored,
}

impl Role {
    fn of(capture_name: &str) -> Role {
        match capture_name {
            "definition.class" => Role::Definition(DefinitionKind::Class),
            "definition.struct" => Role::Definition(DefinitionKind::Struct),
            "definition.enum" => Role::Definition(DefinitionKind::Enum),
            "definition.trait" => Role::Definition(DefinitionKind::Trait),
            "definition.interface" => Role::Definition(DefinitionKind::Interface),
            "definition.function" => Role::Definition(DefinitionKind::Function),
            "definition.method" => Role::Definition(DefinitionKind::Method),
            "scope" => Role::Scope,
            "scope.impl" => Role::ScopeImpl,
            "reference.call" => Role::Call,
            "import" => Role::Import,
            "reference.inherits" => Role::Inherits(InheritKind::Extends),
            "reference.implements" => Role::Inherits(InheritKind::Implements),
            "name" => Role::Name,
            "owner" => Role::Owner,
            "self" => Role::SelfName,
            "receiver" => Role::Receiver,
            "import.module" => Role::ImportModule,
            "import.name" => Role::ImportName,
            "import.alias" => Role::ImportAlias,
            "import.wildcard" => Role::ImportWildcard,
            _ => Role::Ignored,
        }
    }
}

/// The captures of one match, by role.
#[derive(Default)]
struct Captured<'tree> {
    main: Option<(Role, Node<'tree>)>,
    name: Option<Node<'tree>>,
    owner: Option<Node<'tree>>,
    self_name: Option<Node<'tree>>,
    receiver: Option<Node<'tree>>,
    module: Option<Node<'tree>>,
    import_name: Option<Node<'tree>>,
    alias: Option<Node<'tree>>,
    wildcard: Option<Node<'tree>>,
}

impl<'tree> Captured<'tree> {
    fn set(&mut self, role: Role, node: Node<'tree>) {
        match role {
            Role::Definition(_)
            | Role::Scope
            | Role::ScopeImpl
            | Role::Call
            | Role::Import
            | Role::Inherits(_) => self.main = Some((role, node)),
            Role::Name => self.name = Some(node),
            Role::Owner => self.owner = Some(node),
            Role::SelfName => self.self_name = Some(node),
            Role::Receiver => self.receiver = Some(node),
            Role::ImportModule => self.module = Some(node),
            Role::ImportName => self.import_name = Some(node),
            Role::ImportAlias => self.alias = Some(node),
            Role::ImportWildcard => self.wildcard = Some(node),
            Role::Ignored => {}
        }
    }

    fn into_item(self, source: &str, items: &mut Vec<Item>, imports: &mut ImportCollector) {
        let Some((role, node)) = self.main else {
            return;
        };
        let text = |node: Node| source.get(node.byte_range()).unwrap_or_default().to_owned();
        let kind = match role {
            Role::Definition(kind) => {
                let Some(name) = self.name.or_else(|| node.child_by_field_name("name")) else {
                    return;
                };
                ItemKind::Scope(ScopeSpec {
                    kind: ScopeKind::Definition(kind),
                    name: text(name),
                    owner: self.owner.map(text),
                    self_name: self.self_name.map(text),
                    start_line: line_of(node),
                    end_line: node.end_position().row as u32 + 1,
                })
            }
            Role::Scope | Role::ScopeImpl => {
                let Some(name) = self.name else { return };
                ItemKind::Scope(ScopeSpec {
                    kind: if role == Role::Scope {
                        ScopeKind::Module
                    } else {
                        ScopeKind::Impl
                    },
                    name: text(name),
                    owner: None,
                    self_name: None,
                    start_line: line_of(node),
                    end_line: node.end_position().row as u32 + 1,
                })
            }
            Role::Call => {
                let Some(name) = self.name else { return };
                ItemKind::Call {
                    callee: text(name),
                    receiver: self.receiver.map(|node| shorten(text(node))),
                }
            }
            Role::Inherits(kind) => ItemKind::Inherit {
                parent: text(node),
                kind,
            },
            Role::Import => {
                let Some(module) = self.module else { return };
                imports.add(
                    module,
                    text(module),
                    line_of(node),
                    match (self.wildcard, self.import_name) {
                        (Some(wildcard), _) => Some((wildcard.start_byte(), "*".to_owned())),
                        (None, name) => name.map(|name| (name.start_byte(), text(name))),
                    },
                    self.alias.map(text),
                );
                return;
            }
            _ => return,
        };
        items.push(Item {
            start: node.start_byte(),
            end: node.end_byte(),
            line: line_of(node),
            kind,
        });
    }
}

fn line_of(node: Node) -> u32 {
    node.start_position().row as u32 + 1
}

fn shorten(mut text: String) -> String {
    if text.len() > MAX_RECEIVER_BYTES {
        let mut cut = MAX_RECEIVER_BYTES;
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        text.truncate(cut);
        text.push_str("...");
    }
    text
}

/// Imports keyed by their module node: the matches of one statement merge into one import.
/// Positions order imports and names as in the source (matches come in pattern order).
#[derive(Default)]
struct ImportCollector {
    by_module: HashMap<usize, PendingImport>,
    /// Matches added: a bound on the imported names and modules.
    facts: usize,
}

/// An import being collected: where its module starts, and each name with its position.
struct PendingImport {
    start: usize,
    import: Import,
    names: Vec<(usize, ImportedName)>,
}

impl ImportCollector {
    fn add(
        &mut self,
        module_node: Node,
        module: String,
        line: u32,
        name: Option<(usize, String)>,
        alias: Option<String>,
    ) {
        self.facts += 1;
        let PendingImport { import, names, .. } = self
            .by_module
            .entry(module_node.id())
            .or_insert_with(|| PendingImport {
                start: module_node.start_byte(),
                import: Import {
                    module,
                    names: Vec::new(),
                    alias: None,
                    line,
                },
                names: Vec::new(),
            });
        import.line = import.line.min(line);
        match name {
            Some((position, name)) => {
                let imported = (position, ImportedName { name, alias });
                if !names.contains(&imported) {
                    names.push(imported);
                }
            }
            None => {
                if alias.is_some() {
                    import.alias = alias;
                }
            }
        }
    }

    fn finish(self) -> Vec<Import> {
        let mut imports: Vec<_> = self.by_module.into_values().collect();
        imports.sort_by_key(|pending| pending.start);
        imports
            .into_iter()
            .map(|mut pending| {
                pending.names.sort_by_key(|(position, _)| *position);
                pending.import.names = pending.names.into_iter().map(|(_, name)| name).collect();
                pending.import
            })
            .collect()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ScopeKind {
    Definition(DefinitionKind),
    Module,
    Impl,
}

struct ScopeSpec {
    kind: ScopeKind,
    name: String,
    owner: Option<String>,
    self_name: Option<String>,
    start_line: u32,
    end_line: u32,
}

enum ItemKind {
    Scope(ScopeSpec),
    Call {
        callee: String,
        receiver: Option<String>,
    },
    Inherit {
        parent: String,
        kind: InheritKind,
    },
}

struct Item {
    start: usize,
    end: usize,
    line: u32,
    kind: ItemKind,
}

/// A scope being visited: it ends at `end`.
struct OpenScope {
    end: usize,
    name: ScopeName,
    is_type: bool,
    /// Stack position of the innermost definition this scope is or lies in.
    definition: Option<usize>,
    self_name: Option<String>,
}

/// Where an open scope's qualified name is kept: each name is built once, from its parent's.
enum ScopeName {
    /// The qualified name of `facts.definitions[i]`.
    Definition(usize),
    /// A module or `impl` block: no definition holds its name.
    Own(String),
}

impl OpenScope {
    fn qualified_name<'a>(&'a self, definitions: &'a [Definition]) -> &'a str {
        match &self.name {
            ScopeName::Definition(position) => definitions
                .get(*position)
                .map_or("", |definition| definition.qualified_name.as_str()),
            ScopeName::Own(name) => name,
        }
    }
}

/// Items between two checks of the deadline while nesting.
const ITEMS_PER_DEADLINE_CHECK: usize = 4096;

/// Places every item in its innermost enclosing scope and fills the facts. Each scope's name is
/// built once from its parent's and held by its definition; a stack of open scopes finds the
/// enclosing ones, so the work is linear in the items and the (bounded) name lengths.
fn nest(
    spec: &LanguageSpec,
    path: &str,
    mut items: Vec<Item>,
    facts: &mut FileFacts,
    limits: &Limits,
) -> Result<(), SkipReason> {
    // Outer before inner: by start, then the longer first, then scopes before references.
    items.sort_by_key(|item| {
        (
            item.start,
            std::cmp::Reverse(item.end),
            !matches!(item.kind, ItemKind::Scope(_)),
        )
    });
    let bounded = |name: String| {
        if name.len() > limits.max_name_bytes {
            Err(SkipReason::NameTooLong)
        } else {
            Ok(name)
        }
    };
    let child_name = |parent: Option<&str>, segment: &str| {
        let length = parent.map_or(path.len() + 2, |parent| parent.len() + 1) + segment.len();
        if length > limits.max_name_bytes {
            return Err(SkipReason::NameTooLong);
        }
        Ok(match parent {
            Some(parent) => format!("{parent}.{segment}"),
            None => format!("{path}::{segment}"),
        })
    };
    let mut seen: HashMap<String, u32> = HashMap::new();
    let mut stack: Vec<OpenScope> = Vec::new();
    // The calls of one definition follow each other: they share its name.
    let mut last_caller: Option<Arc<str>> = None;
    for (number, item) in items.into_iter().enumerate() {
        if number % ITEMS_PER_DEADLINE_CHECK == 0 {
            limits.deadline.check()?;
        }
        while stack.last().is_some_and(|top| top.end <= item.start) {
            stack.pop();
        }
        let parent = stack.last();
        let parent_name = parent.map(|parent| parent.qualified_name(&facts.definitions));
        match item.kind {
            ItemKind::Scope(scope) => {
                if stack.len() >= limits.max_nesting {
                    return Err(SkipReason::TooDeep);
                }
                let open = match scope.kind {
                    ScopeKind::Module | ScopeKind::Impl => OpenScope {
                        end: item.end,
                        name: ScopeName::Own(child_name(parent_name, &scope.name)?),
                        is_type: scope.kind == ScopeKind::Impl,
                        definition: parent.and_then(|parent| parent.definition),
                        self_name: None,
                    },
                    ScopeKind::Definition(kind) => {
                        let (kind, chain, owner) = match (&scope.owner, parent) {
                            (Some(owner), _) if !kind.is_type() => {
                                let owner = child_name(parent_name, owner)?;
                                let chain = child_name(Some(&owner), &scope.name)?;
                                (DefinitionKind::Method, chain, Some(owner))
                            }
                            (_, Some(parent)) if parent.is_type => {
                                let kind = if kind.is_type() {
                                    kind
                                } else {
                                    DefinitionKind::Method
                                };
                                let chain = child_name(parent_name, &scope.name)?;
                                (kind, chain, parent_name.map(str::to_owned))
                            }
                            _ => {
                                let kind = if kind.is_type() {
                                    kind
                                } else {
                                    DefinitionKind::Function
                                };
                                (kind, child_name(parent_name, &scope.name)?, None)
                            }
                        };
                        let count = seen.entry(chain.clone()).or_insert(0);
                        *count += 1;
                        let qualified_name = if *count == 1 {
                            chain
                        } else {
                            bounded(format!("{chain}#{count}"))?
                        };
                        facts.definitions.push(Definition {
                            kind,
                            name: scope.name,
                            qualified_name,
                            owner,
                            start_line: scope.start_line,
                            end_line: scope.end_line,
                        });
                        OpenScope {
                            end: item.end,
                            name: ScopeName::Definition(facts.definitions.len() - 1),
                            is_type: kind.is_type(),
                            definition: Some(stack.len()),
                            self_name: scope.self_name,
                        }
                    }
                };
                stack.push(open);
            }
            ItemKind::Call { callee, receiver } => {
                let enclosing = parent
                    .and_then(|parent| parent.definition)
                    .and_then(|position| stack.get(position));
                let receiver_is_self = receiver.as_deref().is_some_and(|receiver| {
                    spec.names.self_words.contains(&receiver)
                        || enclosing
                            .and_then(|scope| scope.self_name.as_deref())
                            .is_some_and(|self_name| self_name == receiver)
                });
                let caller =
                    enclosing.map_or(path, |scope| scope.qualified_name(&facts.definitions));
                let caller = match &last_caller {
                    Some(last) if **last == *caller => Arc::clone(last),
                    _ => Arc::clone(last_caller.insert(Arc::from(caller))),
                };
                facts.calls.push(Call {
                    caller,
                    callee: callee.into(),
                    receiver: receiver.map(Arc::from),
                    receiver_is_self,
                    line: item.line,
                });
            }
            ItemKind::Inherit { parent: base, kind } => {
                if let Some(child) = parent.filter(|scope| scope.is_type) {
                    facts.inherits.push(Inherit {
                        child: child.qualified_name(&facts.definitions).to_owned(),
                        parent: base,
                        kind,
                        line: item.line,
                    });
                }
            }
        }
    }
    Ok(())
}
