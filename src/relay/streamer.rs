//! Streamers: what a caller reads frames from. A [`Streamer`] is a requests inlet (key
//! updates; dropping it closes the streamer) and a responses outlet, which the delta fills
//! directly with views of shared frames through the streamer's keys. Behind it runs a
//! routine that owns the streamer's place in the tapper and the delta.
//!
//! Start: demand to the tapper (acknowledged once applied), then connect to the delta, then
//! the open-ack. From the ack on, every frame written to a demanded key reaches the streamer.
//! Updates make before they break: demand the old keys and the new, switch the delta, then
//! demand the new keys alone, and acknowledge.
//!
//! Stop: drain-before-disconnect. [`Streamer::close`] closes the requests inlet and keeps
//! reading the outlet while the routine disconnects from the delta, then withdraws the
//! demand. The delta also serves the disconnect while a send to this very outlet waits, so
//! a streamer whose owner stopped reading still stops: either defence alone breaks B1's
//! cycle (routine waits for the delta, delta waits for the outlet, owner waits for the
//! routine).

use std::collections::BTreeSet;
use std::fmt;
use std::sync::Arc;

use super::delta::{Delivery, DeltaHandle, Policy, SubscriberId};
use super::error::RelayError;
use super::tapper::Demand;
use crate::bugs::{Bug, Bugs};
use crate::frame::{ChannelKey, WriterGroup};
use crate::rt::prelude::*;
use crate::rt::Tokio;
use crate::signal::{Context, Fault};

/// How a streamer is served.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamerConfig {
    /// What happens when its outlet is full.
    pub policy: Policy,
    /// Deliveries its outlet holds.
    pub capacity: usize,
    /// Writer groups whose frames the streamer never receives, on any kind of channel and
    /// from any node; frames of other groups and of writers without one still reach it.
    pub exclude: BTreeSet<WriterGroup>,
}

impl Default for StreamerConfig {
    fn default() -> Self {
        StreamerConfig {
            policy: Policy::Lossless,
            capacity: 16,
            exclude: BTreeSet::new(),
        }
    }
}

type Reply<R> = <R as Runtime>::OneshotSender<Result<(), RelayError>>;

/// A request on a streamer's inlet.
pub(crate) enum Request<R: Runtime> {
    /// Replace the streamer's keys.
    Update(BTreeSet<ChannelKey>, Reply<R>),
}

/// An open streamer. Dropping it closes it without draining.
#[must_use = "a streamer receives frames only while it is read"]
pub struct Streamer<R: Runtime = Tokio> {
    pub(crate) id: SubscriberId,
    pub(crate) rt: R,
    pub(crate) requests: R::Sender<Request<R>>,
    pub(crate) responses: R::Receiver<Delivery>,
    pub(crate) closed: R::OneshotReceiver<()>,
    pub(crate) bugs: Bugs,
}

impl<R: Runtime> Streamer<R> {
    /// The streamer's id, unique within its relay.
    pub fn id(&self) -> SubscriberId {
        self.id
    }

    /// The next delivery; `None` once the streamer was closed by the relay and is drained.
    pub async fn recv(&mut self) -> Option<Delivery> {
        self.responses.recv().await
    }

    /// The next delivery if one is waiting.
    pub(crate) fn try_recv(&mut self) -> Option<Delivery> {
        self.responses.try_recv().ok()
    }

    /// Replaces the streamer's keys. Once this returns `Ok`, every frame written to one of
    /// `keys` reaches the streamer, and no frame of a key it dropped is delivered after what
    /// is already buffered.
    pub async fn update(&mut self, keys: BTreeSet<ChannelKey>) -> Result<(), RelayError> {
        let (reply, done) = self.rt.oneshot("streamer:update-ack");
        let sent = self.requests.send(Request::Update(keys, reply)).await;
        sent.map_err(|_| RelayError::Closed)?;
        done.await.unwrap_or(Err(RelayError::Closed))
    }

    /// Closes the streamer, draining its outlet while it disconnects, and returns what was
    /// still buffered or in flight. When this returns the streamer's demand is withdrawn.
    pub async fn close(self) -> Vec<Delivery> {
        let Streamer {
            requests,
            mut responses,
            closed,
            bugs,
            ..
        } = self;
        drop(requests);
        if bugs.has(Bug::B1DisconnectThenDrain) {
            let _ = closed.await;
            return drain::<R>(&mut responses).await;
        }
        let rest = drain::<R>(&mut responses).await;
        let _ = closed.await;
        rest
    }
}

async fn drain<R: Runtime>(responses: &mut R::Receiver<Delivery>) -> Vec<Delivery> {
    let mut rest = Vec::new();
    while let Some(delivery) = responses.recv().await {
        rest.push(delivery);
    }
    rest
}

impl<R: Runtime> fmt::Debug for Streamer<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Streamer").field("id", &self.id).finish()
    }
}

/// Where a streamer routine finds the tapper's demand inlet.
pub(crate) enum DemandInlet<R: Runtime> {
    /// Taken when the streamer was admitted.
    Taken(R::Sender<Demand<R>>),
    /// H1: looked up only once the routine runs; a streamer that finds it gone waits for it
    /// to come back, which it never does.
    Lazy(DemandSlot<R>),
}

/// The relay's demand inlet, until close gives it up.
pub(crate) type DemandSlot<R> =
    Arc<<R as Runtime>::Mutex<Option<<R as Runtime>::Sender<Demand<R>>>>>;

type Opened<R> =
    <R as Runtime>::OneshotSender<Result<<R as Runtime>::Receiver<Delivery>, RelayError>>;

/// A streamer's routine: its part in the tapper and the delta, from open-ack to withdrawal.
pub(crate) struct StreamerTask<R: Runtime> {
    pub(crate) place: Place<R>,
    pub(crate) keys: BTreeSet<ChannelKey>,
    pub(crate) demands: DemandInlet<R>,
    pub(crate) requests: R::Receiver<Request<R>>,
    pub(crate) opened: Opened<R>,
    pub(crate) closed: R::OneshotSender<()>,
}

/// What a streamer routine holds in the tapper and the delta.
pub(crate) struct Place<R: Runtime> {
    pub(crate) id: SubscriberId,
    pub(crate) config: StreamerConfig,
    pub(crate) demandable: Arc<Demandable>,
    pub(crate) delta: DeltaHandle<R>,
}

type Ctx<R> = Context<RelayError, R>;

impl<R: Runtime> StreamerTask<R> {
    pub(crate) async fn run(self, ctx: Ctx<R>) -> Result<(), Fault<RelayError>> {
        let StreamerTask {
            place,
            keys,
            demands,
            mut requests,
            opened,
            closed,
        } = self;
        let demands = match demands {
            DemandInlet::Taken(demands) => demands,
            DemandInlet::Lazy(slot) => match slot.lock().await.clone() {
                Some(demands) => demands,
                None => {
                    let returned = ctx.runtime().notify("relay:demands-returned");
                    returned.notified().await;
                    return Ok(());
                }
            },
        };
        match place.open(&demands, keys.clone()).await {
            Ok(responses) => {
                if opened.send(Ok(responses)).is_ok() {
                    place.serve(&ctx, &demands, &mut requests, keys).await;
                }
            }
            Err(e) => drop(opened.send(Err(e))),
        }
        place.leave(&demands).await;
        drop(closed);
        Ok(())
    }
}

impl<R: Runtime> Place<R> {
    async fn open(
        &self,
        demands: &R::Sender<Demand<R>>,
        keys: BTreeSet<ChannelKey>,
    ) -> Result<R::Receiver<Delivery>, RelayError> {
        self.demandable.check(&keys)?;
        demand(&self.delta, demands, self.id, keys.clone()).await?;
        let StreamerConfig {
            policy,
            capacity,
            exclude,
        } = self.config.clone();
        let connect = self
            .delta
            .connect_excluding(self.id, keys, policy, capacity, exclude);
        Ok(connect.await?)
    }

    /// Serves requests until the inlet closes or the relay cancels the streamer; `keys` are
    /// the streamer's keys in the delta.
    async fn serve(
        &self,
        ctx: &Ctx<R>,
        demands: &R::Sender<Demand<R>>,
        requests: &mut R::Receiver<Request<R>>,
        mut keys: BTreeSet<ChannelKey>,
    ) {
        while let Ok(Some(request)) = ctx.recv(requests).await {
            let Request::Update(wanted, reply) = request;
            let updated = self.update(demands, &keys, wanted.clone()).await;
            if updated.is_ok() {
                keys = wanted;
            }
            let _ = reply.send(updated);
        }
    }

    /// Make before break: the tapper feeds the old keys and the new until the delta has
    /// switched, so no frame of a key the delta still delivers is filtered out upstream
    /// (which would show as a silent hole in that key's sequence), and every frame of a new
    /// key written after the ack arrives.
    async fn update(
        &self,
        demands: &R::Sender<Demand<R>>,
        current: &BTreeSet<ChannelKey>,
        keys: BTreeSet<ChannelKey>,
    ) -> Result<(), RelayError> {
        self.demandable.check(&keys)?;
        let both = current.union(&keys).copied().collect();
        demand(&self.delta, demands, self.id, both).await?;
        if let Err(e) = self.delta.update(self.id, keys.clone()).await {
            let _ = demand(&self.delta, demands, self.id, current.clone()).await;
            return Err(e.into());
        }
        demand(&self.delta, demands, self.id, keys).await
    }

    /// Disconnects from the delta (served even while it waits on this outlet), then
    /// withdraws the demand.
    async fn leave(&self, demands: &R::Sender<Demand<R>>) {
        let _ = self.delta.disconnect(self.id).await;
        let _ = demand(&self.delta, demands, self.id, BTreeSet::new()).await;
    }
}

/// The channels streamers may demand: those of the relay, less those leased by other nodes
/// when the relay has no cluster to reach them through.
#[derive(Debug)]
pub(crate) struct Demandable {
    pub(crate) channels: Arc<BTreeSet<ChannelKey>>,
    pub(crate) unreachable: BTreeSet<ChannelKey>,
}

impl Demandable {
    /// Keys that name no channel of the relay, or one it cannot reach, as an error.
    pub(crate) fn check(&self, keys: &BTreeSet<ChannelKey>) -> Result<(), RelayError> {
        let unknown: Vec<ChannelKey> = keys.difference(&self.channels).copied().collect();
        if !unknown.is_empty() {
            return Err(RelayError::UnknownKeys(unknown));
        }
        let unreachable: Vec<ChannelKey> = keys.intersection(&self.unreachable).copied().collect();
        match unreachable.is_empty() {
            true => Ok(()),
            false => Err(RelayError::Unreachable(unreachable)),
        }
    }
}

/// Sends streamer `id`'s demand and waits until the tapper has applied it, and each peer
/// tap it involves has had it applied by its peer (or owned up to a gap). A tap gone without
/// answering was closed with the relay.
async fn demand<R: Runtime>(
    delta: &DeltaHandle<R>,
    demands: &R::Sender<Demand<R>>,
    id: SubscriberId,
    keys: BTreeSet<ChannelKey>,
) -> Result<(), RelayError> {
    let (applied, done) = delta.runtime().oneshot("tapper:applied");
    let demand = Demand {
        streamer: id,
        keys,
        applied,
    };
    demands.send(demand).await.map_err(|_| RelayError::Closed)?;
    let from_peers = done.await.map_err(|_| RelayError::Closed)?;
    for applied in from_peers {
        let _ = applied.await;
    }
    Ok(())
}
