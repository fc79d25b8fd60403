//! The language table: which file extensions map to which tree-sitter grammar and query file.
//! Adding a language means adding `queries/<language>.scm` and one row in [`SPECS`] (plus a
//! variant of [`Language`]); the extractor and the resolver need nothing else.

use std::sync::OnceLock;

use tree_sitter::Query;

pub use super::model::Language;

/// How one language is parsed and how its names behave.
pub struct LanguageSpec {
    pub language: Language,
    /// File extensions, without the dot, lower case.
    pub extensions: &'static [&'static str],
    grammar: fn() -> tree_sitter::Language,
    /// The query in the tags vocabulary described in [`super::extractor`].
    query_source: &'static str,
    /// Receiver words that mean "the caller's own instance or type".
    pub self_words: &'static [&'static str],
    /// A bare call may name a method of an enclosing class (Java's implicit `this`).
    pub implicit_this: bool,
    /// Top-level names of one directory are visible to each other without imports (Go and Java
    /// packages).
    pub directory_is_package: bool,
    /// Separator of module paths in imports and qualified receivers.
    pub path_separator: &'static str,
    compiled: OnceLock<Result<Query, String>>,
}

/// Every supported language.
pub static SPECS: [LanguageSpec; 7] = [
    LanguageSpec {
        language: Language::Python,
        extensions: &["py", "pyi"],
        grammar: || tree_sitter_python::LANGUAGE.into(),
        query_source: include_str!("queries/python.scm"),
        self_words: &["self", "cls"],
        implicit_this: false,
        directory_is_package: false,
        path_separator: ".",
        compiled: OnceLock::new(),
    },
    LanguageSpec {
        language: Language::Rust,
        extensions: &["rs"],
        grammar: || tree_sitter_rust::LANGUAGE.into(),
        query_source: include_str!("queries/rust.scm"),
        self_words: &["self", "Self"],
        implicit_this: false,
        directory_is_package: false,
        path_separator: "::",
        compiled: OnceLock::new(),
    },
    LanguageSpec {
        language: Language::Go,
        extensions: &["go"],
        grammar: || tree_sitter_go::LANGUAGE.into(),
        query_source: include_str!("queries/go.scm"),
        self_words: &[],
        implicit_this: false,
        directory_is_package: true,
        path_separator: "/",
        compiled: OnceLock::new(),
    },
    LanguageSpec {
        language: Language::JavaScript,
        extensions: &["js", "mjs", "cjs", "jsx"],
        grammar: || tree_sitter_javascript::LANGUAGE.into(),
        query_source: concat!(
            include_str!("queries/javascript.scm"),
            include_str!("queries/ecmascript.scm")
        ),
        self_words: &["this"],
        implicit_this: false,
        directory_is_package: false,
        path_separator: "/",
        compiled: OnceLock::new(),
    },
    LanguageSpec {
        language: Language::TypeScript,
        extensions: &["ts", "mts", "cts"],
        grammar: || tree_sitter_typescript::LANGUAGE_TYPESCRIPT.into(),
        query_source: concat!(
            include_str!("queries/typescript.scm"),
            include_str!("queries/ecmascript.scm")
        ),
        self_words: &["this"],
        implicit_this: false,
        directory_is_package: false,
        path_separator: "/",
        compiled: OnceLock::new(),
    },
    LanguageSpec {
        language: Language::Tsx,
        extensions: &["tsx"],
        grammar: || tree_sitter_typescript::LANGUAGE_TSX.into(),
        query_source: concat!(
            include_str!("queries/typescript.scm"),
            include_str!("queries/ecmascript.scm")
        ),
        self_words: &["this"],
        implicit_this: false,
        directory_is_package: false,
        path_separator: "/",
        compiled: OnceLock::new(),
    },
    LanguageSpec {
        language: Language::Java,
        extensions: &["java"],
        grammar: || tree_sitter_java::LANGUAGE.into(),
        query_source: include_str!("queries/java.scm"),
        self_words: &["this"],
        implicit_this: true,
        directory_is_package: true,
        path_separator: ".",
        compiled: OnceLock::new(),
    },
];

impl std::fmt::Debug for LanguageSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LanguageSpec")
            .field("language", &self.language)
            .field("extensions", &self.extensions)
            .finish_non_exhaustive()
    }
}

impl LanguageSpec {
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

    /// The compiled query, built once per process. A query that does not compile is a bug in
    /// its `.scm` file, caught by the unit tests.
    pub fn query(&self) -> Result<&Query, String> {
        self.compiled
            .get_or_init(|| {
                Query::new(&self.grammar(), self.query_source)
                    .map_err(|e| format!("query of {:?}: {e}", self.language))
            })
            .as_ref()
            .map_err(Clone::clone)
    }
}
