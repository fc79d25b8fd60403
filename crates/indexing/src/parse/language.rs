//! The language table: which file extensions map to which tree-sitter grammar and query files,
//! and how each language's names behave and resolve. A language is data: adding one means a
//! `queries/<language>.scm`, a row in [`SPECS`] (plus a variant of [`Language`]) and, unless
//! it shares them with a language already here, its [`Names`]. The extractor and the resolver
//! name no language.

use std::sync::OnceLock;

use tree_sitter::Query;

pub use super::model::Language;
use super::roots::PatternRoots;

/// How one language is parsed and how its names behave.
pub struct LanguageSpec {
    pub language: Language,
    /// File extensions, without the dot, lower case.
    pub extensions: &'static [&'static str],
    grammar: fn() -> tree_sitter::Language,
    /// Query files in the tags vocabulary described in [`super::extractor`], joined in this
    /// order when the query is first compiled: the language's own file, then shared fragments.
    queries: &'static [&'static str],
    pub names: &'static Names,
    compiled: OnceLock<Result<CompiledQuery, String>>,
}

/// A language's query, compiled once per process.
#[derive(Debug)]
pub struct CompiledQuery {
    pub query: Query,
    /// Where its patterns start; `None` when the query has roots [`PatternRoots`] does not read.
    pub roots: Option<PatternRoots>,
}

/// How a language's names are written, bound and found in the repository: all the resolver
/// knows of a language. Languages whose files import each other share one.
#[derive(Debug)]
pub struct Names {
    /// The family the language's files are resolved in (JavaScript for TypeScript and TSX).
    pub family: Language,
    /// Receiver words that mean "the caller's own instance or type".
    pub self_words: &'static [&'static str],
    /// A bare call may name a method of an enclosing class (Java's implicit `this`).
    pub implicit_this: bool,
    /// Top-level names of one directory are visible to each other without imports (Go and Java
    /// packages).
    pub directory_is_package: bool,
    /// Separator of module paths in imports (`.`, `/`, `::`).
    pub path_separator: &'static str,
    /// Separator of a member from its module or type in external names (`.`, `::`).
    pub member_separator: &'static str,
    /// The file stem of a package's entry file (`__init__`, `index`, `mod`): its module path
    /// is its directory's.
    pub entry_file: Option<&'static str>,
    /// How an import's module path maps to files or directories of the repository.
    pub module_paths: ModulePaths,
    /// What an import of a whole module binds when it has no alias.
    pub module_binding: ModuleBinding,
}

/// How an import's module path maps to the repository.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModulePaths {
    /// Python: `a.b` → the file of module key `a/b` anywhere below the root (so `src/` layouts
    /// work); with leading dots, relative to the file's directory, one more dot per level up.
    DottedWithRelativeDots,
    /// JavaScript, TypeScript: only `./x` and `../x`, relative to the file (`x.ts`, `x.js`,
    /// `x/index.ts`, ...); other modules are packages outside the repository.
    RelativeFiles,
    /// Go: an import path names a package directory (the longest directory ending it); a path
    /// whose first element has no dot is the standard library.
    PackageDirectories,
    /// Java: `a.b.C` → the file `a/b/C.java` anywhere below the root, else the directory `a/b/C`.
    DottedFilesOrPackages,
    /// Rust: `crate::a::b` → the file of `a/b` (`a/b.rs`, `a/b/mod.rs`) anywhere below the root.
    /// A path starting with one of `local_roots` is the crate's own; another is an external
    /// crate unless a module of the repository has its (multi-segment) path.
    CratePaths {
        local_roots: &'static [&'static str],
    },
}

/// What `import m` binds when it gives no alias.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModuleBinding {
    /// The module path as written (Python `import os.path` binds `os.path`).
    WholePath,
    /// The last segment of the path (Go `import "net/http"` binds `http`, Rust `use a::b`
    /// binds `b`).
    LastSegment,
    /// Nothing: the language always names what it imports.
    Nothing,
}

impl Names {
    /// What most languages share; each row of [`SPECS`] says where it differs.
    const DEFAULT: Names = Names {
        family: Language::Python,
        self_words: &[],
        implicit_this: false,
        directory_is_package: false,
        path_separator: ".",
        member_separator: ".",
        entry_file: None,
        module_paths: ModulePaths::DottedWithRelativeDots,
        module_binding: ModuleBinding::Nothing,
    };
}

static PYTHON: Names = Names {
    family: Language::Python,
    self_words: &["self", "cls"],
    entry_file: Some("__init__"),
    module_binding: ModuleBinding::WholePath,
    ..Names::DEFAULT
};

static RUST: Names = Names {
    family: Language::Rust,
    self_words: &["self", "Self"],
    path_separator: "::",
    member_separator: "::",
    entry_file: Some("mod"),
    module_paths: ModulePaths::CratePaths {
        local_roots: &["crate", "self", "super"],
    },
    module_binding: ModuleBinding::LastSegment,
    ..Names::DEFAULT
};

static GO: Names = Names {
    family: Language::Go,
    directory_is_package: true,
    path_separator: "/",
    module_paths: ModulePaths::PackageDirectories,
    module_binding: ModuleBinding::LastSegment,
    ..Names::DEFAULT
};

static ECMASCRIPT: Names = Names {
    family: Language::JavaScript,
    self_words: &["this"],
    path_separator: "/",
    entry_file: Some("index"),
    module_paths: ModulePaths::RelativeFiles,
    ..Names::DEFAULT
};

static JAVA: Names = Names {
    family: Language::Java,
    self_words: &["this"],
    implicit_this: true,
    directory_is_package: true,
    module_paths: ModulePaths::DottedFilesOrPackages,
    ..Names::DEFAULT
};

/// The query files.
mod queries {
    pub const PYTHON: &str = include_str!("queries/python.scm");
    pub const RUST: &str = include_str!("queries/rust.scm");
    pub const GO: &str = include_str!("queries/go.scm");
    pub const JAVASCRIPT: &str = include_str!("queries/javascript.scm");
    pub const TYPESCRIPT: &str = include_str!("queries/typescript.scm");
    /// Shared by JavaScript and TypeScript, after their own file.
    pub const ECMASCRIPT: &str = include_str!("queries/ecmascript.scm");
    pub const JAVA: &str = include_str!("queries/java.scm");
}

/// Every supported language.
#[rustfmt::skip]
pub static SPECS: [LanguageSpec; 7] = {
    use queries as q;
    [
        LanguageSpec::new(Language::Python,     &["py", "pyi"],              || tree_sitter_python::LANGUAGE.into(),                 &[q::PYTHON],                  &PYTHON),
        LanguageSpec::new(Language::Rust,       &["rs"],                     || tree_sitter_rust::LANGUAGE.into(),                   &[q::RUST],                    &RUST),
        LanguageSpec::new(Language::Go,         &["go"],                     || tree_sitter_go::LANGUAGE.into(),                     &[q::GO],                      &GO),
        LanguageSpec::new(Language::JavaScript, &["js", "mjs", "cjs", "jsx"], || tree_sitter_javascript::LANGUAGE.into(),             &[q::JAVASCRIPT, q::ECMASCRIPT], &ECMASCRIPT),
        LanguageSpec::new(Language::TypeScript, &["ts", "mts", "cts"],       || tree_sitter_typescript::LANGUAGE_TYPESCRIPT.into(),  &[q::TYPESCRIPT, q::ECMASCRIPT], &ECMASCRIPT),
        LanguageSpec::new(Language::Tsx,        &["tsx"],                    || tree_sitter_typescript::LANGUAGE_TSX.into(),         &[q::TYPESCRIPT, q::ECMASCRIPT], &ECMASCRIPT),
        LanguageSpec::new(Language::Java,       &["java"],                   || tree_sitter_java::LANGUAGE.into(),                   &[q::JAVA],                    &JAVA),
    ]
};

impl std::fmt::Debug for LanguageSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LanguageSpec")
            .field("language", &self.language)
            .field("extensions", &self.extensions)
            .finish_non_exhaustive()
    }
}

impl LanguageSpec {
    const fn new(
        language: Language,
        extensions: &'static [&'static str],
        grammar: fn() -> tree_sitter::Language,
        queries: &'static [&'static str],
        names: &'static Names,
    ) -> Self {
        Self {
            language,
            extensions,
            grammar,
            queries,
            names,
            compiled: OnceLock::new(),
        }
    }

    /// The row for a file name, by its extension (case-insensitive).
    pub fn for_path(path: &str) -> Option<&'static LanguageSpec> {
        let file_name = path.rsplit('/').next().unwrap_or(path);
        let (_, extension) = file_name.rsplit_once('.')?;
        let extension = extension.to_ascii_lowercase();
        SPECS
            .iter()
            .find(|spec| spec.extensions.contains(&extension.as_str()))
    }

    /// The row of a language.
    pub fn of(language: Language) -> &'static LanguageSpec {
        SPECS
            .iter()
            .find(|spec| spec.language == language)
            .unwrap_or(&SPECS[0])
    }

    /// The tree-sitter grammar.
    pub fn grammar(&self) -> tree_sitter::Language {
        (self.grammar)()
    }

    /// The compiled query, built once per process from the query files. A query that does not
    /// compile is a bug in a `.scm` file, caught by the unit tests.
    pub fn query(&self) -> Result<&CompiledQuery, String> {
        self.compiled
            .get_or_init(|| {
                let grammar = self.grammar();
                let source = self.queries.concat();
                let query = Query::new(&grammar, &source)
                    .map_err(|e| format!("query of {:?}: {e}", self.language))?;
                let roots = PatternRoots::of(&query, &source, &grammar);
                Ok(CompiledQuery { query, roots })
            })
            .as_ref()
            .map_err(Clone::clone)
    }
}
