//! Fetching a repository to index it: one blocking call, [`clone_repository`], that fetches a
//! branch, tag or commit of an https, ssh (or, when allowed, local) repository into the host's
//! bare mirror of that repository ([`mirror`]: made on first use, fetched into afterwards, one
//! fetch at a time), with a size limit, credentials from the environment, and a progress
//! callback that can heartbeat and abort. Nothing is checked out: the parse reads the commit's
//! tree and blobs from the mirror.
//!
//! Hostile servers and repositories are bounded ([`CloneLimits`]): credentials go only to the
//! listed hosts and redirects never leave the host asked for; connections have connect and
//! read timeouts and a floor under the transfer rate; the bytes received, and the bytes,
//! entries and path depth of the commit's tree (read from tree objects and object headers)
//! are limited.
//!
//! The fetch is as small as the remote allows: only the wanted ref, at depth 1 over https and
//! ssh. libgit2's local transport (paths and `file://` URLs) cannot fetch shallowly, so local
//! clones fetch the wanted ref's whole history. A commit id that no ref's tip matches is asked
//! for by id (depth 1 where the server allows it) and otherwise found by fetching every branch
//! and tag in full.
//!
//! Errors are [`CloneError`]s with a stable [`CloneError::kind`] and
//! [`CloneError::is_retryable`]; no error, log line or outcome holds a credential or the
//! userinfo of a URL. On any failure a mirror made by the call is removed; an older one keeps
//! what it held. A mirror that turns out damaged (it cannot be opened, or a local git
//! operation on it fails) is removed and made again, once.

mod credentials;
mod error;
mod footprint;
mod host;
pub mod mirror;
mod pace;
mod redact;
mod refs;
mod source;
mod timeouts;

use std::{
    cell::RefCell,
    fmt,
    path::{Path, PathBuf},
    time::{Duration, Instant},
};

use git2::{
    AutotagOption, Commit, Direction, ErrorCode, FetchOptions, Remote, RemoteCallbacks,
    RemoteRedirect, Repository,
};
use serde::{Deserialize, Serialize};

pub use credentials::{SSH_KEY_VAR, SSH_PASSPHRASE_VAR, TOKEN_VARS};
pub use error::{CloneError, Limit};
pub use host::CredentialHosts;
pub use redact::redact_userinfo as redact_url;
pub use source::{Source, Transport};

use credentials::{Credentials, Negotiator};
use error::{Phase, from_git};
use mirror::Mirror;
use pace::Pace;
use refs::{EVERYTHING, Head, WANTED_REF, Wanted};

/// What to clone.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CloneRequest {
    /// `https://host/owner/repo(.git)`, `ssh://user@host/path` or `user@host:path`; with
    /// [`CloneLimits::allow_local`] also a local path (absolute, or starting with `./`) or a
    /// `file://` URL; with [`CloneLimits::allow_http`] also `http://`. No password: credentials
    /// come from the environment ([`TOKEN_VARS`], [`SSH_KEY_VAR`]).
    pub url: String,
    /// A branch, a tag, a full ref name (`refs/…`) or a commit id (40 hex digits, or an
    /// abbreviation of at least 4). Branches win over tags, tags over ids. `None` (or empty,
    /// or `HEAD`) clones the remote's default branch.
    #[serde(default)]
    pub reference: Option<String>,
}

impl fmt::Debug for CloneRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CloneRequest")
            .field("url", &redact::redact_userinfo(&self.url))
            .field("reference", &self.reference)
            .finish()
    }
}

/// What a clone may do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CloneLimits {
    /// Bytes that may come over the wire, over all fetch attempts (the transfer stops with
    /// [`CloneError::TooLarge`] at the first progress report past it), and bytes the files of
    /// the commit's tree may hold (read from object headers, before any file is read).
    /// Default 1 GiB.
    pub max_bytes: u64,
    /// Entries (files, folders, links, submodules) the commit's tree may hold. Default
    /// 1,000,000.
    pub max_tree_entries: u64,
    /// Levels of the deepest path of the commit's tree (`a/b/c` is 3). Default 64.
    pub max_path_depth: u32,
    /// How long connecting to a server may take. Default 30 s.
    pub connect_timeout: Duration,
    /// How long a connected server may stay silent. Default 60 s.
    pub read_timeout: Duration,
    /// The transfer stops with [`CloneError::TooSlow`] when fewer bytes per second than this
    /// arrive over [`CloneLimits::min_transfer_window`]; 0 turns it off. Default 1024.
    pub min_transfer_bytes_per_second: u64,
    /// The window of that floor. Default 60 s.
    pub min_transfer_window: Duration,
    /// The hosts that may receive the token or the ssh key and agent. Default: none, so
    /// credentials go nowhere.
    pub credential_hosts: CredentialHosts,
    /// Accept local paths and `file://` URLs (tests, mirrors on disk). Default `false`: a
    /// request from a workflow must not read the worker's file system.
    pub allow_local: bool,
    /// Accept plain `http://` URLs (no TLS; the token is never sent over them). Default
    /// `false`.
    pub allow_http: bool,
    /// A local source lends its objects to the mirror (git alternates) instead of sending them:
    /// nothing is transferred (and `max_bytes` does not apply), which saves the seconds libgit2
    /// spends compressing a pack of a large tree. Default `true`.
    pub borrow_local_objects: bool,
}

impl Default for CloneLimits {
    fn default() -> Self {
        Self {
            max_bytes: 1 << 30,
            max_tree_entries: 1_000_000,
            max_path_depth: 64,
            connect_timeout: Duration::from_secs(30),
            read_timeout: Duration::from_secs(60),
            min_transfer_bytes_per_second: 1024,
            min_transfer_window: Duration::from_secs(60),
            credential_hosts: CredentialHosts::default(),
            allow_local: false,
            allow_http: false,
            borrow_local_objects: true,
        }
    }
}

/// A finished fetch. The mirror holds the commit; it has no configured remote: fetched
/// branches are under `refs/remotes/origin/`, tags under `refs/tags/`, but nothing of the URL
/// is written in the mirror (a URL's user name can be a token).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CloneOutcome {
    /// The commit asked for: 40 lowercase hex digits.
    pub commit_sha: String,
    /// The remote's default branch (what its `HEAD` points to), when it advertises one.
    pub default_branch: Option<String>,
    /// The absolute path of the mirror (a bare repository).
    pub path: PathBuf,
    /// Bytes received over all fetch attempts.
    pub bytes_received: u64,
    /// Objects received by the fetch that succeeded.
    pub objects: u64,
    /// Whether the mirror holds only part of the history (a depth-1 fetch).
    pub shallow: bool,
}

/// What the clone is doing, for [`Progress`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// Another fetch into the same mirror is under way: this one waits for it. `done` and
    /// `total` are 0.
    Waiting,
    /// The remote is preparing the pack (counting and compressing objects); `done` and
    /// `total` are 0.
    Preparing,
    /// Objects are arriving: `done` of `total` objects.
    Receiving,
    /// Deltas are being resolved: `done` of `total` deltas.
    Resolving,
}

/// One progress report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    /// What is happening.
    pub stage: Stage,
    /// Units done in this stage.
    pub done: u64,
    /// Units in this stage (0 when unknown).
    pub total: u64,
    /// Bytes received so far, over all fetch attempts.
    pub received_bytes: u64,
}

/// Fetches `request` into the mirror at `mirror`: absent or an empty folder (it is made, and
/// missing parents are created), or a mirror an earlier call made (it is fetched into). A
/// non-empty folder that is not such a mirror is refused ([`CloneError::DestinationNotEmpty`]).
///
/// Blocking: run it on a blocking thread (`tokio::task::spawn_blocking`). One fetch at a time
/// per mirror, across threads and processes: a second one waits, reporting
/// [`Stage::Waiting`]. `progress` is called often (many times a second while data flows) and
/// should be cheap; returning `false` stops the fetch with [`CloneError::Aborted`]. It is not
/// called while connecting; a server that never answers is bounded by
/// [`CloneLimits::connect_timeout`] and [`CloneLimits::read_timeout`] (libgit2 settings of
/// the whole process: the last clone to start sets them for all).
///
/// On failure a mirror this call made (and any parent it created) is removed. An older mirror
/// that fails in a way only a damaged repository explains is removed and made again, once.
pub fn clone_repository(
    request: &CloneRequest,
    mirror: &Path,
    limits: &CloneLimits,
    mut progress: impl FnMut(Progress) -> bool,
) -> Result<CloneOutcome, CloneError> {
    let source = Source::parse(&request.url, limits)?;
    let credentials = Credentials::from_env();
    let waiting = Progress {
        stage: Stage::Waiting,
        done: 0,
        total: 0,
        received_bytes: 0,
    };
    let Some(mut mirror) = Mirror::prepare(mirror, || progress(waiting))? else {
        return Err(CloneError::Aborted {
            url: source.to_string(),
        });
    };
    timeouts::apply(limits.connect_timeout, limits.read_timeout).map_err(|e| {
        from_git(
            &e,
            Phase::Connect,
            &source.to_string(),
            mirror.path(),
            &credentials,
        )
    })?;
    let reference = request.reference.as_deref();
    tracing::info!(url = %source, reference, mirror = %mirror.path().display(), "fetching");
    let cloner = Cloner {
        source: &source,
        credentials: &credentials,
        limits,
        path: mirror.path().to_owned(),
        progress: RefCell::new(&mut progress),
        transfer: RefCell::default(),
        pace: RefCell::new(Pace::new(
            limits.min_transfer_bytes_per_second,
            limits.min_transfer_window,
            Instant::now(),
            0,
        )),
    };
    let borrow = (source.transport() == Transport::Local && limits.borrow_local_objects)
        .then(|| PathBuf::from(source.git_url()));
    let mut outcome = mirror
        .open(borrow.as_deref())
        .map_err(|e| cloner.git(&e, Phase::Write))
        .and_then(|repo| cloner.run(&repo, reference));
    if let Err(e @ (CloneError::Io { .. } | CloneError::Git { .. })) = &outcome
        && !mirror.is_fresh()
    {
        tracing::warn!(error = %e, mirror = %mirror.path().display(), "the mirror looks damaged; making it again");
        mirror.reset().map_err(|source| CloneError::Io {
            path: mirror.path().to_owned(),
            source,
        })?;
        outcome = mirror
            .open(borrow.as_deref())
            .map_err(|e| cloner.git(&e, Phase::Write))
            .and_then(|repo| cloner.run(&repo, reference));
    }
    let outcome = outcome?;
    tracing::info!(
        url = %source,
        commit = %outcome.commit_sha,
        bytes = outcome.bytes_received,
        shallow = outcome.shallow,
        "fetched"
    );
    mirror.keep();
    Ok(outcome)
}

/// Why the transfer was stopped from a callback.
#[derive(Debug, Clone, Copy)]
enum Stop {
    TooLarge(u64),
    /// The rate of the last window, in bytes per second.
    TooSlow(u64),
    Aborted,
}

#[derive(Debug, Default)]
struct Transfer {
    /// Bytes received by the fetch attempts that have ended.
    bytes: u64,
    /// Objects received by the last fetch attempt.
    objects: u64,
    /// Progress messages received (sideband), over all fetch attempts: they count for the
    /// rate floor, not for the size limit.
    messages: u64,
    stop: Option<Stop>,
}

/// One clone in progress.
struct Cloner<'a> {
    source: &'a Source,
    credentials: &'a Credentials,
    limits: &'a CloneLimits,
    /// The mirror.
    path: PathBuf,
    progress: RefCell<&'a mut dyn FnMut(Progress) -> bool>,
    transfer: RefCell<Transfer>,
    /// The rate of the fetch attempt under way.
    pace: RefCell<Pace>,
}

impl<'a> Cloner<'a> {
    fn run(&self, repo: &Repository, reference: Option<&str>) -> Result<CloneOutcome, CloneError> {
        // Anonymous: the URL (which may hold a user name) is written nowhere in the mirror.
        let mut remote = repo
            .remote_anonymous(self.source.git_url())
            .map_err(|e| self.git(&e, Phase::Connect))?;
        let heads = self.list(&mut remote)?;
        let default_branch = refs::default_branch(&heads);
        let wanted = refs::plan(&heads, reference, &self.source.to_string())?;
        self.fetch(&mut remote, &wanted)?;
        let commit = self.resolve(repo, &wanted, reference)?;
        self.check_footprint(repo, &commit)?;
        let transfer = self.transfer.borrow();
        Ok(CloneOutcome {
            commit_sha: commit.id().to_string(),
            default_branch,
            path: self.path.clone(),
            bytes_received: transfer.bytes,
            objects: transfer.objects,
            shallow: repo.is_shallow(),
        })
    }

    /// The refs the remote advertises.
    fn list(&self, remote: &mut Remote<'_>) -> Result<Vec<Head>, CloneError> {
        // libgit2 takes a missing path for a URL of an unknown protocol.
        if self.source.transport() == Transport::Local && !Path::new(self.source.git_url()).exists()
        {
            return Err(CloneError::NotFound {
                url: self.source.to_string(),
                detail: "no such directory".into(),
            });
        }
        let negotiator = self.negotiator();
        let listed = remote
            .connect_auth(Direction::Fetch, Some(self.callbacks(&negotiator)), None)
            .and_then(|connection| {
                Ok(connection
                    .list()?
                    .iter()
                    .map(|h| Head {
                        name: h.name().to_owned(),
                        oid: h.oid(),
                        symref_target: h.symref_target().map(str::to_owned),
                    })
                    .collect())
            });
        listed.map_err(|e| self.fail(&e, Phase::Connect, &negotiator))
    }

    /// Fetches `wanted`, as shallowly as the transport allows, falling back to fuller fetches
    /// when a smaller one fails.
    fn fetch(&self, remote: &mut Remote<'_>, wanted: &Wanted) -> Result<(), CloneError> {
        let depth = if self.source.transport() == Transport::Local {
            0
        } else {
            1
        };
        let spec = |src: &str, dst: &str| vec![format!("+{src}:{dst}")];
        let everything = || EVERYTHING.map(str::to_owned).to_vec();
        // Attempts that may fail over to the next, then the one whose failure is final.
        let (smaller, last) = match wanted {
            Wanted::Ref { src, dst } if depth > 0 => {
                (vec![(spec(src, dst), depth)], (spec(src, dst), 0))
            }
            Wanted::Ref { src, dst } => (vec![], (spec(src, dst), 0)),
            Wanted::FullId(oid) => (
                vec![(spec(&oid.to_string(), WANTED_REF), depth)],
                (everything(), 0),
            ),
            Wanted::Abbreviated(_) => (vec![], (everything(), 0)),
        };
        for (refspecs, depth) in &smaller {
            match self.fetch_once(remote, refspecs, *depth) {
                Ok(()) => return Ok(()),
                Err(e @ (CloneError::Network { .. } | CloneError::Git { .. })) => {
                    tracing::debug!(error = %e, "fetch failed; trying a fuller fetch");
                }
                Err(e) => return Err(e),
            }
        }
        self.fetch_once(remote, &last.0, last.1)
    }

    fn fetch_once(
        &self,
        remote: &mut Remote<'_>,
        refspecs: &[String],
        depth: i32,
    ) -> Result<(), CloneError> {
        tracing::debug!(?refspecs, depth, "fetching");
        let negotiator = self.negotiator();
        let started = {
            let transfer = self.transfer.borrow();
            transfer.bytes + transfer.messages
        };
        *self.pace.borrow_mut() = Pace::new(
            self.limits.min_transfer_bytes_per_second,
            self.limits.min_transfer_window,
            Instant::now(),
            started,
        );
        let mut options = FetchOptions::new();
        options
            .remote_callbacks(self.callbacks(&negotiator))
            .follow_redirects(RemoteRedirect::None)
            .download_tags(AutotagOption::None)
            .update_fetchhead(false)
            .depth(depth);
        // libgit2's default reflog message names an anonymous remote by its URL.
        let fetched = remote.fetch(refspecs, Some(&mut options), Some("fetch"));
        let stats = remote.stats();
        let received = {
            let mut transfer = self.transfer.borrow_mut();
            transfer.bytes += stats.received_bytes() as u64;
            transfer.objects = stats.received_objects() as u64;
            transfer.bytes
        };
        fetched.map_err(|e| self.fail(&e, Phase::Fetch, &negotiator))?;
        if received > self.limits.max_bytes {
            return Err(self.too_large(Limit::ReceivedBytes, self.limits.max_bytes, received));
        }
        Ok(())
    }

    /// The commit `wanted` names, now that it is fetched.
    fn resolve<'r>(
        &self,
        repo: &'r Repository,
        wanted: &Wanted,
        reference: Option<&str>,
    ) -> Result<Commit<'r>, CloneError> {
        let found = match wanted {
            Wanted::Ref { dst, .. } => repo.find_reference(dst).and_then(|r| r.peel_to_commit()),
            Wanted::FullId(oid) => repo.find_commit(*oid),
            Wanted::Abbreviated(hex) => repo.find_commit_by_prefix(hex),
        };
        let reason = |e: &git2::Error| match e.code() {
            ErrorCode::NotFound => Some("no commit of the remote's branches and tags has this id"),
            ErrorCode::Ambiguous => {
                Some("this abbreviated id matches several commits; give more digits")
            }
            ErrorCode::Peel | ErrorCode::InvalidSpec => Some("it does not point to a commit"),
            _ => None,
        };
        let commit = found.map_err(|e| match reason(&e) {
            Some(reason) => CloneError::UnknownRef {
                url: self.source.to_string(),
                reference: reference.unwrap_or("HEAD").to_owned(),
                reason: reason.to_owned(),
            },
            None => self.git(&e, Phase::Write),
        })?;
        if let Ok(mut temporary) = repo.find_reference(WANTED_REF) {
            temporary.delete().map_err(|e| self.git(&e, Phase::Write))?;
        }
        Ok(commit)
    }

    /// Refuses a commit whose tree is over the limits (bytes of its files, entries, depth),
    /// measured from tree objects and object headers before anything reads a file.
    fn check_footprint(&self, repo: &Repository, commit: &Commit<'_>) -> Result<(), CloneError> {
        let write = |e: git2::Error| self.git(&e, Phase::Write);
        let tree = commit.tree().map_err(write)?;
        match footprint::check(repo, &tree, self.limits).map_err(write)? {
            Some((exceeded, limit, found)) => Err(self.too_large(exceeded, limit, found)),
            None => Ok(()),
        }
    }

    fn negotiator(&self) -> RefCell<Negotiator<'a>> {
        let token_allowed = self.source.transport() == Transport::Https;
        RefCell::new(Negotiator::new(
            self.credentials,
            &self.limits.credential_hosts,
            token_allowed,
        ))
    }

    fn callbacks<'b>(&'b self, negotiator: &'b RefCell<Negotiator<'a>>) -> RemoteCallbacks<'b> {
        let mut callbacks = RemoteCallbacks::new();
        callbacks
            .credentials(|url, username, allowed| {
                negotiator.borrow_mut().next(url, username, allowed)
            })
            .transfer_progress(|stats| self.on_transfer(&stats))
            .sideband_progress(|message| {
                let received_bytes = {
                    let mut transfer = self.transfer.borrow_mut();
                    transfer.messages += message.len() as u64;
                    transfer.bytes
                };
                if !self.keeps_pace(received_bytes) {
                    return false;
                }
                self.report(Progress {
                    stage: Stage::Preparing,
                    done: 0,
                    total: 0,
                    received_bytes,
                })
            });
        callbacks
    }

    /// Enforces the size limit and the rate floor, and reports progress; `false` stops the
    /// transfer.
    fn on_transfer(&self, stats: &git2::Progress<'_>) -> bool {
        let received = self.transfer.borrow().bytes + stats.received_bytes() as u64;
        if received > self.limits.max_bytes {
            self.transfer.borrow_mut().stop = Some(Stop::TooLarge(received));
            return false;
        }
        if !self.keeps_pace(received) {
            return false;
        }
        let receiving =
            stats.total_objects() == 0 || stats.received_objects() < stats.total_objects();
        let (stage, done, total) = if receiving {
            (
                Stage::Receiving,
                stats.received_objects(),
                stats.total_objects(),
            )
        } else {
            (
                Stage::Resolving,
                stats.indexed_deltas(),
                stats.total_deltas(),
            )
        };
        self.report(Progress {
            stage,
            done: done as u64,
            total: total as u64,
            received_bytes: received,
        })
    }

    /// Whether the transfer keeps above the rate floor, now that `received` bytes of objects
    /// (over all attempts) have arrived; progress messages count too.
    fn keeps_pace(&self, received: u64) -> bool {
        let arrived = received + self.transfer.borrow().messages;
        match self.pace.borrow_mut().under_floor(arrived, Instant::now()) {
            Some(rate) => {
                self.transfer.borrow_mut().stop = Some(Stop::TooSlow(rate));
                false
            }
            None => true,
        }
    }

    /// Calls the caller's progress callback; a `false` is remembered as an abort.
    fn report(&self, progress: Progress) -> bool {
        let go_on = (self.progress.borrow_mut())(progress);
        if !go_on {
            self.transfer.borrow_mut().stop.get_or_insert(Stop::Aborted);
        }
        go_on
    }

    /// The error for a failed network operation: a stop from a callback or an exhausted
    /// credential negotiation explains it better than libgit2's message.
    fn fail(
        &self,
        err: &git2::Error,
        phase: Phase,
        negotiator: &RefCell<Negotiator<'_>>,
    ) -> CloneError {
        match self.transfer.borrow().stop {
            Some(Stop::TooLarge(received)) => {
                return self.too_large(Limit::ReceivedBytes, self.limits.max_bytes, received);
            }
            Some(Stop::TooSlow(rate)) => {
                let pace = self.pace.borrow();
                return CloneError::TooSlow {
                    url: self.source.to_string(),
                    rate,
                    floor: pace.floor(),
                    window_secs: pace.window_secs(),
                };
            }
            Some(Stop::Aborted) => return self.aborted(),
            None => {}
        }
        if let Some(why) = negotiator.borrow().gave_up() {
            return CloneError::Auth {
                url: self.source.to_string(),
                detail: why.to_owned(),
            };
        }
        self.git(err, phase)
    }

    fn git(&self, err: &git2::Error, phase: Phase) -> CloneError {
        from_git(
            err,
            phase,
            &self.source.to_string(),
            &self.path,
            self.credentials,
        )
    }

    fn too_large(&self, exceeded: Limit, limit: u64, found: u64) -> CloneError {
        CloneError::TooLarge {
            url: self.source.to_string(),
            exceeded,
            limit,
            found,
        }
    }

    fn aborted(&self) -> CloneError {
        CloneError::Aborted {
            url: self.source.to_string(),
        }
    }
}
