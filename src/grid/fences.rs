//! The fences a node accepts on a leader's calls: the node follows the election through a
//! watch, and refuses a call whose fence is not the current leader's — unless it is newer
//! than every candidacy the watch has shown, a leader the node has not heard of yet.
//!
//! A deposed leader's late calls are refused as soon as the node has seen its candidacy
//! end. A node cut off from the coordinator cannot see that; its own lease lapses as
//! surely, and its actors stop before a successor could claim what they hold.

use std::collections::BTreeSet;

use super::coordinator::{Fence, WatchEvent};

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

    pub(crate) fn reset(&mut self, live: impl IntoIterator<Item = Fence>) {
        self.live = live.into_iter().collect();
        self.newest = self.newest.max(self.live.last().copied());
    }

    pub(crate) fn apply(&mut self, event: &WatchEvent) {
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
