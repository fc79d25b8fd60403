//! The entry-level activity limit. Each SDK worker enforces its own slots, but while a changed
//! entry is replaced, the old worker's in-flight activities and the new worker's slots would add
//! up. The gate is shared by every worker generation of one entry, so `max_concurrent_activities`
//! holds across a replacement: a task the new worker took waits here until the old worker's
//! activities leave room.

use std::sync::{Arc, Mutex, MutexGuard};
use tokio::sync::Notify;

#[derive(Debug)]
struct State {
    limit: usize,
    running: usize,
}

#[derive(Debug)]
struct Inner {
    state: Mutex<State>,
    freed: Notify,
}

/// Shared by all worker generations of one entry.
#[derive(Debug, Clone)]
pub struct SlotGate(Arc<Inner>);

/// Held while an activity runs; frees its place when dropped.
#[derive(Debug)]
pub struct Permit(SlotGate);

impl SlotGate {
    /// A gate that lets `limit` activities run at once.
    pub fn new(limit: usize) -> Self {
        Self(Arc::new(Inner {
            state: Mutex::new(State { limit, running: 0 }),
            freed: Notify::new(),
        }))
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.0.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Change the limit (a reload); waiting activities re-check at once.
    pub fn set_limit(&self, limit: usize) {
        self.state().limit = limit;
        self.0.freed.notify_waiters();
    }

    /// Activities running now.
    pub fn running(&self) -> usize {
        self.state().running
    }

    /// Wait for a place, then hold it until the permit is dropped.
    pub async fn acquire(&self) -> Permit {
        loop {
            let freed = self.0.freed.notified();
            tokio::pin!(freed);
            freed.as_mut().enable();
            {
                let mut s = self.state();
                if s.running < s.limit {
                    s.running += 1;
                    return Permit(self.clone());
                }
            }
            freed.await;
        }
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        self.0.state().running -= 1;
        self.0.0.freed.notify_waiters();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn holds_the_limit_and_follows_changes() {
        let gate = SlotGate::new(1);
        let first = gate.acquire().await;
        let waiting = tokio::spawn({
            let gate = gate.clone();
            async move { gate.acquire().await }
        });
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(!waiting.is_finished(), "a second activity waits at limit 1");
        gate.set_limit(2);
        let second = tokio::time::timeout(Duration::from_secs(1), waiting)
            .await
            .expect("raising the limit admits it")
            .expect("task");
        assert_eq!(gate.running(), 2);
        gate.set_limit(1);
        drop(first);
        assert_eq!(gate.running(), 1, "lowering the limit never evicts");
        let third = tokio::spawn({
            let gate = gate.clone();
            async move { gate.acquire().await }
        });
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(!third.is_finished(), "still one running at limit 1");
        drop(second);
        tokio::time::timeout(Duration::from_secs(1), third)
            .await
            .expect("a freed place admits the next")
            .expect("task");
    }
}
