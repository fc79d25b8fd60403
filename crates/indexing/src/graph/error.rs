//! Why a graph store call failed, as a typed error a Temporal activity can turn into a failure:
//! [`GraphError::is_retryable`] says whether a retry can help and [`GraphError::kind`] gives a
//! stable name. Messages name the server and user, never the password.

/// A failed graph store call.
#[derive(Debug, thiserror::Error)]
pub enum GraphError {
    /// The Neo4j server does not answer (connection refused, reset, DNS, timeout). Retryable:
    /// the workflow's retry policy backs off until it is back.
    #[error("Neo4j at {uri} is unreachable: {detail}")]
    Unreachable {
        /// The Bolt URI tried.
        uri: String,
        /// What failed.
        detail: String,
    },
    /// The server refused the credentials, or the password is missing. Not retryable.
    #[error(
        "Neo4j at {uri} refused user `{user}` (password from environment variable {password_env}): {detail}"
    )]
    Auth {
        /// The Bolt URI.
        uri: String,
        /// The user.
        user: String,
        /// Name of the environment variable the password was read from.
        password_env: String,
        /// The server's message, or which variable is unset.
        detail: String,
    },
    /// A constraint or index conflicts with what this store needs, or existing data violates
    /// a uniqueness constraint. Not retryable: an operator has to fix the schema.
    #[error("graph schema conflict: {detail}")]
    Schema {
        /// The server's code and message.
        detail: String,
    },
    /// The settings cannot work (a malformed URI, an unknown scheme). Not retryable.
    #[error("invalid graph settings: {detail}")]
    Config {
        /// What is wrong.
        detail: String,
    },
    /// A statement failed. Retryable when the server says the error is transient (a deadlock,
    /// a lock timeout, memory pressure).
    #[error("graph query failed: {detail}")]
    Query {
        /// The server's code and message.
        detail: String,
        /// Whether the server classified the error as transient.
        retryable: bool,
    },
    /// The embedded SQLite store failed. Retryable when the database was busy or locked.
    #[error("embedded graph store {path}: {source}")]
    Embedded {
        /// The SQLite file.
        path: String,
        /// SQLite's error.
        source: rusqlite::Error,
    },
    /// Anything else: a stored value this build cannot read, a blocking task that panicked.
    #[error("graph store: {0}")]
    Other(String),
}

impl GraphError {
    /// Whether retrying the same call later can succeed.
    pub fn is_retryable(&self) -> bool {
        match self {
            GraphError::Unreachable { .. } => true,
            GraphError::Query { retryable, .. } => *retryable,
            GraphError::Embedded { source, .. } => matches!(
                source.sqlite_error_code(),
                Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
            ),
            GraphError::Auth { .. }
            | GraphError::Schema { .. }
            | GraphError::Config { .. }
            | GraphError::Other(_) => false,
        }
    }

    /// A stable name of the error's kind, for failure types and logs.
    pub fn kind(&self) -> &'static str {
        match self {
            GraphError::Unreachable { .. } => "GraphUnreachable",
            GraphError::Auth { .. } => "GraphAuthFailed",
            GraphError::Schema { .. } => "GraphSchemaConflict",
            GraphError::Config { .. } => "GraphConfig",
            GraphError::Query { .. } => "GraphQuery",
            GraphError::Embedded { .. } => "GraphEmbedded",
            GraphError::Other(_) => "GraphOther",
        }
    }
}

/// Where a Neo4j error happened, to name it in messages.
pub(crate) struct Neo4jTarget<'a> {
    pub uri: &'a str,
    pub user: &'a str,
    pub password_env: &'a str,
}

impl Neo4jTarget<'_> {
    /// Maps a `neo4rs` error: I/O and connection failures are unreachable, `Security` codes
    /// and refused logins are authentication failures, `Schema` codes are conflicts, transient
    /// codes are retryable query errors.
    pub(crate) fn error(&self, err: neo4rs::Error) -> GraphError {
        match err {
            neo4rs::Error::IOError { detail } => self.unreachable(detail.to_string()),
            neo4rs::Error::ConnectionError => self.unreachable("connection error".to_owned()),
            neo4rs::Error::AuthenticationError(detail) => self.auth(detail),
            neo4rs::Error::UrlParseError(e) => GraphError::Config {
                detail: format!("URI `{}`: {e}", self.uri),
            },
            neo4rs::Error::UnsupportedScheme(scheme) => GraphError::Config {
                detail: format!("URI `{}`: unsupported scheme `{scheme}`", self.uri),
            },
            neo4rs::Error::InvalidDnsName(name) => GraphError::Config {
                detail: format!("URI `{}`: invalid DNS name `{name}`", self.uri),
            },
            neo4rs::Error::Neo4j(e) => self.server_error(e.code(), e.message(), e.kind()),
            neo4rs::Error::UnexpectedMessage(detail) => self.unexpected(detail),
            other => GraphError::Other(other.to_string()),
        }
    }

    /// `neo4rs` 0.8 reports what goes wrong while a result streams (`PULL`) as an unexpected
    /// message holding what the connection gave: `Err(…)` when the connection failed (the
    /// server went away mid-result), a `Failure` with the server's code otherwise.
    fn unexpected(&self, detail: String) -> GraphError {
        if detail.contains(": Err(") {
            self.unreachable(detail)
        } else if detail.contains("Neo.TransientError.") {
            GraphError::Query {
                detail,
                retryable: true,
            }
        } else {
            GraphError::Other(format!("unexpected message: {detail}"))
        }
    }

    fn server_error(&self, code: &str, message: &str, kind: neo4rs::Neo4jErrorKind) -> GraphError {
        let detail = format!("{code}: {message}");
        if code.starts_with("Neo.ClientError.Security.") {
            self.auth(detail)
        } else if code.starts_with("Neo.ClientError.Schema.") {
            GraphError::Schema { detail }
        } else {
            GraphError::Query {
                detail,
                retryable: matches!(kind, neo4rs::Neo4jErrorKind::Transient),
            }
        }
    }

    fn unreachable(&self, detail: String) -> GraphError {
        GraphError::Unreachable {
            uri: self.uri.to_owned(),
            detail,
        }
    }

    pub(crate) fn auth(&self, detail: String) -> GraphError {
        GraphError::Auth {
            uri: self.uri.to_owned(),
            user: self.user.to_owned(),
            password_env: self.password_env.to_owned(),
            detail,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target() -> Neo4jTarget<'static> {
        Neo4jTarget {
            uri: "bolt://127.0.0.1:1",
            user: "neo4j",
            password_env: "NEO4J_PASSWORD",
        }
    }

    #[test]
    fn connection_failures_are_retryable() {
        let refused = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
        let err = target().error(neo4rs::Error::from(refused));
        assert_eq!(err.kind(), "GraphUnreachable");
        assert!(err.is_retryable());
        assert!(err.to_string().contains("bolt://127.0.0.1:1"), "{err}");
    }

    #[test]
    fn a_connection_lost_while_a_result_streams_is_retryable() {
        let lost = "unexpected response for PULL: Err(IOError { detail: Kind(UnexpectedEof) })";
        let err = target().error(neo4rs::Error::UnexpectedMessage(lost.to_owned()));
        assert_eq!(err.kind(), "GraphUnreachable");
        assert!(err.is_retryable());
        let transient = r#"unexpected response for PULL: Ok(Failure(Failure { metadata: {"code": "Neo.TransientError.Transaction.DeadlockDetected"} }))"#;
        let err = target().error(neo4rs::Error::UnexpectedMessage(transient.to_owned()));
        assert!(err.is_retryable(), "{err}");
        let other = r#"unexpected response for PULL: Ok(Failure(Failure { metadata: {"code": "Neo.ClientError.Statement.TypeError"} }))"#;
        let err = target().error(neo4rs::Error::UnexpectedMessage(other.to_owned()));
        assert!(!err.is_retryable(), "{err}");
    }

    #[test]
    fn refused_logins_name_the_variable_and_are_final() {
        let err = target().error(neo4rs::Error::AuthenticationError("bad".into()));
        assert_eq!(err.kind(), "GraphAuthFailed");
        assert!(!err.is_retryable());
        assert!(err.to_string().contains("NEO4J_PASSWORD"), "{err}");
    }
}
