//! The node's local storage as the relay sees it: writers put frames of the channels this node
//! leases into it, and the gateway tap subscribes the delta to it for the keys streamers
//! demand.
//!
//! A subscription's keys change under the storage's lock (held for no await), so once
//! [`Storage::set_keys`]
//! returns, every write that starts afterwards is filtered by the new keys: this is the
//! gateway half of the open-ack delivery barrier. A write forwards the whole frame (one
//! shared pointer) to each subscription whose keys it touches, after releasing the lock, and
//! waits for room: storage applies backpressure rather than dropping.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::sync::Arc;

use super::delta::{DeltaHandle, Inflow};
use super::keys::Keys;
use crate::frame::{ChannelKey, Frame};
use crate::rt::prelude::*;
use crate::rt::Tokio;

/// A subscription to storage, owned by a tap.
pub(crate) type SubscriptionId = u64;

struct Subscription<R: Runtime> {
    keys: Keys,
    delta: DeltaHandle<R>,
}

struct State<R: Runtime> {
    next: SubscriptionId,
    subscriptions: BTreeMap<SubscriptionId, Subscription<R>>,
    frames: u64,
}

/// The local store of leased channels. Cheap to clone: clones share one store.
pub struct Storage<R: Runtime = Tokio> {
    state: Arc<R::SyncLock<State<R>>>,
}

impl<R: Runtime> Storage<R> {
    /// An empty store.
    pub fn new(rt: R) -> Self {
        let state = State {
            next: 0,
            subscriptions: BTreeMap::new(),
            frames: 0,
        };
        let state = Arc::new(rt.sync_lock("storage", state));
        Storage { state }
    }

    /// Stores `frame` and fans it out through every subscription whose keys it touches, in
    /// the caller's task.
    pub async fn write(&self, frame: Frame) {
        let (first, rest) = self.accept(&frame);
        match (first, rest.is_empty()) {
            (None, _) => {}
            (Some(only), true) => drop(only.offer(Inflow::Frame(frame)).await),
            (Some(first), false) => {
                for delta in std::iter::once(&first).chain(&rest) {
                    let _ = delta.offer(Inflow::Frame(frame.clone())).await;
                }
            }
        }
    }

    /// Counts the frame and picks the deltas it goes to: the first apart, so the usual single
    /// tap costs no allocation.
    fn accept(&self, frame: &Frame) -> (Option<DeltaHandle<R>>, Vec<DeltaHandle<R>>) {
        self.state.with(|s| {
            s.frames += 1;
            let mut touched = s.subscriptions.values();
            let mut touched = touched
                .by_ref()
                .filter(|sub| sub.keys.find(frame).touches());
            let first = touched.next().map(|sub| sub.delta.clone());
            let rest = match touched.next() {
                None => Vec::new(),
                Some(second) => {
                    let rest = std::iter::once(second).chain(touched);
                    rest.map(|sub| sub.delta.clone()).collect()
                }
            };
            (first, rest)
        })
    }

    /// How many frames have been written.
    pub async fn frames(&self) -> u64 {
        self.state.with(|s| s.frames)
    }

    /// Subscribes `delta` to writes touching `keys`.
    pub(crate) async fn subscribe(
        &self,
        keys: BTreeSet<ChannelKey>,
        delta: DeltaHandle<R>,
    ) -> SubscriptionId {
        self.state.with(|s| {
            let id = s.next;
            s.next += 1;
            let keys = Keys::new(keys);
            s.subscriptions.insert(id, Subscription { keys, delta });
            id
        })
    }

    /// Replaces a subscription's keys; writes that start afterwards see them.
    pub(crate) async fn set_keys(&self, id: SubscriptionId, keys: BTreeSet<ChannelKey>) {
        self.state.with(|s| {
            if let Some(sub) = s.subscriptions.get_mut(&id) {
                sub.keys = Keys::new(keys);
            }
        })
    }

    /// Ends a subscription; a write already past the lock still delivers its frame.
    pub(crate) async fn unsubscribe(&self, id: SubscriptionId) {
        self.state.with(|s| s.subscriptions.remove(&id));
    }
}

impl<R: Runtime> Clone for Storage<R> {
    fn clone(&self) -> Self {
        Storage {
            state: self.state.clone(),
        }
    }
}

impl<R: Runtime> fmt::Debug for Storage<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Storage")
    }
}
