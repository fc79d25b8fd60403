//! Where a clone comes from: parses and vets the URL or path a caller gives, so that only
//! https and ssh sources — and plain http, local paths and `file://` URLs when the limits
//! allow them — ever reach libgit2, and so that no message shows the userinfo of a URL.

use std::{fmt, path::PathBuf};

use url::Url;

use super::{CloneLimits, credentials::TOKEN_VARS, error::CloneError, redact::redact_userinfo};

/// How the repository is reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// `https://host/owner/repo(.git)`.
    Https,
    /// `http://…`, only with [`CloneLimits::allow_http`]; the token is never sent over it.
    Http,
    /// `ssh://[user@]host[:port]/path` or scp-like `[user@]host:path`.
    Ssh,
    /// An absolute or `./`-relative path, or a `file://` URL, only with
    /// [`CloneLimits::allow_local`]. libgit2's local transport cannot fetch shallowly.
    Local,
}

/// A vetted clone source. Its `Display` is redacted and safe to log.
#[derive(Clone, PartialEq, Eq)]
pub struct Source {
    transport: Transport,
    /// What libgit2 fetches from.
    git_url: String,
    /// The same with any userinfo replaced by `***`: the only form that logs and errors show.
    shown: String,
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.shown)
    }
}

impl fmt::Debug for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Source")
            .field("transport", &self.transport)
            .field("url", &self.shown)
            .finish()
    }
}

impl Source {
    /// Parses `input` as a clone source allowed by `limits`.
    ///
    /// Accepted: `https://` URLs, `ssh://` URLs and scp-like `[user@]host:path`; with
    /// `allow_http`, `http://` URLs; with `allow_local`, `file://` URLs and paths that are
    /// absolute or start with `./` or `../`. A password in a URL is refused (credentials come
    /// only from the environment), and so are queries and fragments. Errors are
    /// [`CloneError::InvalidUrl`] (malformed) or [`CloneError::UnsupportedUrl`] (a kind this
    /// host does not clone from), both redacted and not retryable.
    pub fn parse(input: &str, limits: &CloneLimits) -> Result<Self, CloneError> {
        let shown = redact_userinfo(input);
        let invalid = |reason: &str| CloneError::InvalidUrl {
            url: shown.clone(),
            reason: reason.to_owned(),
        };
        if input.is_empty() {
            return Err(invalid("it is empty"));
        }
        if input.chars().any(char::is_control) {
            return Err(invalid("it contains control characters"));
        }
        if input.starts_with('/') || input.starts_with("./") || input.starts_with("../") {
            return local_path(input, limits, shown);
        }
        if input.chars().any(char::is_whitespace) {
            return Err(invalid("it contains whitespace"));
        }
        if let Some((scheme, rest)) = input.split_once("://") {
            if !is_scheme(scheme) {
                return Err(invalid("the scheme is malformed"));
            }
            // The URL standard reads `https:///host/path` as `https://host/path`; git does not.
            if rest.starts_with('/') && !scheme.eq_ignore_ascii_case("file") {
                return Err(invalid("it names no host"));
            }
            return url(input, limits, shown);
        }
        if is_scp_like(input) {
            return Ok(Self {
                transport: Transport::Ssh,
                git_url: input.to_owned(),
                shown,
            });
        }
        Err(invalid(
            "expected https://host/owner/repo, ssh://user@host/path or user@host:path \
             (local paths must be absolute or start with ./)",
        ))
    }

    /// How the repository is reached.
    pub fn transport(&self) -> Transport {
        self.transport
    }

    /// The URL or path handed to libgit2 (may hold a user name, never a password).
    pub(crate) fn git_url(&self) -> &str {
        &self.git_url
    }
}

fn local_path(input: &str, limits: &CloneLimits, shown: String) -> Result<Source, CloneError> {
    if !limits.allow_local {
        return Err(CloneError::UnsupportedUrl {
            url: shown,
            reason: "local paths are refused (allow_local is off)".into(),
        });
    }
    let path = std::path::absolute(input).map_err(|e| CloneError::InvalidUrl {
        url: shown.clone(),
        reason: e.to_string(),
    })?;
    local_source(path, shown)
}

fn url(input: &str, limits: &CloneLimits, shown: String) -> Result<Source, CloneError> {
    let invalid = |reason: String| CloneError::InvalidUrl {
        url: shown.clone(),
        reason,
    };
    let unsupported = |reason: &str| CloneError::UnsupportedUrl {
        url: shown.clone(),
        reason: reason.to_owned(),
    };
    let parsed = Url::parse(input).map_err(|e| invalid(e.to_string()))?;
    let transport = match parsed.scheme() {
        "https" => Transport::Https,
        "ssh" => Transport::Ssh,
        "http" if limits.allow_http => Transport::Http,
        "http" => {
            return Err(unsupported(
                "plain http has no TLS and is refused (allow_http is off); use https",
            ));
        }
        "file" if limits.allow_local => Transport::Local,
        "file" => return Err(unsupported("file:// URLs are refused (allow_local is off)")),
        other => {
            return Err(unsupported(&format!(
                "the scheme `{other}` is not supported; use https or ssh"
            )));
        }
    };
    if parsed.password().is_some() {
        return Err(invalid(format!(
            "credentials in the URL are refused; put the token in {}",
            TOKEN_VARS[0]
        )));
    }
    if parsed.query().is_some() || parsed.fragment().is_some() {
        return Err(invalid("a repository URL has no query or fragment".into()));
    }
    if transport == Transport::Local {
        if !matches!(parsed.host_str(), None | Some("" | "localhost")) {
            return Err(invalid("a file:// URL names no host".into()));
        }
        let path: PathBuf = parsed
            .to_file_path()
            .map_err(|()| invalid("not a file path".into()))?;
        return local_source(path, shown);
    }
    if parsed.host_str().is_none_or(str::is_empty) {
        return Err(invalid("it names no host".into()));
    }
    if parsed.path().trim_matches('/').is_empty() {
        return Err(invalid("it names no repository path".into()));
    }
    Ok(Source {
        transport,
        git_url: parsed.into(),
        shown,
    })
}

fn local_source(path: PathBuf, shown: String) -> Result<Source, CloneError> {
    let git_url = path
        .into_os_string()
        .into_string()
        .map_err(|_| CloneError::InvalidUrl {
            url: shown.clone(),
            reason: "the path is not valid UTF-8".into(),
        })?;
    Ok(Source {
        transport: Transport::Local,
        git_url,
        shown,
    })
}

/// RFC 3986: a letter, then letters, digits, `+`, `-` or `.`.
fn is_scheme(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
}

/// git's scp-like syntax `[user@]host:path` (or `[user@][address]:path`): the host ends at
/// the first colon, and no slash comes before it.
fn is_scp_like(s: &str) -> bool {
    let split = match s.find("]:") {
        Some(i) if s[..i].contains('[') => Some((&s[..=i], &s[i + 2..])),
        _ => s.split_once(':'),
    };
    let Some((left, path)) = split else {
        return false;
    };
    if left.contains('/') || path.trim_matches('/').is_empty() {
        return false;
    }
    let host = match left.rsplit_once('@') {
        Some((user, host)) if !user.is_empty() => host,
        Some(_) => return false,
        None => left,
    };
    match host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        Some(address) => {
            !address.is_empty()
                && address
                    .chars()
                    .all(|c| c.is_ascii_hexdigit() || c == ':' || c == '.')
        }
        None => {
            !host.is_empty()
                && host
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_'))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn remote_only() -> CloneLimits {
        CloneLimits::default()
    }

    fn everything() -> CloneLimits {
        CloneLimits {
            allow_local: true,
            allow_http: true,
            ..CloneLimits::default()
        }
    }

    fn transport(input: &str, limits: &CloneLimits) -> Result<Transport, &'static str> {
        Source::parse(input, limits)
            .map(|s| s.transport())
            .map_err(|e| e.kind())
    }

    #[test]
    fn https_and_ssh_forms_are_accepted() {
        let l = remote_only();
        let https = [
            "https://github.com/owner/repo",
            "https://github.com/owner/repo.git",
            "https://x-access-token@git.example.com:8443/group/sub/repo.git",
        ];
        let ssh = [
            "ssh://git@github.com/owner/repo.git",
            "ssh://git@host:2222/owner/repo",
            "git@github.com:owner/repo.git",
            "host.example:repo",
            "git@[::1]:owner/repo.git",
        ];
        let expected = https.map(|url| (url, Transport::Https));
        for (url, transport_of) in expected
            .into_iter()
            .chain(ssh.map(|url| (url, Transport::Ssh)))
        {
            assert_eq!(transport(url, &l), Ok(transport_of), "{url}");
        }
    }

    #[test]
    fn other_schemes_and_local_sources_are_unsupported_by_default() {
        let l = remote_only();
        let urls =
            "ftp://x/y git://github.com/o/r http://github.com/o/r file:///tmp/repo /tmp/repo";
        for url in urls.split(' ').chain(["./repo", "../repo"]) {
            assert_eq!(rejected(url, &l), "UnsupportedUrl");
        }
    }

    #[test]
    fn limits_open_http_and_local_sources() {
        let l = everything();
        assert_eq!(transport("http://h/o/r", &l), Ok(Transport::Http));
        assert_eq!(transport("file:///tmp/repo", &l), Ok(Transport::Local));
        assert_eq!(
            transport("file://localhost/tmp/r", &l),
            Ok(Transport::Local)
        );
        assert_eq!(transport("/tmp/my repo", &l), Ok(Transport::Local));
        let relative = Source::parse("./repo", &l).expect("relative path");
        assert!(std::path::Path::new(relative.git_url()).is_absolute());
    }

    #[test]
    fn garbage_is_invalid() {
        let l = everything();
        for url in [
            "",
            "garbage",
            "not a url",
            "https://",
            "https:///owner/repo",
            "https://host",
            "https://host/",
            "https://host/o/r?x=1",
            "https://host/o/r#frag",
            "1http://host/o/r",
            "ht tp://host/o/r",
            "@host:path",
            "host:",
            "file://otherhost/tmp/r",
            "https://host/o/r\u{7}",
        ] {
            assert_eq!(rejected(url, &l), "InvalidUrl");
        }
    }

    /// The variant of the non-retryable error `url` is rejected with.
    fn rejected(url: &str, l: &CloneLimits) -> &'static str {
        let err = Source::parse(url, l).expect_err(url);
        assert!(!err.is_retryable(), "{url:?}: {err}");
        assert_eq!(err.kind(), "BadUrl", "{url:?}: {err}");
        match err {
            CloneError::UnsupportedUrl { .. } => "UnsupportedUrl",
            CloneError::InvalidUrl { .. } => "InvalidUrl",
            other => panic!("{url:?}: {other}"),
        }
    }

    #[test]
    fn passwords_are_refused_and_never_shown() {
        let err = Source::parse("https://user:s3cr3t@host/o/r", &remote_only())
            .expect_err("password in URL");
        assert!(matches!(err, CloneError::InvalidUrl { .. }));
        assert!(!err.to_string().contains("s3cr3t"));
        assert!(!format!("{err:?}").contains("s3cr3t"));
        // Even when the URL does not parse.
        let err = Source::parse("https://user:s3cr3t@host:99999/o/r", &remote_only())
            .expect_err("bad port");
        assert!(!format!("{err} {err:?}").contains("s3cr3t"));
    }

    #[test]
    fn display_hides_user_names_of_urls() {
        let s = Source::parse("https://tok3n@host/o/r", &remote_only()).expect("valid");
        assert_eq!(s.to_string(), "https://***@host/o/r");
        assert!(!format!("{s:?}").contains("tok3n"));
        assert_eq!(s.git_url(), "https://tok3n@host/o/r");
    }
}
