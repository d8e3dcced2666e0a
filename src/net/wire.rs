//! The messages peers exchange. A gateway's peer tap opens a connection to the leaseholder's
//! server with a [`Hello`]; the server answers `Welcome` or `Refused`; then the tap sends its
//! key sets, each acknowledged by `Applied` once the server's streamer has them (the
//! cross-node open-ack), and the server streams frames, with an explicit `Gap` when it had
//! to drop some. A writer on another node opens its connection with a `Write` instead, and
//! every `Write` is answered by `Written` or `WriteRefused` before the next is sent. The
//! grid's requests travel inside [`Message::Grid`] on connections set up by the same
//! handshake.

use serde::ser::SerializeSeq;
use serde::{Deserialize, Serialize, Serializer};

use super::handshake::{Hello, Refusal};
use crate::frame::{ChannelKey, Frame, NodeId, Wanted, WriterGroup};

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

/// The index of [`Message::Frame`] among the variants, which postcard writes before it.
const FRAME_VARIANT: u32 = 5;

/// A [`Message::Frame`] of some series of a frame, encoded from the frame itself: the same
/// bytes as the message of a frame built of those series, without building it (a peer
/// server forwards deliveries so, copying no sample).
#[derive(Debug, Clone)]
pub struct FrameOf<'a> {
    /// The group of the writer that wrote the frame, if it had one.
    pub group: Option<WriterGroup>,
    /// The series to send, in key order.
    pub series: Wanted<'a>,
}

impl Serialize for FrameOf<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let frame = (self.group, SeriesOf(self.series.clone()));
        serializer.serialize_newtype_variant("Message", FRAME_VARIANT, "Frame", &frame)
    }
}

/// Series as the sequence a frame encodes them as.
struct SeriesOf<'a>(Wanted<'a>);

impl Serialize for SeriesOf<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut seq = serializer.serialize_seq(Some(self.0.clone().count()))?;
        for series in self.0.clone() {
            seq.serialize_element(series)?;
        }
        seq.end()
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;
    use crate::frame::{Samples, Series};

    /// A frame of channels 1..=4 of node 1, written by group 7.
    fn frame() -> Frame {
        let series = |n| Series {
            key: ChannelKey::leased(NodeId(1), n),
            timestamps: vec![i64::from(n), 10],
            samples: Samples::F64(vec![f64::from(n), 0.5]),
        };
        let frame = Frame::new((1..=4).map(series).collect()).expect("distinct keys");
        frame.with_group(Some(WriterGroup(7)))
    }

    #[test]
    fn a_frame_of_borrowed_series_encodes_as_the_frame_message() {
        let frame = frame();
        let keys: BTreeSet<ChannelKey> = [2, 4, 9].map(|n| ChannelKey::leased(NodeId(1), n)).into();
        let picked: Vec<Series> = frame.wanted(&keys).cloned().collect();
        let built = Frame::new(picked)
            .expect("a frame's series")
            .with_group(frame.group());
        let borrowed = FrameOf {
            group: frame.group(),
            series: frame.wanted(&keys),
        };
        let encoded = postcard::to_stdvec(&borrowed).expect("encodes");
        assert_eq!(
            encoded,
            postcard::to_stdvec(&Message::Frame(built.clone())).expect("encodes")
        );
        let decoded: Message = postcard::from_bytes(&encoded).expect("decodes");
        assert_eq!(decoded, Message::Frame(built));
    }
}
