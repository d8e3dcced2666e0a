//! The messages peers exchange. A gateway's peer tap opens a connection to the leaseholder's
//! server with a [`Hello`]; the server answers `Welcome` or `Refused`; then the tap sends its
//! key sets, each acknowledged by `Applied` once the server's streamer has them (the
//! cross-node open-ack), and the server streams frames, with an explicit `Gap` when it had
//! to drop some. A writer on another node opens its connection with a `Write` instead, and
//! every `Write` is answered by `Written` or `WriteRefused` before the next is sent. The
//! grid's requests travel inside [`Message::Grid`] on connections set up by the same
//! handshake.

use serde::{Deserialize, Serialize};

use super::handshake::{Hello, Refusal};
use crate::frame::{ChannelKey, Frame, NodeId};

/// One message of the wire protocol.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Message {
    /// Opens a connection: who is calling, and its credentials.
    Hello(Hello),
    /// The server accepts; it is this node.
    Welcome(NodeId),
    /// The server refuses, and says why; it closes the connection next.
    Refused(Refusal),
    /// The tap's whole key set (replaces the previous one).
    Keys(Vec<ChannelKey>),
    /// The server applied the last key set: frames written from now on are forwarded.
    Applied,
    /// A frame of demanded channels.
    Frame(Frame),
    /// Frames the server dropped for this tap since the previous message; 0 when the number
    /// is unknown (frames were lost before they reached the server).
    Gap(u64),
    /// Nothing to say, but still here.
    Beat,
    /// A message of the grid's protocol (`crate::grid`), encoded by the grid: this layer
    /// carries it within the same size limit and authentication, without reading it.
    Grid(Vec<u8>),
    /// A frame a writer of the calling node wrote to channels the server's node leases.
    Write(Frame),
    /// The server's relay took the last `Write`.
    Written,
    /// The server refused the last `Write`; nothing of it was written.
    WriteRefused(WriteRefusal),
}

/// Why a leaseholder refused a frame written to it from another node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum WriteRefusal {
    /// The leaseholder does not know this channel.
    UnknownChannel(ChannelKey),
    /// The node does not lease this channel.
    NotLeaseholder(ChannelKey),
    /// The leaseholder's relay is closed.
    Closed,
}
