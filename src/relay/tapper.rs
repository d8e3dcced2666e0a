//! The tapper: turns streamers' demands into taps. It keeps each streamer's keys, aggregates
//! them per leaseholder node, and opens, retargets or closes one tap per node that has
//! demand. On this node the tap is the gateway tap: a storage subscription for the demanded
//! keys that feeds the delta's inlet. Free channels need no tap: their writes go straight to
//! the delta, which filters them per streamer.
//!
//! A demand is acknowledged only after it has been applied: the tap's keys are set in
//! storage, so every write starting after the acknowledgement reaches the delta. Applying a
//! demand never waits on the data path (it takes only the storage lock, held for no await),
//! so a streamer waiting for its demand can never be held up by a full outlet — its own or
//! another streamer's. Storage and free writes take the delta's one fan-out turn, so frames of
//! one channel reach streamers in the order they were written, across taps closing and opening.
//!
//! For keys other nodes lease, applying means handing the new key set and an acknowledgement
//! to the peer tap, which answers it once the peer has applied the set (or owned up to a gap
//! because the peer is unreachable). The tapper does not wait for that: it returns the
//! acknowledgements' receivers to the streamer, which waits for them itself.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use super::delta::{DeltaHandle, Inflow, SubscriberId};
use super::error::RelayError;
use super::remote::{StartTap, TapCell, TapOrder};
use super::storage::{Storage, SubscriptionId};
use crate::bugs::{Bug, Bugs};
use crate::frame::{ChannelKey, NodeId};
use crate::rt::prelude::*;
use crate::signal::{Context, Fault};

/// A streamer's demand: its whole key set (empty: withdraw), and whom to tell once applied
/// on this node — with the acknowledgements still to come from peer taps.
pub(crate) struct Demand<R: Runtime> {
    pub(crate) streamer: SubscriberId,
    pub(crate) keys: BTreeSet<ChannelKey>,
    pub(crate) applied: R::OneshotSender<Vec<R::OneshotReceiver<()>>>,
}

struct RemoteTap<R: Runtime> {
    cell: Arc<TapCell<R>>,
    keys: BTreeSet<ChannelKey>,
}

struct GatewayTap {
    subscription: SubscriptionId,
    keys: BTreeSet<ChannelKey>,
}

/// The tapper's state; [`Tapper::run`] is the body of the relay's `tapper` routine.
pub(crate) struct Tapper<R: Runtime> {
    pub(crate) node: NodeId,
    pub(crate) storage: Storage<R>,
    pub(crate) delta: DeltaHandle<R>,
    pub(crate) inlet: R::Sender<Inflow>,
    pub(crate) bugs: Bugs,
    pub(crate) peers: Option<Arc<dyn StartTap<R>>>,
    demands: BTreeMap<SubscriberId, BTreeSet<ChannelKey>>,
    gateway: Option<GatewayTap>,
    remote: BTreeMap<NodeId, RemoteTap<R>>,
    started: u64,
}

type Ctx<R> = Context<RelayError, R>;

impl<R: Runtime> Tapper<R> {
    pub(crate) fn new(
        node: NodeId,
        storage: Storage<R>,
        delta: DeltaHandle<R>,
        inlet: R::Sender<Inflow>,
    ) -> Self {
        Tapper {
            node,
            storage,
            delta,
            inlet,
            bugs: Bugs::NONE,
            peers: None,
            demands: BTreeMap::new(),
            gateway: None,
            remote: BTreeMap::new(),
            started: 0,
        }
    }

    /// Serves demands until every demand inlet is dropped, then closes its taps. Demands
    /// still held at that point are an error.
    pub(crate) async fn run(
        mut self,
        ctx: Ctx<R>,
        mut demands: R::Receiver<Demand<R>>,
    ) -> Result<(), Fault<RelayError>> {
        while let Some(demand) = ctx.recv(&mut demands).await.map_err(|_| Fault::Cancelled)? {
            self.serve(&ctx, demand).await;
        }
        self.close_gateway().await;
        for (_, tap) in std::mem::take(&mut self.remote) {
            tap.cell.close().await;
        }
        let left: Vec<SubscriberId> = self.demands.keys().copied().collect();
        match left.is_empty() {
            true => Ok(()),
            false => Err(Fault::Error(RelayError::DemandsLeft(left))),
        }
    }

    async fn serve(&mut self, ctx: &Ctx<R>, demand: Demand<R>) {
        let Demand {
            streamer,
            keys,
            applied,
        } = demand;
        let mut applied = Some(applied);
        if self.bugs.has(Bug::B6AckBeforeDemandApplied) {
            applied.take().map(|ack| ack.send(Vec::new()));
        }
        let asked = keys.iter().filter_map(|k| k.leaseholder());
        let asked: BTreeSet<NodeId> = asked.filter(|&n| n != self.node).collect();
        match keys.is_empty() {
            true => self.demands.remove(&streamer),
            false => self.demands.insert(streamer, keys),
        };
        self.apply().await;
        let waits = self.apply_remote(ctx, &asked).await;
        applied.map(|ack| ack.send(waits));
    }

    /// The keys other nodes lease that some streamer demands, by leaseholder.
    fn remote_demand(&self) -> BTreeMap<NodeId, BTreeSet<ChannelKey>> {
        let mut remote: BTreeMap<NodeId, BTreeSet<ChannelKey>> = BTreeMap::new();
        for &key in self.demands.values().flatten() {
            match key.leaseholder() {
                Some(node) if node != self.node => remote.entry(node).or_default().insert(key),
                _ => continue,
            };
        }
        remote
    }

    /// Retargets, opens and closes peer taps; returns the acknowledgements to wait for: one
    /// from each tap of a node in `asked`.
    async fn apply_remote(
        &mut self,
        ctx: &Ctx<R>,
        asked: &BTreeSet<NodeId>,
    ) -> Vec<R::OneshotReceiver<()>> {
        let wanted = self.remote_demand();
        let gone = self.remote.keys().filter(|n| !wanted.contains_key(n));
        for node in gone.copied().collect::<Vec<_>>() {
            if let Some(tap) = self.remote.remove(&node) {
                tap.cell.close().await;
            }
        }
        let Some(peers) = self.peers.clone() else {
            return Vec::new();
        };
        let mut waits = Vec::new();
        for (node, keys) in wanted {
            let (ack, wait) = match asked.contains(&node) {
                true => Some(ctx.runtime().oneshot("tap:applied")).unzip(),
                false => (None, None),
            };
            waits.extend(wait);
            if let Some(tap) = self.remote.get_mut(&node) {
                if tap.keys != keys || ack.is_some() {
                    tap.cell.want(keys.clone(), ack).await;
                    tap.keys = keys;
                }
                continue;
            }
            let cell = Arc::new(TapCell::new(ctx.runtime(), node));
            cell.want(keys.clone(), ack).await;
            self.started += 1;
            let name = format!("tap-{}-{}", node.0, self.started);
            let (cell2, inlet) = (cell.clone(), self.inlet.clone());
            let order = TapOrder {
                node,
                cell: cell2,
                inlet,
            };
            peers.start(ctx.scope(), name, order).await;
            self.remote.insert(node, RemoteTap { cell, keys });
        }
        waits
    }

    /// The keys this node leases that some streamer demands.
    fn local_demand(&self) -> BTreeSet<ChannelKey> {
        let all = self.demands.values().flatten();
        let local = all.filter(|k| k.leaseholder() == Some(self.node));
        local.copied().collect()
    }

    async fn apply(&mut self) {
        let wanted = self.local_demand();
        match &mut self.gateway {
            Some(_) if wanted.is_empty() => self.close_gateway().await,
            Some(tap) if tap.keys != wanted => {
                self.storage
                    .set_keys(tap.subscription, wanted.clone())
                    .await;
                tap.keys = wanted;
            }
            Some(_) => {}
            None if wanted.is_empty() => {}
            None => {
                let delta = self.delta.clone();
                let subscription = self.storage.subscribe(wanted.clone(), delta).await;
                self.gateway = Some(GatewayTap {
                    subscription,
                    keys: wanted,
                });
            }
        }
    }

    async fn close_gateway(&mut self) {
        if let Some(tap) = self.gateway.take() {
            self.storage.unsubscribe(tap.subscription).await;
        }
    }
}
