//! What parsing a repository produces: the facts of each file (definitions, imports, calls,
//! inheritance) as the source states them, and the edges that resolution links to definitions.
//! Every type here is plain serde data, so a caller can store it or send it between activities.
//!
//! Qualified names are `<path>::<chain>`: the repo-relative file path (`/` separators), `::`, then
//! the names of the enclosing definitions and scopes joined by `.`, ending with the definition's
//! own name — `pkg/mod.py::Outer.Inner.method`, `src/lib.rs::Store.get` (a method of `impl Store`),
//! `api/server.go::Server.Handle` (a Go method with receiver `*Server`). A file's top-level code
//! is named by the path alone. When one file defines the same chain twice (two `func init()` in
//! Go, a conditional `def f` in Python), the second gets `#2`, the third `#3`, and so on.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

/// A language the parser knows, by its file extensions (see [`super::language`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Language {
    Python,
    Rust,
    Go,
    JavaScript,
    TypeScript,
    Tsx,
    Java,
}

/// What a definition is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DefinitionKind {
    Class,
    Struct,
    Enum,
    Trait,
    Interface,
    /// A free function (top-level, or nested in another function).
    Function,
    /// A function that belongs to a type: it always has an `owner`.
    Method,
}

impl DefinitionKind {
    /// Whether the kind is a type that can own methods and take part in inheritance.
    pub fn is_type(self) -> bool {
        !matches!(self, DefinitionKind::Function | DefinitionKind::Method)
    }
}

/// A class, type, function or method defined in a file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Definition {
    pub kind: DefinitionKind,
    /// The name as written.
    pub name: String,
    /// `<path>::<chain>`, unique in the repository (see the module doc).
    pub qualified_name: String,
    /// For methods and nested types: the qualified name of the type that owns them (the
    /// enclosing class, struct, trait or interface; the type of a Rust `impl`; the receiver type
    /// of a Go method). After resolution it names the type's definition when the repository has
    /// one, even in another file; otherwise it names the type as if the file defined it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    /// First line of the definition, 1-based.
    pub start_line: u32,
    /// Last line of the definition, 1-based, inclusive.
    pub end_line: u32,
}

/// A name an import brings in, with the local alias it is bound to, if any.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportedName {
    /// As written: `f` in `from m import f`, `HashMap` in `use std::collections::HashMap`,
    /// `c::D` in `use a::{c::D}`, `*` for a wildcard. (A JavaScript default import binds the
    /// module: it is the import's `alias`.)
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alias: Option<String>,
}

/// One import statement (or one module of a statement that imports several).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Import {
    /// The module as written, without quotes: `pkg.mod`, `..sibling`, `./util`, `fmt`,
    /// `std::collections`, `java.util`.
    pub module: String,
    /// The names imported from the module; empty when the module itself is imported.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub names: Vec<ImportedName>,
    /// The local name of the module itself (`import numpy as np`, `import f "fmt"`,
    /// `import * as ns from "x"`, `import x from "x"`, `const x = require("x")`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alias: Option<String>,
    pub line: u32,
}

/// A call (or a `new` expression) as written. Its names are shared (`Arc`): the calls of one
/// definition share their caller, and a call's edge shares all three.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Call {
    /// Qualified name of the innermost enclosing definition, or the file path for top-level code.
    pub caller: Arc<str>,
    /// The called name: the last segment (`bar` in `obj.bar()`, `new` in `Foo::new()`).
    pub callee: Arc<str>,
    /// What stands before the last segment, as written (`obj`, `self.client`, `Foo`, `os.path`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub receiver: Option<Arc<str>>,
    /// The receiver is the caller's own instance or type: `self`, `this`, `cls`, `Self`, or the
    /// receiver variable of a Go method.
    #[serde(default, skip_serializing_if = "is_false")]
    pub receiver_is_self: bool,
    pub line: u32,
}

/// Whether a type extends another or implements an interface or trait.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum InheritKind {
    /// A base class, a super-interface or super-trait, a Go embedded type.
    Extends,
    /// An interface a class implements (Java, TypeScript), a trait of a Rust `impl Trait for X`.
    Implements,
}

/// One base of a type.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Inherit {
    /// Qualified name of the type (for a Rust `impl Trait for X`: the owner name of `X`).
    pub child: String,
    /// The base as written: `Base`, `mod.Base`, `fmt::Display`, `List<String>`.
    pub parent: String,
    pub kind: InheritKind,
    pub line: u32,
}

/// Everything extracted from one file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileFacts {
    /// Repo-relative path with `/` separators.
    pub path: String,
    pub language: Language,
    pub bytes: u64,
    pub lines: u32,
    /// The tree had syntax errors; the facts come from what tree-sitter could recover.
    #[serde(default, skip_serializing_if = "is_false")]
    pub has_errors: bool,
    pub definitions: Vec<Definition>,
    pub imports: Vec<Import>,
    pub calls: Vec<Call>,
    pub inherits: Vec<Inherit>,
}

/// Where a reference points after resolution.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Target {
    /// Inside the repository: a definition's qualified name, a file path (an import of a module
    /// whose file is known but not the name in it), or a directory path (a Go package).
    Internal(String),
    /// Not found in the repository: the name as written, prefixed with the module it was
    /// imported from when known (`os.path.join`, `fmt.Println`).
    External(String),
}

/// How a target was found: lets a consumer keep only the links it trusts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Via {
    /// A definition visible in the same file.
    SameFile,
    /// A member of the caller's own type (or of one of its bases) or of a named type.
    Owner,
    /// Through an import of the file.
    Import,
    /// A module path matched a file or directory of the repository.
    ModulePath,
    /// The same Go or Java package (directory).
    Package,
    /// The only definition in the repository with that name and language.
    UniqueName,
    /// Not resolved: the target is external.
    Unresolved,
}

/// A call with its target.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallEdge {
    pub caller: Arc<str>,
    pub callee: Arc<str>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub receiver: Option<Arc<str>>,
    pub line: u32,
    pub target: Target,
    pub via: Via,
}

impl CallEdge {
    /// `call` resolved to `target`.
    pub fn of(call: &Call, target: Target, via: Via) -> Self {
        Self {
            caller: call.caller.clone(),
            callee: call.callee.clone(),
            receiver: call.receiver.clone(),
            line: call.line,
            target,
            via,
        }
    }
}

/// One module or imported name of a file with its target.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportEdge {
    /// The importing file.
    pub file: String,
    pub module: String,
    /// The imported name, or none for an import of the module itself.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub line: u32,
    pub target: Target,
    pub via: Via,
}

impl ImportEdge {
    /// The import of `name` (or of the module itself) by `file`, resolved to `target`.
    pub fn of(file: &str, import: &Import, name: Option<&str>, target: Target, via: Via) -> Self {
        Self {
            file: file.to_owned(),
            module: import.module.clone(),
            name: name.map(str::to_owned),
            line: import.line,
            target,
            via,
        }
    }
}

/// An inheritance with its target.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InheritEdge {
    pub child: String,
    pub parent: String,
    pub kind: InheritKind,
    pub target: Target,
    pub via: Via,
}

impl InheritEdge {
    /// `inherit` resolved to `target`.
    pub fn of(inherit: &Inherit, target: Target, via: Via) -> Self {
        Self {
            child: inherit.child.clone(),
            parent: inherit.parent.clone(),
            kind: inherit.kind,
            target,
            via,
        }
    }
}

/// Why a file was not parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SkipReason {
    /// No grammar for its extension.
    UnknownLanguage,
    /// A NUL byte in the first 8 KiB.
    Binary,
    /// Larger than `ParseOptions::max_file_bytes`.
    Oversized,
    /// A directory named in `ParseOptions::vendored_dirs` (counted once per directory; its
    /// files are not visited).
    Vendored,
    /// A generated-code marker in the first lines, or a generated file name (`*.min.js`, ...).
    Generated,
    /// Not valid UTF-8.
    InvalidUtf8,
    /// A symbolic link: never followed.
    Symlink,
    /// Not a regular file (a FIFO, socket or device). A git tree holds none: kept so that
    /// outputs written by hosts that parsed a checkout still read.
    Special,
    /// Could not be read (permissions, vanished during the walk).
    Unreadable,
    /// Parsing, extracting or resolving the file took longer than `ParseOptions::file_timeout`.
    Timeout,
    /// Scopes nested deeper than `ParseOptions::max_nesting`.
    TooDeep,
    /// A qualified name longer than `ParseOptions::max_name_bytes`.
    NameTooLong,
    /// More definitions, calls, imports and bases than `ParseOptions::max_facts`.
    TooManyFacts,
}

/// Files and lines of one language.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LanguageStats {
    pub files: u64,
    pub lines: u64,
    pub bytes: u64,
}

/// A file that was not parsed, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SkippedFile {
    pub path: String,
    pub reason: SkipReason,
}

/// The result of parsing a repository.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ParseOutput {
    /// Parsed files, sorted by path.
    pub files: Vec<FileFacts>,
    pub calls: Vec<CallEdge>,
    pub imports: Vec<ImportEdge>,
    pub inherits: Vec<InheritEdge>,
    /// How many files (or vendored directories) were skipped, per reason.
    pub skipped: BTreeMap<SkipReason, u64>,
    /// Each skipped file or directory, sorted by path; unknown-language files are only counted.
    pub skipped_files: Vec<SkippedFile>,
    /// Parsed files per language.
    pub languages: BTreeMap<Language, LanguageStats>,
}

fn is_false(value: &bool) -> bool {
    !*value
}
