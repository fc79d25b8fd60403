//! Credentials for fetching, read only from the environment and handed to libgit2 through its
//! credential callback. Their values are never logged, never put in an error and never
//! returned: [`Credentials`] has a redacting `Debug`, and [`Credentials::scrub`] cleans every
//! message that leaves the module.
//!
//! A credential goes only to a host of [`CredentialHosts`] (`[indexing] credential_hosts`),
//! checked against the URL libgit2 asks about — after any redirect — so that a server that is
//! not listed never sees a token or an ssh key, whatever it answers.
//!
//! libgit2 calls the callback again each time the server rejects what it got, forever if the
//! callback keeps answering; a [`Negotiator`] offers each credential once and then gives up.

use std::{fmt, path::PathBuf};

use git2::{Cred, CredentialType};

use super::{host::CredentialHosts, redact::redact_userinfo};

/// The https token, used as the password. The first one set (non-empty) wins.
pub const TOKEN_VARS: [&str; 2] = ["WORKER_HOST_GIT_TOKEN", "GIT_TOKEN"];
/// Path of a private ssh key, tried before the ssh agent.
pub const SSH_KEY_VAR: &str = "WORKER_HOST_GIT_SSH_KEY";
/// Passphrase of that key, if it has one.
pub const SSH_PASSPHRASE_VAR: &str = "WORKER_HOST_GIT_SSH_PASSPHRASE";

/// User name sent with the token when the URL names none (GitHub's convention; GitLab and
/// Gitea accept any name with a token).
const TOKEN_USER: &str = "x-access-token";
/// User name for ssh when the URL names none.
const SSH_USER: &str = "git";
/// Calls of the credential callback per connection before giving up. Each credential is
/// offered once anyway; this bounds a server that keeps asking.
const MAX_CALLS: u32 = 4;

/// What the environment holds.
#[derive(Default)]
pub(crate) struct Credentials {
    token: Option<String>,
    ssh_key: Option<PathBuf>,
    ssh_passphrase: Option<String>,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("token", &self.token.as_ref().map(|_| "***"))
            .field("ssh_key", &self.ssh_key)
            .field(
                "ssh_passphrase",
                &self.ssh_passphrase.as_ref().map(|_| "***"),
            )
            .finish()
    }
}

impl Credentials {
    /// Reads [`TOKEN_VARS`], [`SSH_KEY_VAR`] and [`SSH_PASSPHRASE_VAR`].
    pub(crate) fn from_env() -> Self {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads the same variables through `get`; an empty value counts as unset.
    fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Self {
        let get = |name: &str| get(name).filter(|v| !v.is_empty());
        Self {
            token: TOKEN_VARS.iter().find_map(|name| get(name)),
            ssh_key: get(SSH_KEY_VAR).map(PathBuf::from),
            ssh_passphrase: get(SSH_PASSPHRASE_VAR),
        }
    }

    /// `text` without URL userinfo and without any secret value held here.
    pub(crate) fn scrub(&self, text: &str) -> String {
        let mut clean = redact_userinfo(text);
        for secret in [&self.token, &self.ssh_passphrase].into_iter().flatten() {
            clean = clean.replace(secret.as_str(), "***");
        }
        clean
    }
}

/// Answers libgit2's credential requests for one connection: the username, then the ssh key
/// file, then the ssh agent, or the token for https — each at most once.
pub(crate) struct Negotiator<'a> {
    credentials: &'a Credentials,
    /// The hosts that may receive a credential.
    hosts: &'a CredentialHosts,
    /// Whether the token may be sent (only over https, never over plain http).
    token_allowed: bool,
    calls: u32,
    offered_token: bool,
    offered_key: bool,
    offered_agent: bool,
    gave_up: Option<String>,
}

impl<'a> Negotiator<'a> {
    pub(crate) fn new(
        credentials: &'a Credentials,
        hosts: &'a CredentialHosts,
        token_allowed: bool,
    ) -> Self {
        Self {
            credentials,
            hosts,
            token_allowed,
            calls: 0,
            offered_token: false,
            offered_key: false,
            offered_agent: false,
            gave_up: None,
        }
    }

    /// Why the negotiation ended without credentials, if it did: the detail of an
    /// authentication error (names what was tried, never a value).
    pub(crate) fn gave_up(&self) -> Option<&str> {
        self.gave_up.as_deref()
    }

    /// The next credential to offer to `url` for a request allowing `allowed`.
    pub(crate) fn next(
        &mut self,
        url: &str,
        username_from_url: Option<&str>,
        allowed: CredentialType,
    ) -> Result<Cred, git2::Error> {
        self.calls += 1;
        if self.calls > MAX_CALLS {
            return self.give_up(format!(
                "the server asked for credentials {MAX_CALLS} times; giving up"
            ));
        }
        if allowed.contains(CredentialType::USERNAME) {
            return Cred::username(username_from_url.unwrap_or(SSH_USER));
        }
        if !self.hosts.allow(url) {
            return self.give_up(
                "the server asks for credentials, and its host is not in `[indexing] \
                 credential_hosts` (credentials go only to the hosts listed there)"
                    .into(),
            );
        }
        if allowed.contains(CredentialType::SSH_KEY) {
            let user = username_from_url.unwrap_or(SSH_USER);
            if let Some(key) = self.credentials.ssh_key.as_deref()
                && !self.offered_key
            {
                self.offered_key = true;
                tracing::debug!("offering the ssh key from {SSH_KEY_VAR}");
                let passphrase = self.credentials.ssh_passphrase.as_deref();
                return Cred::ssh_key(user, None, key, passphrase);
            }
            if !self.offered_agent {
                self.offered_agent = true;
                tracing::debug!("offering the ssh agent's keys");
                return Cred::ssh_key_from_agent(user);
            }
            let tried = if self.offered_key {
                format!("the key from {SSH_KEY_VAR} and the ssh agent")
            } else {
                format!("the ssh agent (set {SSH_KEY_VAR} to use a key file)")
            };
            return self.give_up(format!("the server refused {tried}"));
        }
        if allowed.contains(CredentialType::USER_PASS_PLAINTEXT) {
            if !self.token_allowed {
                return self.give_up(
                    "the server asks for a password, and a token is never sent over plain http"
                        .into(),
                );
            }
            let Some(token) = self.credentials.token.as_deref() else {
                return self.give_up(format!(
                    "the server asks for credentials; set {} to a token",
                    TOKEN_VARS[0]
                ));
            };
            if !self.offered_token {
                self.offered_token = true;
                tracing::debug!("offering the token from the environment");
                return Cred::userpass_plaintext(username_from_url.unwrap_or(TOKEN_USER), token);
            }
            return self.give_up("the server refused the token".into());
        }
        self.give_up("the server asks for a kind of credentials this host does not have".into())
    }

    fn give_up(&mut self, why: String) -> Result<Cred, git2::Error> {
        let err = git2::Error::new(git2::ErrorCode::Auth, git2::ErrorClass::Callback, &why);
        self.gave_up = Some(why);
        Err(err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const URL: &str = "https://git.example/o/r";

    fn listed() -> CredentialHosts {
        CredentialHosts::parse(&["git.example"]).expect("valid")
    }

    fn creds(vars: &[(&str, &str)]) -> Credentials {
        Credentials::from_lookup(|name| {
            vars.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| (*v).to_owned())
        })
    }

    #[test]
    fn token_comes_from_the_first_non_empty_variable() {
        let c = creds(&[("WORKER_HOST_GIT_TOKEN", ""), ("GIT_TOKEN", "t0k3n-value")]);
        assert_eq!(c.token.as_deref(), Some("t0k3n-value"));
        let c = creds(&[("WORKER_HOST_GIT_TOKEN", "first"), ("GIT_TOKEN", "second")]);
        assert_eq!(c.token.as_deref(), Some("first"));
    }

    #[test]
    fn debug_and_scrub_never_show_secrets() {
        let c = creds(&[
            ("WORKER_HOST_GIT_TOKEN", "t0k3n-value"),
            ("WORKER_HOST_GIT_SSH_PASSPHRASE", "pass-phrase"),
        ]);
        let debug = format!("{c:?}");
        assert!(!debug.contains("t0k3n-value") && !debug.contains("pass-phrase"));
        let text = c.scrub("got t0k3n-value from https://me:pw@host/x and pass-phrase");
        assert_eq!(text, "got *** from https://***@host/x and ***");
    }

    #[test]
    fn the_token_is_offered_once_then_the_negotiation_gives_up() {
        let hosts = listed();
        let c = creds(&[("WORKER_HOST_GIT_TOKEN", "t0k3n-value")]);
        let mut n = Negotiator::new(&c, &hosts, true);
        let cred = n.next(URL, None, CredentialType::USER_PASS_PLAINTEXT);
        assert!(cred.is_ok_and(|cred| cred.has_username()));
        assert!(n.gave_up().is_none());
        let again = n.next(URL, None, CredentialType::USER_PASS_PLAINTEXT);
        assert!(again.is_err_and(|e| e.code() == git2::ErrorCode::Auth));
        assert_eq!(n.gave_up(), Some("the server refused the token"));
    }

    #[test]
    fn no_token_or_plain_http_gives_up_at_once() {
        let hosts = listed();
        let none = Credentials::default();
        let mut n = Negotiator::new(&none, &hosts, true);
        assert!(
            n.next(URL, None, CredentialType::USER_PASS_PLAINTEXT)
                .is_err()
        );
        assert!(
            n.gave_up()
                .is_some_and(|why| why.contains("WORKER_HOST_GIT_TOKEN"))
        );

        let c = creds(&[("GIT_TOKEN", "t0k3n-value")]);
        let mut n = Negotiator::new(&c, &hosts, false);
        assert!(
            n.next(URL, None, CredentialType::USER_PASS_PLAINTEXT)
                .is_err()
        );
        assert!(n.gave_up().is_some_and(|why| why.contains("plain http")));
    }

    #[test]
    fn ssh_tries_key_file_then_agent_then_gives_up() {
        let hosts = listed();
        let c = creds(&[("WORKER_HOST_GIT_SSH_KEY", "/nonexistent/id_ed25519")]);
        let mut n = Negotiator::new(&c, &hosts, true);
        assert!(n.next(URL, None, CredentialType::USERNAME).is_ok());
        assert!(n.next(URL, Some("git"), CredentialType::SSH_KEY).is_ok());
        assert!(n.offered_key && !n.offered_agent);
        assert!(n.next(URL, Some("git"), CredentialType::SSH_KEY).is_ok());
        assert!(n.offered_agent);
        assert!(n.next(URL, Some("git"), CredentialType::SSH_KEY).is_err());
        assert!(n.gave_up().is_some_and(|why| why.contains("ssh agent")));
    }

    #[test]
    fn a_server_that_keeps_asking_is_cut_off() {
        let hosts = listed();
        let none = Credentials::default();
        let mut n = Negotiator::new(&none, &hosts, true);
        for _ in 0..MAX_CALLS {
            assert!(n.next(URL, None, CredentialType::USERNAME).is_ok());
        }
        assert!(n.next(URL, None, CredentialType::USERNAME).is_err());
        assert!(n.gave_up().is_some());
    }

    #[test]
    fn hosts_not_listed_get_no_token_and_no_key() {
        let c = creds(&[
            ("WORKER_HOST_GIT_TOKEN", "t0k3n-value"),
            ("WORKER_HOST_GIT_SSH_KEY", "/nonexistent/id_ed25519"),
        ]);
        for hosts in [CredentialHosts::default(), listed()] {
            let mut n = Negotiator::new(&c, &hosts, true);
            let token = n.next(
                "https://evil.example/o/r",
                None,
                CredentialType::USER_PASS_PLAINTEXT,
            );
            assert!(token.is_err_and(|e| e.code() == git2::ErrorCode::Auth));
            assert!(
                n.gave_up()
                    .is_some_and(|why| why.contains("credential_hosts"))
            );
            let mut n = Negotiator::new(&c, &hosts, true);
            assert!(
                n.next("git@evil.example:o/r", None, CredentialType::USERNAME)
                    .is_ok()
            );
            let key = n.next("git@evil.example:o/r", Some("git"), CredentialType::SSH_KEY);
            assert!(key.is_err());
            assert!(!n.offered_key && !n.offered_agent);
        }
    }
}
