//! The tasks one turmoil host spawned through its runtime handle and has not seen end: what
//! the leak check and the stall report of a turmoil run name.
//!
//! Each spawned future carries a presence token; it leaves the census when the future is
//! dropped — finished, aborted, or taken down with its host's runtime by a crash.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::{Arc, Mutex as StdMutex};

/// The live tasks of one host.
#[derive(Debug, Default)]
pub struct Census {
    state: StdMutex<State>,
    ended: tokio::sync::Notify,
}

#[derive(Debug, Default)]
struct State {
    next: u64,
    live: BTreeMap<u64, Arc<str>>,
}

/// A task's place in the census; dropping it (with the task's future) ends the task there.
#[derive(Debug)]
struct Presence {
    census: Arc<Census>,
    id: u64,
}

impl Census {
    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// `task`, counted in the census while it lives.
    pub(crate) fn track<F: Future>(
        self: &Arc<Self>,
        name: &str,
        task: F,
    ) -> impl Future<Output = F::Output> {
        let mut s = self.state();
        let id = s.next;
        s.next += 1;
        s.live.insert(id, name.into());
        drop(s);
        let presence = Presence {
            census: self.clone(),
            id,
        };
        async move {
            let _presence = presence;
            task.await
        }
    }

    /// The names of the live tasks, in spawn order.
    pub fn live(&self) -> Vec<String> {
        self.state().live.values().map(|n| n.to_string()).collect()
    }

    /// Completes once no task of the census is alive.
    pub async fn drained(&self) {
        loop {
            let ended = self.ended.notified();
            if self.state().live.is_empty() {
                return;
            }
            ended.await;
        }
    }
}

impl Drop for Presence {
    fn drop(&mut self) {
        self.census.state().live.remove(&self.id);
        self.census.ended.notify_waiters();
    }
}
