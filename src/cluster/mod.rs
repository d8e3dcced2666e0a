//! The relay across nodes: a [`Relay`] that serves its channels to the peers of its cluster
//! and reaches the channels they lease.
//!
//! [`open`] starts a relay whose tapper reaches other nodes' channels through peer taps, one
//! per leaseholder with demand, dialled with [`Peers`]; [`serve`] runs the peer server, which
//! streams this node's channels to the peer taps of other nodes over the [`crate::net`]
//! wire. A peer tap feeds what it receives into the delta's inlet, with a gap marker when its
//! connection broke or the peer dropped frames, so each affected streamer's next delivery
//! says so ([`Delivery::interrupted`](crate::relay::Delivery::interrupted)).
//!
//! This layer sits above both the relay of one node and the network: the relay knows peer
//! taps only through the tapper's `StartTap` hook, and the network knows nothing of relays.
//!
//! # Why the cluster cannot deadlock a node
//! Server streamers and peer taps are lossy with [`PATIENCE`]: a slow peer misses frames
//! (and is told how many) instead of holding back the node's writers, and a tap whose
//! delta inlet is full drops frames and owes a gap instead of stopping to read its
//! connection, so it always reaches the peer's acknowledgement. Every wait on the network
//! is bounded (handshake deadline, silence, write timeout) and gives way to a cancel, so
//! closing a relay never waits for a peer.

mod intake;
mod node;
mod server;
mod tap;
mod writer;

use std::time::Duration;

use crate::net::{Connection, Message, Peers, Stream};
use crate::relay::RelayError;
use crate::rt::prelude::*;
use crate::signal::Context;

pub use self::node::{open, serve};
pub use self::writer::Writer;

/// A peer server forwarded a gap marker: its streamer missed frames a slow peer could not
/// take (a hard state, see [`coverage`](crate::rt::coverage)).
pub const SERVER_FORWARDED_GAP: &str =
    "cluster: a peer server forwarded a gap marker for frames its slow peer missed";

/// A peer tap's connection broke while it streamed; it then owes its streamers a gap and
/// redials (a hard state).
pub const TAP_CONNECTION_BROKE: &str = "cluster: a peer tap's connection broke while it streamed";

/// A peer tap dropped a frame its node's delta had no room for (a hard state).
pub const TAP_DROPPED_FRAME: &str =
    "cluster: a peer tap dropped a frame its node's delta had no room for";

/// How long a frame may wait for room on its way between nodes — in a server streamer's
/// outlet, or in the delta's inlet at the receiving tap — before it is dropped and a gap
/// owed.
pub const PATIENCE: Duration = Duration::from_millis(20);

/// Sends `message`, behind whatever was queued, as [`flush`] does. True once sent.
async fn send<R: Runtime, T, S: Stream>(
    ctx: &Context<RelayError, R>,
    peers: &Peers<T>,
    connection: &mut Connection<S>,
    message: &Message,
) -> Result<bool, String> {
    connection.queue(message).map_err(|e| e.to_string())?;
    flush(ctx, peers, connection).await
}

/// Writes what is queued on `connection` unless the routine is cancelled first (the
/// connection is then dropped, so a half-written message does not matter); a write that
/// takes longer than the peers' silence is taken for a lost link. True once written.
async fn flush<R: Runtime, T, S: Stream>(
    ctx: &Context<RelayError, R>,
    peers: &Peers<T>,
    connection: &mut Connection<S>,
) -> Result<bool, String> {
    let write = ctx.runtime().timeout(peers.silence, connection.flush());
    crate::select! {
        () = ctx.cancelled() => Err("cancelled while writing to the peer".into()),
        sent = write => match sent {
            Ok(sent) => sent.map(|()| true).map_err(|e| e.to_string()),
            Err(_) => Err("a write to the peer timed out".into()),
        },
    }
}
