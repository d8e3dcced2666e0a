//! The network layer of the relay across nodes: the wire protocol peers speak.
//!
//! Built so far: [`Message`]s, the [`WireCodec`] that frames them (tokio-util's
//! length-delimited codec, postcard inside) with a maximum message size, and the versioned
//! [`Hello`] handshake carrying cluster id, node id and a shared-secret token. A connection
//! that sends malformed, oversized or unauthenticated input gets a typed [`WireError`] or
//! [`Refusal`] and is closed; nothing panics, and no allocation is sized by a length the
//! peer wrote beyond the maximum message size.

mod codec;
mod handshake;
mod wire;

pub use self::codec::{WireCodec, WireError};
pub use self::handshake::{Credentials, Hello, Refusal, VERSION};
pub use self::wire::Message;
