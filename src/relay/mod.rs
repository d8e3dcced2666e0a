//! The relay: telemetry fan-out from writers to streamers.
//!
//! A [`Writer`] puts frames into the node's [`Storage`] (channels this node leases) or
//! straight into the [`Delta`] (free channels). The tapper turns streamers' demands into
//! taps: the gateway tap subscribes the delta to storage for the demanded keys. The delta
//! fans each frame out, as one shared pointer, to every [`Streamer`] whose keys it touches,
//! in the writer's own task: a frame written on this node takes one hop to its streamers.
//! Each subscriber's keys are held as runs of consecutive keys too (`keys`), so the fan-out
//! finds a streamer's series in a frame with a few comparisons and hands them over as a
//! slice; the subscribers' table keeps each one's key span packed beside it (`table`), so a
//! frame looks only at the streamers whose span meets its own.
//! A [`Relay`] runs all of this as routines of one signal group. Opened by
//! [`cluster::open`](crate::cluster::open), it also serves its channels to other nodes and
//! reaches theirs through peer taps, which the tapper starts through a hook
//! (`remote::StartTap`) without naming the network. A peer tap feeds what it receives into
//! the delta's inlet, with an [`Inflow::Gap`] marker when its connection broke or the peer
//! dropped frames, so each affected streamer's next [`Delivery`] says so
//! ([`Delivery::interrupted`]).
//!
//! # Avoiding deadlocks
//! Every channel of the relay, who waits on it, and why no wait-for cycle can form:
//!
//! | channel or lock | who waits, and when | who ends the wait |
//! |---|---|---|
//! | streamer requests | the streamer routine is busy with one request | streamer routine |
//! | `relay:demands` | the tapper applies another demand | tapper |
//! | tapper ack (oneshot) | never | streamer routine |
//! | `storage` (lock, held for no await) | never across an await | writer, tapper |
//! | `delta:fan-out` (the turn: a lock held across a wait for room) | a writer or the delta's task, while a fan-out before it waits for room | that fan-out, once its wait ends |
//! | `delta:subscribers` (lock, held for no await) | never across an await | fan-out, streamer routine |
//! | `delta:outlet:N` | the fan-out, while the streamer's owner is not reading (lossless; lossy waits at most its patience) | the owner, or the streamer's disconnect |
//! | `tap-N:wanted` (lock, held for no await) | never across an await | peer tap |
//! | peer tap ack (oneshot) | never | streamer routine |
//! | `relay:remote` from a peer tap | at most the tap's patience (20 ms) per stall: the frame is dropped, a gap owed, and frames find room or are dropped at once until the inlet takes one | delta |
//! | the peer connection | reads: never beyond the peers' silence; writes: one key set in flight, bounded by the silence | the peer's server / tap |
//!
//! Data flows one way: writer → storage (through the gateway tap's subscription) → the
//! delta's fan-out, in the writer's task → outlet → owner; from other nodes, peer tap →
//! `relay:remote` → the delta's task → outlet. Control flows owner → streamer routine →
//! tapper, and streamer routine → the delta's subscribers. A cycle would need
//! a data-path wait to depend on a control-path wait or back, and neither can:
//! - the tapper never waits on the data path: applying a demand only takes the storage lock,
//!   which no one holds across an await;
//! - a control request to the delta takes only its subscribers' lock, never the fan-out's,
//!   so it is served while a fan-out waits on a full outlet; a disconnect of that outlet's
//!   streamer ends the wait;
//! - the streamer routine is not on the data path at all: the fan-out fills the owner's
//!   outlet;
//! - closing a streamer drains its outlet while it disconnects ([`Streamer::close`]);
//! - the tapper hands key sets to peer taps through a cell and never waits on a tap; the
//!   streamer waits for the tap's acknowledgement, and the tap waits on the data path (the
//!   delta's inlet) at most its patience, so the acknowledgement comes even while the
//!   streamer's owner does not read;
//! - every wait on the network is bounded (handshake deadline, silence, write timeout) and
//!   gives way to a cancel, so closing a relay never waits for a peer.
//!
//! So every wait on the control path ends; the only wait that may last is a fan-out's wait
//! on a lossless outlet whose owner does not read — backpressure the owner chose, which
//! holds back writers but no control request, and no close: [`Relay::close`] force-closes
//! such a streamer at its deadline.

mod delivery;
mod delta;
mod error;
mod fan_out;
mod keys;
mod node;
pub mod reached;
pub(crate) mod remote;
mod storage;
mod streamer;
mod table;
mod tapper;
mod writer;

pub use self::delta::{Delivery, Delta, DeltaError, DeltaHandle, Inflow, Policy, SubscriberId};
pub use self::error::{CloseError, CloseReport, ConfigError, RelayError, WriteError};
pub(crate) use self::node::WeakRelay;
pub use self::node::{Relay, RelayConfig};
pub use self::storage::Storage;
pub use self::streamer::{Streamer, StreamerConfig};
pub use self::writer::Writer;
pub use crate::frame::{
    ChannelKey, Frame, FrameError, NodeId, Samples, Series, Wanted, WriterGroup,
};
