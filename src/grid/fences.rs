//! The fences a node accepts on a leader's calls: the node follows the election through a
//! watch, and refuses a call whose fence is not the current leader's — unless it is newer
//! than every candidacy the watch has shown, a leader the node has not heard of yet.
//!
//! A deposed leader's late calls are refused as soon as the node has seen its candidacy
//! end. A node cut off from the coordinator cannot see that; its own lease lapses as
//! surely, and its actors stop before a successor could claim what they hold.

use std::collections::BTreeSet;
use std::future::poll_fn;
use std::sync::Arc;

use futures_core::Stream;

use super::actor::ActorError;
use super::coordinator::{Coordinator, Fence, WatchEvent};
use super::node::Inner;
use crate::rt::{Mutex, Runtime};
use crate::signal::{Context, Fault};

/// The candidacies of one election, as a watch has shown them.
#[derive(Debug, Default)]
pub(crate) struct Book {
    live: BTreeSet<Fence>,
    newest: Option<Fence>,
}

impl Book {
    /// Accepts `fence`, or returns the newest fence known.
    pub(crate) fn check(&self, fence: Fence) -> Result<(), Fence> {
        if self.live.first() == Some(&fence) {
            return Ok(());
        }
        match self.newest {
            Some(newest) if fence <= newest => Err(newest),
            _ => Ok(()),
        }
    }

    fn reset(&mut self, live: impl IntoIterator<Item = Fence>) {
        self.live = live.into_iter().collect();
        self.newest = self.newest.max(self.live.last().copied());
    }

    fn apply(&mut self, event: &WatchEvent) {
        let fence = match event {
            WatchEvent::Put(registration) => {
                self.live.insert(registration.fence);
                registration.fence
            }
            WatchEvent::Delete { fence, .. } => {
                self.live.remove(fence);
                *fence
            }
        };
        self.newest = self.newest.max(Some(fence));
    }
}

/// The `fences` routine: follows `election` until the node stops, watching again whenever
/// a watch ends.
pub(crate) async fn follow<R: Runtime, C: Coordinator, T: Send + Sync + 'static>(
    ctx: Context<ActorError, R>,
    inner: Arc<Inner<R, C, T>>,
    election: String,
) -> Result<(), Fault<ActorError>> {
    let prefix = format!("{election}/");
    loop {
        let watched = crate::select! {
            () = ctx.drained() => return Ok(()),
            watched = inner.coordinator.watch(&prefix) => watched,
        };
        let Ok((snapshot, mut events)) = watched else {
            crate::select! {
                () = ctx.drained() => return Ok(()),
                () = inner.rt.sleep(inner.config.lease.retry) => continue,
            }
        };
        inner
            .book
            .lock()
            .await
            .reset(snapshot.iter().map(|r| r.fence));
        loop {
            let event = crate::select! {
                () = ctx.drained() => return Ok(()),
                event = poll_fn(|cx| std::pin::Pin::new(&mut events).poll_next(cx)) => event,
            };
            match event {
                Some(event) => inner.book.lock().await.apply(&event),
                None => break,
            }
        }
    }
}
