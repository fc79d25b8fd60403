//! Whom credentials may go to: the host a URL points at, read the same way from every form
//! libgit2 hands the credential and certificate callbacks (`https://…`, `ssh://…`, scp-like
//! `user@host:path`), and the configured list of hosts ([`CredentialHosts`]) it is checked
//! against. A URL that cannot be read names no host, and no host gets credentials.

use url::Url;

/// A host name (lowercase, an IPv6 address without brackets) and the port, when given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Endpoint {
    host: String,
    port: Option<u16>,
}

impl Endpoint {
    /// The host of `url` (a URL with a scheme, or git's scp-like `[user@]host:path`).
    pub(crate) fn of_url(url: &str) -> Option<Self> {
        if url.contains("://") {
            let parsed = Url::parse(url).ok()?;
            let host = parsed.host_str().filter(|h| !h.is_empty())?;
            return Some(Self::new(host, parsed.port()));
        }
        let (left, _path) = match url.find("]:") {
            Some(i) => (&url[..=i], &url[i + 2..]),
            None => url.split_once(':')?,
        };
        let host = left.rsplit_once('@').map_or(left, |(_, host)| host);
        (!host.is_empty() && !host.contains('/')).then(|| Self::new(host, None))
    }

    fn new(host: &str, port: Option<u16>) -> Self {
        let host = host.trim_start_matches('[').trim_end_matches(']');
        Self {
            host: host.to_ascii_lowercase(),
            port,
        }
    }
}

/// The hosts credentials may be sent to: `host` (any port) or `host:port` entries, compared
/// without regard to case. Empty: credentials go nowhere.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CredentialHosts(Vec<Endpoint>);

impl CredentialHosts {
    /// Parses `entries`; an entry that is not a host name or `host:port` is an error naming it.
    pub fn parse<S: AsRef<str>>(entries: &[S]) -> Result<Self, String> {
        entries
            .iter()
            .map(|entry| parse_entry(entry.as_ref()))
            .collect::<Result<_, _>>()
            .map(Self)
    }

    /// Whether credentials may go to the host of `url` (as libgit2 gives it to the credential
    /// callback: after any redirect).
    pub(crate) fn allow(&self, url: &str) -> bool {
        Endpoint::of_url(url).is_some_and(|endpoint| {
            self.0.iter().any(|listed| {
                listed.host == endpoint.host && listed.port.is_none_or(|p| Some(p) == endpoint.port)
            })
        })
    }
}

fn parse_entry(entry: &str) -> Result<Endpoint, String> {
    let bad = || {
        format!("credential host {entry:?} is not `host` or `host:port` (no scheme, user or path)")
    };
    let (host, port) = match entry.strip_prefix('[') {
        Some(rest) => match rest.split_once(']') {
            Some((address, "")) => (address, None),
            Some((address, port)) => (address, Some(port.strip_prefix(':').ok_or_else(bad)?)),
            None => return Err(bad()),
        },
        None => match entry.split_once(':') {
            Some((host, port)) if !port.contains(':') => (host, Some(port)),
            Some(_) => (entry, None), // a bare IPv6 address
            None => (entry, None),
        },
    };
    let port = port
        .map(|p| p.parse::<u16>().map_err(|_| bad()))
        .transpose()?;
    let valid = !host.is_empty()
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_' | ':'));
    if !valid {
        return Err(bad());
    }
    Ok(Endpoint::new(host, port))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hosts(entries: &[&str]) -> CredentialHosts {
        CredentialHosts::parse(entries).expect("valid entries")
    }

    #[test]
    fn hosts_are_read_from_every_url_form() {
        let of = |url| Endpoint::of_url(url).map(|e| (e.host, e.port));
        assert_eq!(
            of("https://GitHub.com/o/r"),
            Some(("github.com".into(), None))
        );
        assert_eq!(
            of("https://tok@git.example:8443/o/r"),
            Some(("git.example".into(), Some(8443)))
        );
        assert_eq!(of("ssh://git@h:2222/x"), Some(("h".into(), Some(2222))));
        assert_eq!(
            of("git@Host.example:o/r.git"),
            Some(("host.example".into(), None))
        );
        assert_eq!(of("git@[::1]:o/r"), Some(("::1".into(), None)));
        assert_eq!(of("https://[::1]:99/o"), Some(("::1".into(), Some(99))));
        assert_eq!(of("/local/path"), None);
        assert_eq!(of("not a url"), None);
    }

    #[test]
    fn only_listed_hosts_and_ports_get_credentials() {
        let list = hosts(&["github.com", "Git.Example:8443", "[::1]"]);
        assert!(list.allow("https://github.com/o/r"));
        assert!(list.allow("https://GITHUB.com:443/o/r"));
        assert!(list.allow("git@github.com:o/r"));
        assert!(list.allow("https://git.example:8443/o/r"));
        assert!(!list.allow("https://git.example/o/r"));
        assert!(!list.allow("https://git.example:9443/o/r"));
        assert!(list.allow("https://[::1]:7/o"));
        assert!(!list.allow("https://github.com.evil.example/o/r"));
        assert!(!list.allow("https://evil.example/github.com"));
        assert!(!list.allow("garbage"));
        assert!(!CredentialHosts::default().allow("https://github.com/o/r"));
    }

    #[test]
    fn entries_that_are_not_hosts_are_refused() {
        for entry in [
            "",
            "https://github.com",
            "user@host",
            "host/path",
            "host:x",
            "[::1",
        ] {
            let err = CredentialHosts::parse(&[entry]).expect_err(entry);
            assert!(err.contains("credential host"), "{err}");
        }
        assert!(CredentialHosts::parse(&["::1", "h:22", "[::1]:22"]).is_ok());
    }
}
