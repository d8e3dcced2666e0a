//! The peer server: how a node streams its channels to the peer taps of other nodes. For
//! each connection the listener accepts, a routine admits the caller (the handshake), opens
//! a streamer with no keys on this node's relay, and then serves both directions: a `Keys`
//! message updates the streamer and is answered by `Applied` only once the update is
//! acknowledged (so the open-ack barrier holds across nodes), and each delivery goes out as
//! a `Frame` of the peer's keys, after a `Gap` when frames were dropped. A delivery is
//! encoded from the shared frame, copying no sample, and the deliveries already waiting
//! behind it go out in the same write.
//!
//! Server streamers are lossy with a patience: a slow or dead peer misses frames (and is
//! told how many) instead of holding back the node's writers — the original's B3.
//!
//! A server never waits on the network while the relay waits on it: the delta only offers
//! frames to the server's outlet, and closing the relay cancels the servers first, each of
//! which closes its streamer on its way out.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use super::intake::take_writes;
use super::{flush, send, PATIENCE};
use crate::bugs::Bug;
use crate::net::{Connection, FrameOf, Listener, Message, Peers, Stream, Transport};
use crate::relay::{Delivery, Policy, Relay, RelayError, Streamer, StreamerConfig, WeakRelay};
use crate::rt::coverage;
use crate::rt::prelude::*;
use crate::signal::{Context, Fault};

type Ctx<R> = Context<RelayError, R>;

/// The listener's state: the relay served and how peers are admitted.
pub(crate) struct Server<R: Runtime, T> {
    relay: WeakRelay<R>,
    peers: Arc<Peers<T>>,
}

impl<R: Runtime, T: Transport> Server<R, T> {
    pub(crate) fn new(relay: WeakRelay<R>, peers: Peers<T>) -> Self {
        let peers = Arc::new(peers);
        Server { relay, peers }
    }

    /// Accepts connections until cancelled; each is served by a routine of its own.
    pub(crate) async fn listen(
        self,
        ctx: Ctx<R>,
        mut listener: T::Listener,
    ) -> Result<(), Fault<RelayError>> {
        let mut next = 0u64;
        loop {
            let accepted = crate::select! {
                () = ctx.cancelled() => return Ok(()),
                accepted = listener.accept() => accepted,
            };
            let (stream, from) = match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    tracing::warn!(error = %e, "accepting a peer failed");
                    continue;
                }
            };
            next += 1;
            let (relay, peers) = (self.relay.clone(), self.peers.clone());
            let name = format!("peer-{next}");
            let serve = move |ctx| serve(ctx, relay, peers, stream, from);
            let started = ctx.scope().go(&name, serve).await;
            started.map_err(|_| Fault::Cancelled)?;
        }
    }
}

/// Serves one connection until the peer leaves, the connection fails or the relay closes.
async fn serve<R: Runtime, T: Transport>(
    ctx: Ctx<R>,
    relay: WeakRelay<R>,
    peers: Arc<Peers<T>>,
    stream: T::Stream,
    from: String,
) -> Result<(), Fault<RelayError>> {
    let admitted = crate::select! {
        () = ctx.cancelled() => return Ok(()),
        admitted = peers.admit(ctx.runtime(), stream) => admitted,
    };
    let Ok((mut connection, node)) = admitted else {
        return Ok(());
    };
    let Some(relay) = relay.upgrade() else {
        return Ok(());
    };
    let peers = match relay.bugs().has(Bug::B3DeadPeerStaysConnected) {
        true => Arc::new(deaf(&peers)),
        false => peers,
    };
    let first = crate::select! {
        () = ctx.cancelled() => return Ok(()),
        first = ctx.runtime().timeout(peers.silence, connection.recv()) => first,
    };
    let ended = match first {
        Ok(Ok(Some(Message::Write(frame)))) => {
            tracing::debug!(peer = node.0, "serving a peer's writer");
            let writer = relay.writer();
            drop(relay);
            take_writes(&ctx, &peers, &mut connection, writer, frame).await
        }
        Ok(Ok(Some(first))) => {
            tracing::debug!(peer = node.0, "serving a peer tap");
            tap(&ctx, relay, &peers, &mut connection, first).await
        }
        Ok(Ok(None)) => Ok(()),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err("the peer said nothing after the handshake".into()),
    };
    if let Err(why) = ended {
        tracing::warn!(peer = node.0, %from, error = %why, "a peer connection ended");
    }
    Ok(())
}

/// Serves a peer tap whose first message was `first`: a streamer of this relay, updated to
/// the tap's keys, whose deliveries go out until one side ends.
async fn tap<R: Runtime, T, S: Stream>(
    ctx: &Ctx<R>,
    relay: Relay<R>,
    peers: &Peers<T>,
    connection: &mut Connection<S>,
    first: Message,
) -> Result<(), String> {
    let config = StreamerConfig {
        policy: Policy::Lossy { patience: PATIENCE },
        capacity: peers.peer_buffer,
        ..StreamerConfig::default()
    };
    let opened = relay.new_streamer(BTreeSet::new(), config).await;
    drop(relay);
    let Ok(mut streamer) = opened else {
        return Ok(());
    };
    let mut ended = take(ctx, peers, connection, &mut streamer, Some(first)).await;
    if let Ok(Some(_)) = ended {
        ended = exchange(ctx, peers, connection, &mut streamer)
            .await
            .map(|()| None);
    }
    drop(streamer.close().await);
    ended.map(drop)
}

/// B3: limits under which a silent peer is never taken for gone and a write never times out.
fn deaf<T: Transport>(peers: &Peers<T>) -> Peers<T> {
    let year = Duration::from_secs(365 * 86_400);
    Peers {
        silence: year,
        ..peers.clone()
    }
}

/// Relays key updates in and frames out until one side ends, with a beat when it has been
/// quiet and silence taken for a lost link. Every wait — on the peer, on the streamer, on a
/// write the peer does not read — gives way to a cancel, so closing the relay never waits
/// for the network.
async fn exchange<R: Runtime, T, S: Stream>(
    ctx: &Ctx<R>,
    peers: &Peers<T>,
    connection: &mut Connection<S>,
    streamer: &mut Streamer<R>,
) -> Result<(), String> {
    let rt = ctx.runtime().clone();
    let (mut heard, mut said) = (rt.now(), rt.now());
    loop {
        let (beat_at, silent_at) = (said + peers.beat, heard + peers.silence);
        let sent = crate::select! {
            () = ctx.cancelled() => return Ok(()),
            message = connection.recv() => {
                heard = rt.now();
                let message = message.map_err(|e| e.to_string())?;
                match take(ctx, peers, connection, streamer, message).await? {
                    Some(sent) => sent,
                    None => return Ok(()),
                }
            },
            delivery = streamer.recv() => match delivery {
                Some(delivery) => forward(ctx, peers, connection, streamer, &delivery).await?,
                None => return Ok(()),
            },
            () = rt.sleep_until(beat_at) => send(ctx, peers, connection, &Message::Beat).await?,
            () = rt.sleep_until(silent_at) => return Err("the peer fell silent".into()),
        };
        if sent {
            said = rt.now();
        }
    }
}

/// Acts on one message of a tap (`None`: the tap closed the connection). `Ok(None)` once
/// the tap has left, else whether something was sent.
async fn take<R: Runtime, T, S: Stream>(
    ctx: &Ctx<R>,
    peers: &Peers<T>,
    connection: &mut Connection<S>,
    streamer: &mut Streamer<R>,
    message: Option<Message>,
) -> Result<Option<bool>, String> {
    match message {
        Some(Message::Keys(keys)) => {
            if let Some(key) = keys.iter().find(|k| k.leaseholder() != Some(peers.me)) {
                return Err(format!(
                    "asked for channel {key}, which this node does not lease"
                ));
            }
            let keys = keys.into_iter().collect();
            streamer.update(keys).await.map_err(|e| e.to_string())?;
            send(ctx, peers, connection, &Message::Applied)
                .await
                .map(Some)
        }
        Some(Message::Beat) => Ok(Some(false)),
        Some(_) => Err("a message a tap does not send".into()),
        None => Ok(None),
    }
}

/// Sends `delivery` and the deliveries already waiting behind it, up to [`COALESCED`]
/// bytes, in one write.
async fn forward<R: Runtime, T, S: Stream>(
    ctx: &Ctx<R>,
    peers: &Peers<T>,
    connection: &mut Connection<S>,
    streamer: &mut Streamer<R>,
    delivery: &Delivery,
) -> Result<bool, String> {
    queue(connection, delivery)?;
    while connection.queued() < COALESCED {
        match streamer.try_recv() {
            Some(delivery) => queue(connection, &delivery)?,
            None => break,
        }
    }
    flush(ctx, peers, connection).await
}

/// How many bytes of deliveries a server gathers into one write when they queue up.
const COALESCED: usize = 64 * 1024;

/// Queues a delivery's series (only the peer's keys), encoded from the shared frame, after
/// a gap marker if frames were missed.
fn queue<S: Stream>(connection: &mut Connection<S>, delivery: &Delivery) -> Result<(), String> {
    if delivery.follows_gap() {
        coverage::reached(super::SERVER_FORWARDED_GAP);
        let gap = Message::Gap(delivery.missed());
        connection.queue(&gap).map_err(|e| e.to_string())?;
    }
    let frame = FrameOf {
        group: delivery.group(),
        series: delivery.series(),
    };
    connection.queue_frame(&frame).map_err(|e| e.to_string())
}
