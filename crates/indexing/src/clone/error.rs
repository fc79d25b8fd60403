//! Why a clone failed, as a typed error a Temporal activity can map to a failure type: each
//! variant says whether a retry can help ([`CloneError::is_retryable`]) and has a stable name
//! ([`CloneError::kind`]). Every URL and libgit2 message in an error has been redacted first:
//! no userinfo, no token, no passphrase.

use std::path::PathBuf;

use git2::{ErrorClass, ErrorCode};

use super::credentials::Credentials;

/// A failed clone. Built only by this module, from redacted text.
#[derive(Debug, thiserror::Error)]
pub enum CloneError {
    /// The URL cannot be parsed, or carries something refused on principle (a password).
    #[error("invalid repository URL `{url}`: {reason}")]
    InvalidUrl {
        /// The URL as given, userinfo redacted.
        url: String,
        /// What is wrong and what to write instead.
        reason: String,
    },
    /// A well-formed URL of a kind this host does not clone from (`ftp://`, `git://`, plain
    /// `http://` or local paths unless [`super::CloneLimits`] allows them).
    #[error("unsupported repository URL `{url}`: {reason}")]
    UnsupportedUrl {
        /// The URL as given, userinfo redacted.
        url: String,
        /// Which kinds are accepted.
        reason: String,
    },
    /// The mirror's folder holds something else (it is never removed).
    #[error("mirror {} is neither empty nor a mirror made by this host", path.display())]
    DestinationNotEmpty {
        /// The destination given.
        path: PathBuf,
    },
    /// Nothing answers as a repository at the URL (missing local path, HTTP 404).
    #[error("no repository at {url}: {detail}")]
    NotFound {
        /// Redacted URL.
        url: String,
        /// libgit2's message, redacted.
        detail: String,
    },
    /// The requested branch, tag or commit is not in the repository.
    #[error("unknown ref {reference:?} in {url}: {reason}")]
    UnknownRef {
        /// Redacted URL.
        url: String,
        /// The ref as requested.
        reference: String,
        /// Why it did not resolve.
        reason: String,
    },
    /// The repository has no commits at all.
    #[error("{url} is an empty repository (it has no commits)")]
    EmptyRepository {
        /// Redacted URL.
        url: String,
    },
    /// The server wants credentials that the environment does not hold, or refused them.
    #[error("authentication to {url} failed: {detail}")]
    Auth {
        /// Redacted URL.
        url: String,
        /// Which credentials were tried (never their values) or libgit2's message, redacted.
        detail: String,
    },
    /// The server's TLS certificate or ssh host key is not trusted (for ssh: not in
    /// `~/.ssh/known_hosts`).
    #[error("the TLS certificate or ssh host key of {url} is not trusted: {detail}")]
    Certificate {
        /// Redacted URL.
        url: String,
        /// libgit2's message, redacted.
        detail: String,
    },
    /// The repository is over one of [`super::CloneLimits`]: too many bytes over the wire, or
    /// a commit's tree too large, too many entries or too deep — found before a file is read.
    #[error(
        "{url} is too large: {} {found}, over the limit of {limit} (`[indexing] {}`)",
        .exceeded.what(),
        .exceeded.key()
    )]
    TooLarge {
        /// Redacted URL.
        url: String,
        /// Which limit.
        exceeded: Limit,
        /// The limit.
        limit: u64,
        /// What was found (at least): bytes, entries or a depth.
        found: u64,
    },
    /// A redirect pointed to another host: credentials and requests stay on the host asked for.
    #[error("{url} redirects to another host, which is refused: {detail}")]
    Redirect {
        /// Redacted URL.
        url: String,
        /// libgit2's message, redacted.
        detail: String,
    },
    /// The server sent less than [`super::CloneLimits::min_transfer_bytes_per_second`] over a
    /// window: a retry may find a faster path.
    #[error(
        "{url} sent {rate} bytes/s over {window_secs} s, under the floor of {floor} bytes/s \
         (`[indexing] min_transfer_bytes_per_second`)"
    )]
    TooSlow {
        /// Redacted URL.
        url: String,
        /// Bytes per second over the last window.
        rate: u64,
        /// The floor.
        floor: u64,
        /// The window, in seconds.
        window_secs: u64,
    },
    /// The progress callback returned `false`.
    #[error("clone of {url} aborted by the caller")]
    Aborted {
        /// Redacted URL.
        url: String,
    },
    /// The server could not be reached or the connection failed: worth a retry.
    #[error("network error while cloning {url}: {detail}")]
    Network {
        /// Redacted URL.
        url: String,
        /// libgit2's message, redacted.
        detail: String,
    },
    /// Reading or writing the destination failed.
    #[error("file system error at {}: {source}", path.display())]
    Io {
        /// The file or directory involved.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// Any other libgit2 failure.
    #[error("git error while cloning {url}: {detail}")]
    Git {
        /// Redacted URL.
        url: String,
        /// libgit2's message, redacted.
        detail: String,
    },
}

impl CloneError {
    /// A stable name for the failure, for a Temporal `ApplicationFailure` type: `BadUrl`,
    /// `DestinationNotEmpty`, `NotFound`, `UnknownRef`, `EmptyRepository`, `AuthFailed`,
    /// `Certificate`, `TooLarge`, `Redirect`, `TooSlow`, `Aborted`, `Network`, `Io` or `Git`.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::InvalidUrl { .. } | Self::UnsupportedUrl { .. } => "BadUrl",
            Self::DestinationNotEmpty { .. } => "DestinationNotEmpty",
            Self::NotFound { .. } => "NotFound",
            Self::UnknownRef { .. } => "UnknownRef",
            Self::EmptyRepository { .. } => "EmptyRepository",
            Self::Auth { .. } => "AuthFailed",
            Self::Certificate { .. } => "Certificate",
            Self::TooLarge { .. } => "TooLarge",
            Self::Redirect { .. } => "Redirect",
            Self::TooSlow { .. } => "TooSlow",
            Self::Aborted { .. } => "Aborted",
            Self::Network { .. } => "Network",
            Self::Io { .. } => "Io",
            Self::Git { .. } => "Git",
        }
    }

    /// Whether the same request can succeed later: true for network (a slow one too), file
    /// system and other libgit2 failures; false for everything the request or the repository
    /// itself decides (URL, ref, credentials, size, a redirect, an empty repository, a
    /// caller's abort).
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            Self::Network { .. } | Self::TooSlow { .. } | Self::Io { .. } | Self::Git { .. }
        )
    }
}

/// The limits of [`CloneError::TooLarge`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    /// Bytes received over the wire.
    ReceivedBytes,
    /// Bytes of the files of the commit's tree.
    TreeBytes,
    /// Entries (files, folders, links) of the commit's tree.
    TreeEntries,
    /// Folders from the top of the commit's tree down to its deepest entry.
    PathDepth,
}

impl Limit {
    /// What is counted, for a message.
    pub fn what(self) -> &'static str {
        match self {
            Self::ReceivedBytes => "bytes received",
            Self::TreeBytes => "bytes in the files of its tree",
            Self::TreeEntries => "entries in its tree",
            Self::PathDepth => "levels in its deepest path",
        }
    }

    /// The `[indexing]` key that sets the limit.
    pub fn key(self) -> &'static str {
        match self {
            Self::ReceivedBytes | Self::TreeBytes => "max_repo_bytes",
            Self::TreeEntries => "max_tree_entries",
            Self::PathDepth => "max_path_depth",
        }
    }
}

/// What the clone was doing when libgit2 failed: the same error class means different things
/// in different phases (an OS error is a socket while fetching, a file while writing).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Phase {
    /// Connecting and listing the remote's refs.
    Connect,
    /// Downloading objects.
    Fetch,
    /// Reading or writing the mirror: its creation, refs and objects.
    Write,
}

/// Maps a libgit2 error to a [`CloneError`], with every message redacted.
pub(crate) fn from_git(
    err: &git2::Error,
    phase: Phase,
    url: &str,
    path: &std::path::Path,
    credentials: &Credentials,
) -> CloneError {
    let url = url.to_owned();
    let detail = credentials.scrub(err.message());
    if phase == Phase::Write {
        return CloneError::Io {
            path: path.to_owned(),
            source: std::io::Error::other(detail),
        };
    }
    match (err.code(), err.class()) {
        (ErrorCode::Auth, _) => CloneError::Auth { url, detail },
        (ErrorCode::Certificate, _) => CloneError::Certificate { url, detail },
        (ErrorCode::NotFound, _) if phase == Phase::Connect => CloneError::NotFound { url, detail },
        (_, ErrorClass::Repository) if phase == Phase::Connect => {
            CloneError::NotFound { url, detail }
        }
        (_, ErrorClass::Net) if detail.starts_with("cannot redirect") => {
            CloneError::Redirect { url, detail }
        }
        (_, ErrorClass::Http) => from_http(url, detail),
        (_, ErrorClass::Ssh) => from_ssh(url, detail),
        (ErrorCode::Timeout | ErrorCode::Eof, _)
        | (_, ErrorClass::Net | ErrorClass::Os | ErrorClass::Ssl) => {
            CloneError::Network { url, detail }
        }
        _ => CloneError::Git { url, detail },
    }
}

/// libgit2 reports an unexpected HTTP status as "unexpected http status code: N".
fn from_http(url: String, detail: String) -> CloneError {
    let status = detail
        .rsplit(':')
        .next()
        .and_then(|s| s.trim().parse::<u16>().ok());
    match status {
        Some(401 | 403) => CloneError::Auth { url, detail },
        Some(404 | 410) => CloneError::NotFound { url, detail },
        _ => CloneError::Network { url, detail },
    }
}

/// libssh2 failures share one class; the message tells a key or host-key problem (which a
/// retry cannot fix) from a broken connection.
fn from_ssh(url: String, detail: String) -> CloneError {
    let lower = detail.to_ascii_lowercase();
    if lower.contains("known_hosts") || lower.contains("hostkey") || lower.contains("host key") {
        CloneError::Certificate { url, detail }
    } else if [
        "authenticat",
        "agent",
        "publickey",
        "private key",
        "passphrase",
    ]
    .iter()
    .any(|word| lower.contains(word))
    {
        CloneError::Auth { url, detail }
    } else {
        CloneError::Network { url, detail }
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    fn map(code: ErrorCode, class: ErrorClass, message: &str, phase: Phase) -> CloneError {
        let err = git2::Error::new(code, class, message);
        from_git(
            &err,
            phase,
            "https://example.invalid/r",
            Path::new("/tmp/dest"),
            &Credentials::default(),
        )
    }

    #[test]
    fn http_statuses_map_to_auth_not_found_or_network() {
        let http = |msg| map(ErrorCode::GenericError, ErrorClass::Http, msg, Phase::Fetch);
        assert_eq!(
            http("unexpected http status code: 403").kind(),
            "AuthFailed"
        );
        assert_eq!(http("unexpected http status code: 404").kind(), "NotFound");
        assert_eq!(http("unexpected http status code: 502").kind(), "Network");
        assert!(http("unexpected http status code: 503").is_retryable());
    }

    #[test]
    fn ssh_messages_tell_keys_from_connections() {
        let ssh = |msg| {
            map(
                ErrorCode::GenericError,
                ErrorClass::Ssh,
                msg,
                Phase::Connect,
            )
        };
        assert_eq!(ssh("error loading known_hosts: x").kind(), "Certificate");
        assert_eq!(ssh("failed connecting agent").kind(), "AuthFailed");
        assert_eq!(
            ssh("failed to start SSH session: timeout").kind(),
            "Network"
        );
    }

    #[test]
    fn phases_decide_what_an_os_error_means() {
        let os = |phase| map(ErrorCode::GenericError, ErrorClass::Os, "failed", phase);
        assert_eq!(os(Phase::Fetch).kind(), "Network");
        assert_eq!(os(Phase::Write).kind(), "Io");
    }

    #[test]
    fn a_refused_redirect_and_a_missing_repository_are_final() {
        let net = (ErrorCode::GenericError, ErrorClass::Net);
        let repository = (ErrorCode::NotFound, ErrorClass::Repository);
        let cases = [
            (net, "cannot redirect from a to b", "Redirect"),
            (repository, "could not find repository", "NotFound"),
        ];
        for ((code, class), message, kind) in cases {
            let err = map(code, class, message, Phase::Connect);
            assert_eq!(err.kind(), kind, "{message}");
            assert!(!err.is_retryable(), "{message}");
        }
    }

    #[test]
    fn only_transient_kinds_are_retryable() {
        let url = String::from("u");
        assert!(!CloneError::EmptyRepository { url: url.clone() }.is_retryable());
        assert!(!CloneError::Aborted { url: url.clone() }.is_retryable());
        assert!(
            !CloneError::TooLarge {
                url: url.clone(),
                exceeded: Limit::TreeEntries,
                limit: 1,
                found: 2
            }
            .is_retryable()
        );
        assert!(
            !CloneError::Redirect {
                url: url.clone(),
                detail: url.clone()
            }
            .is_retryable()
        );
        let slow = CloneError::TooSlow {
            url,
            rate: 1,
            floor: 2,
            window_secs: 3,
        };
        assert!(slow.is_retryable() && slow.to_string().contains("min_transfer_bytes_per_second"));
    }
}
