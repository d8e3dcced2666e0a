//! What a routine holds: its path, its group's drain and cancel signals, its transient-error
//! reporter, its own nested group, and sends and receives that give up on cancel.

use std::fmt;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use super::error::{Cancelled, SendStop};
use super::tree::{Level, Tree};
use super::{Error, Group, Transient};
use crate::rt::prelude::*;
use crate::rt::{Tokio, TrySendError};

/// A routine's view of its group. Cheap to clone.
pub struct Context<E: Error, R: Runtime = Tokio> {
    pub(crate) tree: Arc<Tree<E, R>>,
    pub(crate) path: Arc<str>,
    pub(crate) level: R::WatchReceiver<Level>,
    pub(crate) scope: Group<E, R>,
}

impl<E: Error, R: Runtime> Clone for Context<E, R> {
    fn clone(&self) -> Self {
        Context {
            tree: Arc::clone(&self.tree),
            path: Arc::clone(&self.path),
            level: self.level.clone(),
            scope: self.scope.clone(),
        }
    }
}

impl<E: Error, R: Runtime> fmt::Debug for Context<E, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Context").field("path", &self.path).finish()
    }
}

impl<E: Error, R: Runtime> Context<E, R> {
    /// The routine's path, `group/routine`.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The runtime the routine runs on.
    pub fn runtime(&self) -> &R {
        &self.tree.rt
    }

    /// The routine's own nested group: routines started there are its children, with paths
    /// under its own. The routine does not end before they do.
    pub fn scope(&self) -> &Group<E, R> {
        &self.scope
    }

    /// Whether the routine was told to drain (or to cancel, which implies it).
    pub fn is_draining(&self) -> bool {
        self.level.clone().current() >= Level::Drain
    }

    /// Whether the routine was told to cancel.
    pub fn is_cancelled(&self) -> bool {
        self.level.clone().current() >= Level::Cancel
    }

    /// Completes once the routine is told to drain: finish the work in hand, then return
    /// `Ok`. A cancel also completes it.
    pub async fn drained(&self) {
        self.reached(Level::Drain).await
    }

    /// Completes once the routine is told to cancel: abandon the work and return
    /// [`Fault::Cancelled`](super::Fault::Cancelled).
    pub async fn cancelled(&self) {
        self.reached(Level::Cancel).await
    }

    async fn reached(&self, level: Level) {
        let mut rx = self.level.clone();
        while rx.current() < level {
            if rx.changed().await.is_err() {
                return;
            }
        }
    }

    /// Reports a transient error: the routine goes on. Never waits: when the group's
    /// transient stream is full (or nobody took it) the error is dropped and counted, and
    /// this returns `false`.
    pub fn report(&self, error: E) -> bool {
        let path = Arc::clone(&self.path);
        match self.tree.transients.try_send(Transient { path, error }) {
            Ok(()) => true,
            Err(TrySendError::Full(_) | TrySendError::Closed(_)) => {
                self.tree.dropped.fetch_add(1, Ordering::Relaxed);
                false
            }
        }
    }

    /// Sends `value`, giving up if the routine is cancelled first; the value is handed back.
    pub async fn send<T: Send + 'static>(
        &self,
        tx: &R::Sender<T>,
        value: T,
    ) -> Result<(), SendStop<T>> {
        if self.is_cancelled() {
            return Err(SendStop::Cancelled(value));
        }
        crate::select! {
            permit = tx.reserve() => match permit {
                Ok(permit) => {
                    permit.send(value);
                    Ok(())
                }
                Err(_) => Err(SendStop::Closed(value)),
            },
            () = self.cancelled() => Err(SendStop::Cancelled(value)),
        }
    }

    /// The next value of `rx` (`None` once it is closed and drained), or [`Cancelled`] if
    /// the routine is cancelled first.
    pub async fn recv<T: Send + 'static>(
        &self,
        rx: &mut R::Receiver<T>,
    ) -> Result<Option<T>, Cancelled> {
        crate::select! {
            value = rx.recv() => Ok(value),
            () = self.cancelled() => Err(Cancelled),
        }
    }
}
