//! The tapper: turns streamers' demands into taps. It keeps each streamer's keys, aggregates
//! them per leaseholder node, and opens, retargets or closes one tap per node that has
//! demand. On this node the tap is the gateway tap: a storage subscription whose frames a
//! routine forwards into the delta's inlet. Free channels need no tap: their writes go
//! straight to the delta, which filters them per streamer.
//!
//! A demand is acknowledged only after it has been applied: the tap's keys are set in
//! storage, so every write starting after the acknowledgement reaches the delta. Applying a
//! demand never waits on the data path (setting keys takes only the storage lock, and a
//! closing tap is not waited for), so a streamer waiting for its demand can never be held up
//! by a full outlet — its own or another streamer's.
//!
//! A tap that closes while it still forwards buffered frames hands over to its successor:
//! the next gateway tap waits for the previous one to finish before forwarding, so frames of
//! one channel reach the delta in the order they were written.

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

struct GatewayTap<R: Runtime> {
    subscription: SubscriptionId,
    keys: BTreeSet<ChannelKey>,
    finished: Option<R::OneshotReceiver<()>>,
}

/// The tapper's state; [`Tapper::run`] is the body of the relay's `tapper` routine.
pub(crate) struct Tapper<R: Runtime> {
    pub(crate) node: NodeId,
    pub(crate) storage: Storage<R>,
    pub(crate) inlet: R::Sender<Frame>,
    pub(crate) tap_capacity: usize,
    pub(crate) bugs: Bugs,
    demands: BTreeMap<SubscriberId, BTreeSet<ChannelKey>>,
    gateway: Option<GatewayTap<R>>,
    closing: Option<R::OneshotReceiver<()>>,
}

type Ctx<R> = Context<RelayError, R>;

impl<R: Runtime> Tapper<R> {
    pub(crate) fn new(node: NodeId, storage: Storage<R>, inlet: R::Sender<Frame>) -> Self {
        Tapper {
            node,
            storage,
            inlet,
            tap_capacity: 16,
            bugs: Bugs::NONE,
            demands: BTreeMap::new(),
            gateway: None,
            closing: None,
        }
    }

    /// Serves demands until every demand inlet is dropped, then closes its taps and waits for
    /// them to finish forwarding. Demands still held at that point are an error.
    pub(crate) async fn run(
        mut self,
        ctx: Ctx<R>,
        mut demands: R::Receiver<Demand<R>>,
    ) -> Result<(), Fault<RelayError>> {
        while let Some(demand) = ctx.recv(&mut demands).await.map_err(|_| Fault::Cancelled)? {
            self.serve(&ctx, demand).await?;
        }
        self.close_gateway().await;
        ctx.scope().wait().await.map_err(|_| Fault::Cancelled)?;
        let left: Vec<SubscriberId> = self.demands.keys().copied().collect();
        match left.is_empty() {
            true => Ok(()),
            false => Err(Fault::Error(RelayError::DemandsLeft(left))),
        }
    }

    async fn serve(&mut self, ctx: &Ctx<R>, demand: Demand<R>) -> Result<(), Fault<RelayError>> {
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
        self.apply(ctx).await?;
        applied.map(|ack| ack.send(()));
        Ok(())
    }

    /// The keys this node leases that some streamer demands.
    fn local_demand(&self) -> BTreeSet<ChannelKey> {
        let all = self.demands.values().flatten();
        let local = all.filter(|k| k.leaseholder() == Some(self.node));
        local.copied().collect()
    }

    async fn apply(&mut self, ctx: &Ctx<R>) -> Result<(), Fault<RelayError>> {
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
            None => self.open_gateway(ctx, wanted).await?,
        }
        Ok(())
    }

    async fn open_gateway(
        &mut self,
        ctx: &Ctx<R>,
        keys: BTreeSet<ChannelKey>,
    ) -> Result<(), Fault<RelayError>> {
        let storage = &self.storage;
        let (subscription, frames) = storage.subscribe(keys.clone(), self.tap_capacity).await;
        let (done, finished) = ctx.runtime().oneshot("tapper:gateway-finished");
        let tap = Forward {
            frames,
            inlet: self.inlet.clone(),
            predecessor: self.closing.take(),
            done,
        };
        let name = format!("gateway-{subscription}");
        let started = ctx.scope().go(&name, move |ctx| tap.run(ctx)).await;
        started.map_err(|_| Fault::Cancelled)?;
        let finished = Some(finished);
        self.gateway = Some(GatewayTap {
            subscription,
            keys,
            finished,
        });
        Ok(())
    }

    async fn close_gateway(&mut self) {
        if let Some(mut tap) = self.gateway.take() {
            self.storage.unsubscribe(tap.subscription).await;
            self.closing = tap.finished.take();
        }
    }
}

/// A gateway tap's routine: forwards its subscription's frames into the delta's inlet, once
/// its predecessor has finished.
struct Forward<R: Runtime> {
    frames: R::Receiver<Frame>,
    inlet: R::Sender<Frame>,
    predecessor: Option<R::OneshotReceiver<()>>,
    done: R::OneshotSender<()>,
}

impl<R: Runtime> Forward<R> {
    async fn run(mut self, ctx: Ctx<R>) -> Result<(), Fault<RelayError>> {
        if let Some(predecessor) = self.predecessor.take() {
            crate::select! {
                _ = predecessor => {},
                () = ctx.cancelled() => return Err(Fault::Cancelled),
            }
        }
        while let Some(frame) = ctx
            .recv(&mut self.frames)
            .await
            .map_err(|_| Fault::Cancelled)?
        {
            if ctx.send(&self.inlet, frame).await.is_err() {
                break;
            }
        }
        let _ = self.done.send(());
        Ok(())
    }
}
