//! Config problems that point at the place to fix: file, line and column.

use std::{fmt, path::PathBuf};

/// Where a problem is: a place in the file, an environment override, or Temporal's profile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// 1-based line and column in the config file.
    File {
        /// The config file.
        path: PathBuf,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
    },
    /// The value came from the environment (no line to point at).
    Environment {
        /// The config file the override applies to.
        path: PathBuf,
    },
    /// The value came from Temporal's client config profile.
    Profile {
        /// The config file the profile applies under.
        path: PathBuf,
        /// Which profile of which file.
        profile: String,
    },
}

/// One problem in a config.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// Where to look.
    pub location: Location,
    /// Dotted key path, e.g. `workers[1].max_concurrent_activities`; empty for the whole file.
    pub key: String,
    /// What is wrong and what to write instead.
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.location {
            Location::File { path, line, column } => {
                write!(f, "{}:{line}:{column}: ", path.display())?
            }
            Location::Environment { path } => {
                write!(f, "{} (environment override): ", path.display())?
            }
            Location::Profile { path, profile } => {
                write!(f, "{} (Temporal {profile}): ", path.display())?
            }
        }
        if !self.key.is_empty() {
            write!(f, "{}: ", self.key)?;
        }
        f.write_str(&self.message)
    }
}

/// Every problem found in one config, in file order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigErrors(pub Vec<ConfigError>);

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.0.len();
        writeln!(
            f,
            "{n} problem{} in the config:",
            if n == 1 { "" } else { "s" }
        )?;
        for e in &self.0 {
            writeln!(f, "  {e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigErrors {}
