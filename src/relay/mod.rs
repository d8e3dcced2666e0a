//! The relay: telemetry fan-out from writers to streamers.
//!
//! Built so far: [`Frame`]s (shared, one allocation per written frame) and the [`Delta`],
//! the dynamic fan-out with per-subscriber bounded outlets, lossless or lossy delivery with
//! counted misses, and control requests served even while a send is pending. The streamer,
//! tapper and taps build on these.

mod delta;
mod frame;

pub use self::delta::{Delivery, Delta, DeltaError, DeltaHandle, Policy, SubscriberId};
pub use self::frame::{ChannelKey, Frame, FrameError, NodeId, Samples, Series};
