//! The node kinds a query's patterns start at, read from the query's text. With them the
//! extractor walks the tree once itself and runs tree-sitter's query engine only at nodes where
//! a pattern can start (see [`super::extractor`]), instead of letting the engine visit every
//! node of the tree: the engine's work per visited node is several times a plain cursor step.
//!
//! Only the pattern forms our query files use are understood: a root `(kind ...)` or an
//! alternation of them `[(kind ...) (kind ...)]`, followed by captures and predicates. A query
//! with any other root (a wildcard, an anonymous node, a supertype, several top-level nodes,
//! a quantifier) has no [`PatternRoots`], and the extractor lets the engine walk the whole tree.

use tree_sitter::{Language, Query};

/// Which node kinds (by id) some pattern of a query starts at.
#[derive(Debug)]
pub struct PatternRoots {
    by_kind: Vec<bool>,
}

impl PatternRoots {
    /// The roots of `query`, compiled from `source` for `language`; `None` when a pattern's
    /// root is not of the understood forms.
    pub fn of(query: &Query, source: &str, language: &Language) -> Option<PatternRoots> {
        let mut by_kind = vec![false; language.node_kind_count()];
        for pattern in 0..query.pattern_count() {
            let text = source
                .get(query.start_byte_for_pattern(pattern)..query.end_byte_for_pattern(pattern))?;
            for kind in root_kinds(text)? {
                let id = language.id_for_node_kind(kind, true);
                if id == 0 || language.node_kind_is_supertype(id) {
                    return None;
                }
                *by_kind.get_mut(usize::from(id))? = true;
            }
        }
        Some(PatternRoots { by_kind })
    }

    /// Whether a pattern can start at a node of this kind.
    pub fn contains(&self, kind: u16) -> bool {
        self.by_kind
            .get(usize::from(kind))
            .copied()
            .unwrap_or(false)
    }
}

/// The kinds of one pattern's root: one, or one per alternative of a root alternation.
fn root_kinds(pattern: &str) -> Option<Vec<&str>> {
    let mut scanner = Scanner { rest: pattern };
    let mut kinds = Vec::new();
    scanner.skip_blank();
    if scanner.eat('[') {
        loop {
            scanner.skip_blank();
            if scanner.eat(']') {
                break;
            }
            if scanner.peek() == Some('@') {
                scanner.capture()?;
                continue;
            }
            kinds.push(scanner.node()?);
        }
    } else {
        kinds.push(scanner.node()?);
    }
    // What may follow the root: captures and predicates, nothing that matches another node.
    loop {
        scanner.skip_blank();
        match scanner.peek() {
            None => break,
            Some('@') => scanner.capture()?,
            Some('(') if scanner.rest[1..].trim_start().starts_with('#') => {
                scanner.skip_group()?;
            }
            Some(_) => return None,
        }
    }
    (!kinds.is_empty()).then_some(kinds)
}

/// A cursor over a pattern's text.
struct Scanner<'a> {
    rest: &'a str,
}

impl<'a> Scanner<'a> {
    fn peek(&self) -> Option<char> {
        self.rest.chars().next()
    }

    fn eat(&mut self, c: char) -> bool {
        match self.rest.strip_prefix(c) {
            Some(rest) => {
                self.rest = rest;
                true
            }
            None => false,
        }
    }

    /// Skips white space and `;` comments.
    fn skip_blank(&mut self) {
        loop {
            self.rest = self.rest.trim_start();
            if self.rest.starts_with(';') {
                self.rest = self.rest.find('\n').map_or("", |end| &self.rest[end..]);
            } else {
                return;
            }
        }
    }

    /// An identifier: a node kind, field or capture name.
    fn word(&mut self) -> &'a str {
        let end = self
            .rest
            .find(|c: char| !(c.is_alphanumeric() || matches!(c, '_' | '.' | '-')))
            .unwrap_or(self.rest.len());
        let (word, rest) = self.rest.split_at(end);
        self.rest = rest;
        word
    }

    /// `@name`.
    fn capture(&mut self) -> Option<()> {
        self.eat('@').then_some(())?;
        (!self.word().is_empty()).then_some(())
    }

    /// A named node `(kind ...)`: its kind. Wildcards, `ERROR`, `MISSING` and supertype paths
    /// (`kind/subtype`) are not roots we index.
    fn node(&mut self) -> Option<&'a str> {
        let group = self.rest;
        self.eat('(').then_some(())?;
        self.skip_blank();
        let kind = self.word();
        if kind.is_empty() || matches!(kind, "_" | "ERROR" | "MISSING") || self.peek() == Some('/')
        {
            return None;
        }
        self.rest = group;
        self.skip_group()?;
        // A quantifier makes the root optional or repeated: not a single root.
        if matches!(self.peek(), Some('?' | '*' | '+')) {
            return None;
        }
        Some(kind)
    }

    /// Skips a parenthesized group, with the strings and comments inside it.
    fn skip_group(&mut self) -> Option<()> {
        let mut depth = 0usize;
        let mut chars = self.rest.char_indices();
        while let Some((at, c)) = chars.next() {
            match c {
                '(' => depth += 1,
                ')' => {
                    depth = depth.checked_sub(1)?;
                    if depth == 0 {
                        self.rest = &self.rest[at + 1..];
                        return Some(());
                    }
                }
                '"' => loop {
                    match chars.next()?.1 {
                        '\\' => {
                            chars.next()?;
                        }
                        '"' => break,
                        _ => {}
                    }
                },
                ';' => {
                    for (_, c) in chars.by_ref() {
                        if c == '\n' {
                            break;
                        }
                    }
                }
                _ => {}
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::root_kinds;

    #[test]
    fn roots_of_the_understood_forms() {
        assert_eq!(root_kinds("(a) @x"), Some(vec!["a"]));
        assert_eq!(
            root_kinds(
                "(call\n  function: [(identifier) @name (attr \"(\" ; )\n)]) @reference.call"
            ),
            Some(vec!["call"])
        );
        assert_eq!(root_kinds("[(a) (b)] @x"), Some(vec!["a", "b"]));
        assert_eq!(
            root_kinds("(a (b) @_r (#eq? @_r \"x)\")) @c"),
            Some(vec!["a"])
        );
        assert_eq!(root_kinds("(a) @c (#not-eq? @c \"y\")"), Some(vec!["a"]));
    }

    #[test]
    fn other_roots_are_refused() {
        for pattern in [
            "(_) @x",
            "\"*\" @x",
            "(a) (b)",
            "(a)? @x",
            "(expression/identifier) @x",
            "(ERROR) @x",
            "[(a) \"b\"] @x",
            "(a",
            ". (a)",
        ] {
            assert_eq!(root_kinds(pattern), None, "{pattern}");
        }
    }
}
