//! A key path into the config (`workers[1].name`), and which part of the keyed item a problem
//! points at: how every config problem names its place before it is turned into a line.

/// One step of a key path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Segment {
    /// A table key.
    Key(String),
    /// A position in a list.
    Index(usize),
}

/// A key path such as `workers[1].name`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeyPath(pub Vec<Segment>);

impl KeyPath {
    /// This path followed by key `k`.
    pub fn key(mut self, k: &str) -> Self {
        self.0.push(Segment::Key(k.to_owned()));
        self
    }
    /// This path followed by every step of `rest`.
    pub fn join(&self, rest: &KeyPath) -> Self {
        KeyPath(self.0.iter().chain(&rest.0).cloned().collect())
    }
    /// This path followed by list position `i`.
    pub fn index(mut self, i: usize) -> Self {
        self.0.push(Segment::Index(i));
        self
    }
}

impl std::fmt::Display for KeyPath {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, s) in self.0.iter().enumerate() {
            match s {
                Segment::Key(k) if i == 0 => f.write_str(k)?,
                Segment::Key(k) => write!(f, ".{k}")?,
                Segment::Index(n) => write!(f, "[{n}]")?,
            }
        }
        Ok(())
    }
}

/// What part of a keyed item to point at.
#[derive(Clone, Copy)]
pub enum Target {
    /// The key itself (unknown keys).
    Key,
    /// The value (wrong types, bad values).
    Value,
}

/// Problems found while loading: where, what part of it, and what is wrong.
pub type Problems = Vec<(KeyPath, Target, String)>;
