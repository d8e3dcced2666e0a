//! The network layer of the relay across nodes: the wire protocol peers speak.
//!
//! [`Message`]s, the [`WireCodec`] that frames them (tokio-util's
//! length-delimited codec, postcard inside) with a maximum message size, the versioned
//! [`Hello`] handshake carrying cluster id, node id and a shared-secret token, the
//! [`Transport`]s (tokio TCP, turmoil's network, and [`MemoryNet`], in-memory pipes with
//! bounded buffers that run under every backend) with a [`ClusterMap`] of node addresses,
//! and [`Peers`], whose `dial` and `admit` are the two ends of an authenticated
//! [`Connection`], with the cluster's liveness settings (beat, silence, redial backoff). The
//! peer server and peer taps of [`crate::cluster`] and the grid speak this protocol. A connection
//! that sends malformed, oversized or unauthenticated input gets a typed [`WireError`] or
//! [`Refusal`] and is closed; nothing panics, and no allocation is sized by a length the
//! peer wrote beyond the maximum message size.

mod codec;
mod handshake;
mod memory;
mod peer;
mod transport;
#[cfg(feature = "rt-turmoil")]
mod turmoil;
mod wire;

pub use self::codec::{WireCodec, WireError};
pub use self::handshake::{Credentials, Hello, Refusal, VERSION};
pub use self::memory::{
    Chaos, ChaosError, Fault, Injected, MemoryListener, MemoryNet, MemoryStream,
};
pub use self::peer::{PeerError, Peers};
pub use self::transport::{ClusterMap, Connection, Listener, Stream, Tcp, Transport};
#[cfg(feature = "rt-turmoil")]
pub use self::turmoil::TurmoilNet;
pub use self::wire::{FrameOf, Message, WriteRefusal};
