//! Faults on demand, for the tests only: a [`WorkerFactory`] that wraps the real one and makes
//! the first workers of chosen entries fail a moment after they start polling, so that a test
//! can watch the supervisor restart them with backoff while the other entries serve on.
//!
//! Compiled only with the cargo feature `fault-injection`, which nothing but the root package's
//! dev-dependencies enables: `cargo test` builds the binaries with it, a plain `cargo build`
//! (release or debug) has no such code path. Set `WORKER_HOST_FAULTS=<entry>:<failures>[,...]`
//! in the host's environment; without it the wrapper changes nothing.

use crate::{
    config::{HostConfig, WorkerEntry},
    status::HostStatus,
    supervisor::{EntryWorker, WorkerFactory, WorkerSpec},
};
use anyhow::{Context, Result, anyhow};
use futures::future::LocalBoxFuture;
use std::{cell::RefCell, collections::HashMap, time::Duration};

/// The variable that lists the entries to fail and how often.
pub const FAULTS_VAR: &str = "WORKER_HOST_FAULTS";

/// How long a doomed worker polls before it fails.
const FAIL_AFTER: Duration = Duration::from_millis(500);

/// Wraps the host's factory; the first `n` workers built for each listed entry fail.
pub struct FaultyFactory<F> {
    inner: F,
    failures_left: RefCell<HashMap<String, u32>>,
}

impl<F: WorkerFactory> FaultyFactory<F> {
    /// Wrap `inner` with the faults of [`FAULTS_VAR`] (none when it is unset).
    pub fn from_env(inner: F) -> Result<Self> {
        let spec = std::env::var(FAULTS_VAR).unwrap_or_default();
        let failures_left = parse(&spec).with_context(|| format!("{FAULTS_VAR}={spec:?}"))?;
        if !failures_left.is_empty() {
            tracing::warn!(faults = ?failures_left, "fault injection on: workers will fail");
        }
        Ok(Self {
            inner,
            failures_left: RefCell::new(failures_left),
        })
    }

    /// Whether the next worker of `entry` is to fail (and count it).
    fn doomed(&self, entry: &str) -> bool {
        let mut left = self.failures_left.borrow_mut();
        match left.get_mut(entry) {
            Some(n) if *n > 0 => {
                *n -= 1;
                true
            }
            _ => false,
        }
    }
}

/// `entry:n,entry:n` → how many failures per entry.
fn parse(spec: &str) -> Result<HashMap<String, u32>> {
    spec.split(',')
        .filter(|part| !part.trim().is_empty())
        .map(|part| {
            let (entry, n) = part
                .split_once(':')
                .ok_or_else(|| anyhow!("`{part}` is not <entry>:<failures>"))?;
            let n = n
                .trim()
                .parse()
                .with_context(|| format!("`{n}` is not a number of failures"))?;
            Ok((entry.trim().to_owned(), n))
        })
        .collect()
}

impl<F: WorkerFactory> WorkerFactory for FaultyFactory<F> {
    fn build(&self, spec: &WorkerSpec) -> Result<Box<dyn EntryWorker>> {
        let worker = self.inner.build(spec)?;
        Ok(if self.doomed(&spec.entry.name) {
            Box::new(FailingWorker { inner: worker })
        } else {
            worker
        })
    }

    fn status(&self) -> &HostStatus {
        self.inner.status()
    }

    fn polled_queue(&self, entry: &WorkerEntry) -> String {
        self.inner.polled_queue(entry)
    }

    fn config_applied(&self, config: &HostConfig) {
        self.inner.config_applied(config)
    }
}

/// A real worker that stops polling after [`FAIL_AFTER`], drains, and reports a failure.
struct FailingWorker {
    inner: Box<dyn EntryWorker>,
}

impl EntryWorker for FailingWorker {
    fn shutdown_handle(&self) -> Box<dyn Fn()> {
        self.inner.shutdown_handle()
    }

    fn grace_handle(&self) -> Box<dyn Fn(std::time::Duration)> {
        self.inner.grace_handle()
    }

    fn sticky_release_handle(&self) -> Box<dyn Fn()> {
        self.inner.sticky_release_handle()
    }

    fn run(self: Box<Self>) -> LocalBoxFuture<'static, Result<()>> {
        let shutdown = self.inner.shutdown_handle();
        let mut run = self.inner.run();
        Box::pin(async move {
            tokio::select! {
                stopped = &mut run => return stopped,
                _ = tokio::time::sleep(FAIL_AFTER) => {}
            }
            // Stop the real worker first: its successor cannot register while it polls.
            shutdown();
            run.await?;
            Err(anyhow!("injected fault ({FAULTS_VAR}): the worker failed"))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::parse;

    #[test]
    fn the_spec_lists_entries_and_failures() {
        let faults = parse("flaky:3, other : 1").expect("valid");
        assert_eq!(faults.get("flaky"), Some(&3));
        assert_eq!(faults.get("other"), Some(&1));
        assert!(parse("").expect("empty").is_empty());
        assert!(parse("flaky").is_err());
        assert!(parse("flaky:many").is_err());
    }
}
