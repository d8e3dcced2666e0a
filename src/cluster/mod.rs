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

mod node;
mod server;
mod tap;

use std::time::Duration;

pub use self::node::{open, serve};

/// How long a frame may wait for room on its way between nodes — in a server streamer's
/// outlet, or in the delta's inlet at the receiving tap — before it is dropped and a gap
/// owed.
pub const PATIENCE: Duration = Duration::from_millis(20);
