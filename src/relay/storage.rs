//! The node's local storage as the relay sees it: writers put frames of the channels this node
//! leases into it, and the gateway tap subscribes the delta to it for the keys streamers
//! demand.
//!
//! The subscriptions are one shared list, replaced whole under the storage's lock (held for
//! no await) when one changes. A write takes the list in force under that lock, so once
//! [`Storage::set_keys`] returns, every write that starts afterwards is filtered by the new
//! keys: this is the gateway half of the open-ack delivery barrier. A write forwards the whole
//! frame (one shared pointer) to each subscription of its list whose keys it touches, after
//! releasing the lock, and waits for room: storage applies backpressure rather than dropping.

use std::collections::BTreeSet;
use std::fmt;
use std::sync::Arc;

use super::delta::{DeltaHandle, Inflow};
use super::keys::Keys;
use crate::frame::{ChannelKey, Frame};
use crate::rt::prelude::*;
use crate::rt::Tokio;

/// A subscription to storage, owned by a tap.
pub(crate) type SubscriptionId = u64;

#[derive(Clone)]
struct Subscription<R: Runtime> {
    id: SubscriptionId,
    keys: Keys,
    delta: DeltaHandle<R>,
}

/// Subscriptions in id order, shared by the writes that took them.
type Subscriptions<R> = Arc<[Subscription<R>]>;

struct State<R: Runtime> {
    next: SubscriptionId,
    subscriptions: Subscriptions<R>,
    frames: u64,
}

impl<R: Runtime> State<R> {
    /// Replaces the subscriptions with what `change` makes of a copy of them.
    fn change(&mut self, change: impl FnOnce(&mut Vec<Subscription<R>>)) {
        let mut subscriptions = self.subscriptions.to_vec();
        change(&mut subscriptions);
        self.subscriptions = subscriptions.into();
    }
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
            subscriptions: Arc::new([]),
            frames: 0,
        };
        let state = Arc::new(rt.sync_lock("storage", state));
        Storage { state }
    }

    /// Stores `frame` and fans it out through every subscription whose keys it touches, in
    /// the caller's task.
    pub async fn write(&self, frame: Frame) {
        let subscriptions = self.state.with(|s| {
            s.frames += 1;
            s.subscriptions.clone()
        });
        let touched = |from: usize| {
            let mut rest = subscriptions.get(from..).unwrap_or_default().iter();
            let found = rest.position(|sub| sub.keys.find(&frame).touches());
            found.map(|at| from + at)
        };
        let Some(mut at) = touched(0) else {
            return;
        };
        loop {
            let delta = &subscriptions[at].delta;
            match touched(at + 1) {
                Some(next) => {
                    let _ = delta.offer(Inflow::Frame(frame.clone())).await;
                    at = next;
                }
                None => {
                    let _ = delta.offer(Inflow::Frame(frame)).await;
                    return;
                }
            }
        }
    }

    /// How many frames have been written.
    pub async fn frames(&self) -> u64 {
        self.state.with(|s| s.frames)
    }

    /// The keys of each subscription, in the order they were made: what the node's writes
    /// are filtered by before they reach a fan-out. Empty once no streamer demands a channel
    /// this node leases.
    pub async fn taps(&self) -> Vec<BTreeSet<ChannelKey>> {
        let keys = |sub: &Subscription<R>| sub.keys.set.clone();
        self.state
            .with(|s| s.subscriptions.iter().map(keys).collect())
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
            s.change(|subs| subs.push(Subscription { id, keys, delta }));
            id
        })
    }

    /// Replaces a subscription's keys; writes that start afterwards see them.
    pub(crate) async fn set_keys(&self, id: SubscriptionId, keys: BTreeSet<ChannelKey>) {
        self.state.with(|s| {
            let keys = Keys::new(keys);
            s.change(|subs| {
                if let Some(sub) = subs.iter_mut().find(|sub| sub.id == id) {
                    sub.keys = keys;
                }
            })
        })
    }

    /// Ends a subscription; a write already past the lock still delivers its frame.
    pub(crate) async fn unsubscribe(&self, id: SubscriptionId) {
        self.state
            .with(|s| s.change(|subs| subs.retain(|sub| sub.id != id)));
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::{NodeId, Samples, Series};
    use crate::relay::delivery::{Delivery, Policy};
    use crate::relay::delta::Delta;
    use std::time::Duration;

    fn key(channel: u16) -> ChannelKey {
        ChannelKey::leased(NodeId(1), channel)
    }

    fn frame_of(channel: u16) -> Frame {
        let series = Series {
            key: key(channel),
            timestamps: vec![0],
            samples: Samples::F64(vec![0.0]),
        };
        Frame::new(vec![series]).expect("one key")
    }

    /// A delta with one lossless subscriber for `channels`, subscribed to `storage`: the
    /// delta (kept for as long as it must run), the subscription and the outlet.
    async fn subscribed(
        storage: &Storage<Tokio>,
        channels: &[u16],
    ) -> (
        Delta<Tokio>,
        SubscriptionId,
        <Tokio as Runtime>::Receiver<Delivery>,
    ) {
        let keys: BTreeSet<_> = channels.iter().copied().map(key).collect();
        let (_writes, inlet) = Tokio.channel("writes", 1);
        let (delta, handle) = Delta::new(Tokio, inlet);
        let outlet = handle.connect(1, keys.clone(), Policy::Lossless, 8).await;
        let id = storage.subscribe(keys, handle).await;
        (delta, id, outlet.expect("connects"))
    }

    /// Writes `frame`, failing (rather than hanging) if the write does not end.
    async fn written(storage: &Storage<Tokio>, frame: Frame) {
        let write = Tokio.timeout(Duration::from_secs(10), storage.write(frame));
        write
            .await
            .expect("a write to unread outlets with room ends");
    }

    /// How many deliveries each outlet holds, emptying it.
    fn drained(outlets: &mut [&mut <Tokio as Runtime>::Receiver<Delivery>]) -> Vec<usize> {
        let count = |outlet: &mut <Tokio as Runtime>::Receiver<Delivery>| {
            std::iter::from_fn(|| outlet.try_recv().ok()).count()
        };
        outlets.iter_mut().map(|outlet| count(outlet)).collect()
    }

    /// A frame reaches each subscription it touches once — the first and the third of
    /// three here, never the second — and ending one subscription leaves the others.
    #[test]
    fn a_write_reaches_each_touched_subscription_once() {
        let rt = ::tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build();
        rt.expect("a runtime builds").block_on(async {
            let storage = Storage::new(Tokio);
            let (_a, _, mut first) = subscribed(&storage, &[1]).await;
            let (_b, middle, mut second) = subscribed(&storage, &[2]).await;
            let (_c, _, mut third) = subscribed(&storage, &[1, 3]).await;
            written(&storage, frame_of(1)).await;
            let outlets = &mut [&mut first, &mut second, &mut third];
            assert_eq!(drained(outlets), [1, 0, 1]);
            storage.unsubscribe(middle).await;
            written(&storage, frame_of(1)).await;
            written(&storage, frame_of(2)).await;
            assert_eq!(drained(outlets), [1, 0, 1], "the others stay subscribed");
        });
    }

    /// Every write counts, touched by a subscription or not.
    #[test]
    fn every_write_is_counted() {
        let series = Series {
            key: ChannelKey::leased(NodeId(1), 1),
            timestamps: vec![0],
            samples: Samples::F64(vec![0.0]),
        };
        let frame = Frame::new(vec![series]).expect("one key");
        let rt = ::tokio::runtime::Builder::new_current_thread().build();
        rt.expect("a runtime builds").block_on(async {
            let storage = Storage::new(Tokio);
            assert_eq!(storage.frames().await, 0);
            for _ in 0..3 {
                storage.write(frame.clone()).await;
            }
            assert_eq!(storage.frames().await, 3);
        });
    }
}
