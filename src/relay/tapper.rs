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
//! another streamer's. Storage and free writes share the delta's one inlet, so frames of one
//! channel reach the delta in the order they were written, across taps closing and opening.

use std::collections::{BTreeMap, BTreeSet};

use super::delta::SubscriberId;
use super::error::RelayError;
use super::frame::{ChannelKey, Frame, NodeId};
use super::storage::{Storage, SubscriptionId};
use crate::bugs::{Bug, Bugs};
use crate::rt::prelude::*;
use crate::signal::{Context, Fault};

/// A streamer's demand: its whole key set (empty: withdraw), and whom to tell once applied.
pub(crate) struct Demand<R: Runtime> {
    pub(crate) streamer: SubscriberId,
    pub(crate) keys: BTreeSet<ChannelKey>,
    pub(crate) applied: R::OneshotSender<()>,
}

struct GatewayTap {
    subscription: SubscriptionId,
    keys: BTreeSet<ChannelKey>,
}

/// The tapper's state; [`Tapper::run`] is the body of the relay's `tapper` routine.
pub(crate) struct Tapper<R: Runtime> {
    pub(crate) node: NodeId,
    pub(crate) storage: Storage<R>,
    pub(crate) inlet: R::Sender<Frame>,
    pub(crate) bugs: Bugs,
    demands: BTreeMap<SubscriberId, BTreeSet<ChannelKey>>,
    gateway: Option<GatewayTap>,
}

type Ctx<R> = Context<RelayError, R>;

impl<R: Runtime> Tapper<R> {
    pub(crate) fn new(node: NodeId, storage: Storage<R>, inlet: R::Sender<Frame>) -> Self {
        Tapper {
            node,
            storage,
            inlet,
            bugs: Bugs::NONE,
            demands: BTreeMap::new(),
            gateway: None,
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
            self.serve(demand).await;
        }
        self.close_gateway().await;
        let left: Vec<SubscriberId> = self.demands.keys().copied().collect();
        match left.is_empty() {
            true => Ok(()),
            false => Err(Fault::Error(RelayError::DemandsLeft(left))),
        }
    }

    async fn serve(&mut self, demand: Demand<R>) {
        let Demand {
            streamer,
            keys,
            applied,
        } = demand;
        let mut applied = Some(applied);
        if self.bugs.has(Bug::B6AckBeforeDemandApplied) {
            applied.take().map(|ack| ack.send(()));
        }
        match keys.is_empty() {
            true => self.demands.remove(&streamer),
            false => self.demands.insert(streamer, keys),
        };
        self.apply().await;
        applied.map(|ack| ack.send(()));
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
                let inlet = self.inlet.clone();
                let subscription = self.storage.subscribe(wanted.clone(), inlet).await;
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
