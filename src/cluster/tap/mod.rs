//! Peer taps: how a node streams channels another node leases. The tapper keeps one peer tap
//! per leaseholder with demand; the tap dials that node's server, sends the demanded keys,
//! and feeds the frames it receives into this node's delta.
//!
//! The tapper and the tap share a cell: the tapper writes the wanted keys and the
//! acknowledgements waiting on them, and wakes the tap; it never waits on the tap. The tap
//! keeps at most one key set in flight: when the server answers `Applied`, it releases the
//! acknowledgements of that set — the cross-node open-ack — and sends the next set if the
//! wanted keys changed meanwhile.
//!
//! On a lost connection (an error, or nothing heard for the peers' `silence`) the tap
//! releases every acknowledgement (nothing can be applied while the peer is unreachable)
//! and owes its streamers a gap: before the next frame it forwards, a gap marker for all
//! its keys goes into the delta, so each affected streamer's next delivery says frames may be
//! missing. It then redials with exponential backoff and a jitter drawn from the runtime's
//! seeded RNG, and re-sends its keys.
//!
//! # Why a peer tap cannot deadlock its node
//! A streamer waiting for an acknowledgement may have stopped reading, so the delta may be
//! waiting on that streamer's outlet, and the tap on the delta's inlet. The tap therefore
//! waits at most [`PATIENCE`](super::PATIENCE) for room in the inlet; then it drops the frame, owes a gap,
//! and — stalled — drops every frame that finds no room at once until the inlet takes one,
//! so it keeps reading the connection and reaches the peer's `Applied` however many frames
//! queue before it.
//! Every other wait of the tap (dial, read, write, backoff) also serves its cell or is bounded
//! by the peers' deadlines, and every one gives way to a cancel: closing a tap never waits for
//! a network round trip.

use std::collections::BTreeSet;
use std::future::Future;
use std::pin::{pin, Pin};
use std::sync::Arc;
use std::time::Duration;

mod link;

use crate::frame::{ChannelKey, NodeId};
use crate::net::{Connection, PeerError, Peers, Transport};
use crate::relay::remote::{Ack, StartTap, TapCell, TapOrder};
use crate::relay::{Inflow, RelayError};
use crate::rt::prelude::*;
use crate::rt::{coverage, Rng};
use crate::signal::{Context, Fault, Group};

type Ctx<R> = Context<RelayError, R>;

impl<R: Runtime, T: Transport> StartTap<R> for Arc<Peers<T>> {
    fn start<'a>(
        &'a self,
        scope: &'a Group<RelayError, R>,
        name: String,
        order: TapOrder<R>,
    ) -> Pin<Box<dyn Future<Output = ()> + Send + 'a>> {
        let peers = self.clone();
        let tap = PeerTap::new(order);
        Box::pin(async move {
            let _ = scope.go(&name, move |ctx| tap.run(ctx, peers)).await;
        })
    }
}

/// A peer tap's state; [`PeerTap::run`] is its routine's body.
pub(super) struct PeerTap<R: Runtime> {
    node: NodeId,
    cell: Arc<TapCell<R>>,
    inlet: R::Sender<Inflow>,
    keys: Arc<BTreeSet<ChannelKey>>,
    applied: Option<Arc<BTreeSet<ChannelKey>>>,
    in_flight: Option<Vec<Ack<R>>>,
    owes_gap: bool,
    stalled: bool,
}

/// Why a connection ended.
enum Ended {
    Closed,
    Lost(String),
}

impl<R: Runtime> PeerTap<R> {
    fn new(order: TapOrder<R>) -> Self {
        let TapOrder { node, cell, inlet } = order;
        PeerTap {
            node,
            cell,
            inlet,
            keys: Arc::default(),
            applied: None,
            in_flight: None,
            owes_gap: false,
            stalled: false,
        }
    }

    async fn run<T: Transport>(
        mut self,
        ctx: Ctx<R>,
        peers: Arc<Peers<T>>,
    ) -> Result<(), Fault<RelayError>> {
        let mut rng = ctx.runtime().rng();
        let mut delay = peers.backoff;
        loop {
            let ended = match self.dial(&ctx, &peers).await {
                None => Ended::Closed,
                Some(Err(e)) => Ended::Lost(e.to_string()),
                Some(Ok(mut connection)) => {
                    tracing::debug!(peer = self.node.0, "peer tap connected");
                    let ended = self.stream(&ctx, &peers, &mut connection).await;
                    if matches!(ended, Ended::Lost(_)) {
                        coverage::reached(crate::cluster::TAP_CONNECTION_BROKE);
                    }
                    ended
                }
            };
            if let Ended::Lost(why) = ended {
                tracing::warn!(node = self.node.0, %why, "a peer tap lost its connection");
            } else {
                return Ok(());
            }
            if self.applied.is_some() {
                delay = peers.backoff;
            }
            if !self.lose().await {
                return Ok(());
            }
            let wait = jittered(&mut rng, delay);
            delay = (delay * 2).min(peers.max_backoff);
            if !self.idle(&ctx, wait).await {
                return Ok(());
            }
        }
    }

    /// Dials the peer; `None` once closed. What the tapper asks meanwhile waits for the
    /// connection, or is released if the dial fails: a dial is bounded by the handshake
    /// deadline.
    async fn dial<T: Transport>(
        &mut self,
        ctx: &Ctx<R>,
        peers: &Peers<T>,
    ) -> Option<Result<Connection<T::Stream>, PeerError>> {
        let (rt, cell) = (ctx.runtime().clone(), self.cell.clone());
        let mut dial = pin!(peers.dial(&rt, self.node));
        loop {
            crate::select! {
                () = ctx.cancelled() => return None,
                () = cell.wake.notified() => if cell.is_closed().await {
                    return None;
                },
                dialled = &mut dial => return Some(dialled),
            }
        }
    }

    /// Waits `wait` before the next dial, releasing what the tapper asks meanwhile; false
    /// once closed.
    async fn idle(&mut self, ctx: &Ctx<R>, wait: Duration) -> bool {
        let (rt, cell) = (ctx.runtime().clone(), self.cell.clone());
        let mut sleep = pin!(rt.sleep(wait));
        loop {
            crate::select! {
                () = ctx.cancelled() => return false,
                () = cell.wake.notified() => if !self.release_all().await {
                    return false;
                },
                () = &mut sleep => return true,
            }
        }
    }

    /// While the peer is unreachable nothing can be applied there: takes the wanted keys and
    /// answers every acknowledgement, owing a gap instead. False once closed.
    async fn release_all(&mut self) -> bool {
        let mut wanted = self.cell.wanted.lock().await;
        self.keys = Arc::new(wanted.keys.clone());
        let acks = std::mem::take(&mut wanted.acks);
        let closed = wanted.closed;
        drop(wanted);
        self.owes_gap = true;
        answer::<R>(acks);
        !closed
    }

    /// The connection is gone: whatever was in flight or waits is released and a gap is
    /// owed. False once closed.
    async fn lose(&mut self) -> bool {
        self.applied = None;
        answer::<R>(self.in_flight.take().into_iter().flatten());
        self.release_all().await
    }
}

/// Answers acknowledgements whose askers may have gone.
fn answer<R: Runtime>(acks: impl IntoIterator<Item = Ack<R>>) {
    for ack in acks {
        let _ = ack.send(());
    }
}

/// `delay` plus a random part of up to half of it.
fn jittered(rng: &mut Rng, delay: Duration) -> Duration {
    let half = delay.as_micros() as u64 / 2;
    delay + Duration::from_micros(rng.below(half + 1))
}
