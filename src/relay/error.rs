//! What the relay's callers can get wrong or run into, as typed errors, and the report of a
//! close.

use std::fmt;

use super::delta::{DeltaError, SubscriberId};
use crate::frame::{ChannelKey, Frame, NodeId};
use crate::signal::RoutineError;

/// Why a streamer could not open or apply a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RelayError {
    /// The relay is closing or closed.
    Closed,
    /// These keys name no channel of the relay; nothing was changed.
    UnknownKeys(Vec<ChannelKey>),
    /// These channels are leased by other nodes, and the relay was opened on its own (not
    /// with `cluster::open`), so nothing could reach them; nothing was changed.
    Unreachable(Vec<ChannelKey>),
    /// The tapper stopped while these streamers still had demands (their taps were closed).
    DemandsLeft(Vec<SubscriberId>),
    /// The delta refused a request.
    Delta(DeltaError),
    /// The streamer's configuration cannot work; nothing was opened.
    Config(ConfigError),
}

/// A configuration a relay, a streamer or a cluster node cannot run with. Refused before
/// anything starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigError {
    /// `RelayConfig::write_capacity` is zero: the delta's inlet could hold no frame.
    ZeroWriteCapacity,
    /// `StreamerConfig::capacity` is zero: the streamer's outlet could hold no delivery.
    ZeroStreamerCapacity,
    /// A channel of the relay is leased by a node the cluster map has no address for, so no
    /// peer tap could reach it.
    UnmappedLeaseholder(ChannelKey),
    /// The peers' `silence` is not longer than their `beat`: a quiet link would be taken
    /// for broken before its next beat.
    SilenceWithinBeat,
    /// The peers' `max_message` is zero: no message fits.
    ZeroMaxMessage,
    /// The peers' `peer_buffer` is zero: a peer server could hold no delivery.
    ZeroPeerBuffer,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigError::ZeroWriteCapacity => f.write_str("the relay's write capacity is zero"),
            ConfigError::ZeroStreamerCapacity => f.write_str("the streamer's capacity is zero"),
            ConfigError::UnmappedLeaseholder(key) => write!(
                f,
                "channel {key} is leased by a node the cluster map has no address for"
            ),
            ConfigError::SilenceWithinBeat => {
                f.write_str("the peers' silence is not longer than their beat")
            }
            ConfigError::ZeroMaxMessage => f.write_str("the peers' maximum message is zero"),
            ConfigError::ZeroPeerBuffer => f.write_str("the peers' peer buffer is zero"),
        }
    }
}

impl std::error::Error for ConfigError {}

impl fmt::Display for RelayError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RelayError::Closed => f.write_str("the relay is closed"),
            RelayError::UnknownKeys(keys) => write!(f, "unknown channels: {}", list(keys)),
            RelayError::Unreachable(keys) => write!(
                f,
                "channels leased by other nodes, on a relay opened without a cluster: {}",
                list(keys)
            ),
            RelayError::DemandsLeft(ids) => {
                write!(f, "the tapper stopped with demands of streamers {ids:?}")
            }
            RelayError::Delta(e) => write!(f, "delta: {e}"),
            RelayError::Config(e) => write!(f, "invalid configuration: {e}"),
        }
    }
}

impl std::error::Error for RelayError {}

impl From<DeltaError> for RelayError {
    fn from(error: DeltaError) -> Self {
        match error {
            DeltaError::Stopped => RelayError::Closed,
            other => RelayError::Delta(other),
        }
    }
}

fn list(keys: &[ChannelKey]) -> String {
    let keys: Vec<String> = keys.iter().map(ChannelKey::to_string).collect();
    keys.join(", ")
}

/// Why a write was refused. A refused frame is handed back.
#[derive(Debug, Clone, PartialEq)]
pub enum WriteError {
    /// The frame has a series of a channel the relay does not know.
    UnknownChannel(ChannelKey, Frame),
    /// The frame has a series of a channel leased by another node.
    NotLeaseholder {
        /// The channel.
        key: ChannelKey,
        /// The node holding its lease.
        leaseholder: NodeId,
        /// The frame.
        frame: Frame,
    },
    /// The relay is closed (or closing): no channel can be written any more.
    Closed(Frame),
    /// The node leasing these channels could not be reached: nothing of the frame was
    /// written there.
    Unreachable {
        /// The leaseholder.
        leaseholder: NodeId,
        /// The frame.
        frame: Frame,
    },
    /// The frame was sent to its leaseholder, but no answer came in time: it may or may not
    /// have been written there. It is not sent again, so nothing is written twice.
    Unconfirmed {
        /// The leaseholder.
        leaseholder: NodeId,
        /// The frame.
        frame: Frame,
    },
}

impl WriteError {
    /// The refused frame.
    pub fn into_frame(self) -> Frame {
        match self {
            WriteError::UnknownChannel(_, frame)
            | WriteError::NotLeaseholder { frame, .. }
            | WriteError::Closed(frame)
            | WriteError::Unreachable { frame, .. }
            | WriteError::Unconfirmed { frame, .. } => frame,
        }
    }
}

impl fmt::Display for WriteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WriteError::UnknownChannel(key, _) => write!(f, "unknown channel {key}"),
            WriteError::NotLeaseholder {
                key, leaseholder, ..
            } => write!(f, "channel {key} is leased by node {}", leaseholder.0),
            WriteError::Closed(_) => f.write_str("the relay is closed"),
            WriteError::Unreachable { leaseholder, .. } => {
                write!(f, "leaseholder node {} is unreachable", leaseholder.0)
            }
            WriteError::Unconfirmed { leaseholder, .. } => write!(
                f,
                "leaseholder node {} did not confirm the write: it may have been written",
                leaseholder.0
            ),
        }
    }
}

impl std::error::Error for WriteError {}

/// Why [`Relay::close`](super::Relay::close) could not close cleanly.
#[derive(Debug)]
pub enum CloseError {
    /// The relay was already closed, or is being closed by another caller.
    AlreadyClosed,
    /// A routine of the relay failed or panicked; every routine has ended nonetheless.
    Failed(RoutineError<RelayError>),
}

impl fmt::Display for CloseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CloseError::AlreadyClosed => f.write_str("the relay is already closed"),
            CloseError::Failed(e) => write!(f, "a relay routine failed: {e}"),
        }
    }
}

impl std::error::Error for CloseError {}

/// What a close did.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[must_use = "a close report lists the streamers that had to be force-closed"]
pub struct CloseReport {
    /// Streamers still open at the deadline, force-closed by the relay (their paths).
    pub forced: Vec<String>,
}

impl CloseReport {
    /// Whether every streamer had been closed by its owner in time.
    pub fn is_clean(&self) -> bool {
        self.forced.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::{Samples, Series};

    fn keys() -> Vec<ChannelKey> {
        vec![ChannelKey::leased(NodeId(2), 7), ChannelKey::free(9)]
    }

    fn frame() -> Frame {
        let series = Series {
            key: keys()[0],
            timestamps: vec![0],
            samples: Samples::I64(vec![0]),
        };
        Frame::new(vec![series]).expect("one key")
    }

    /// Every message names what the caller needs to act on: the channels, the node, the
    /// nested cause.
    #[test]
    fn messages_name_their_details() {
        let config = ConfigError::UnmappedLeaseholder(keys()[0]);
        let messages = [
            (config.to_string(), "channel 2:7 is leased by a node"),
            (
                ConfigError::ZeroPeerBuffer.to_string(),
                "peer buffer is zero",
            ),
            (
                RelayError::UnknownKeys(keys()).to_string(),
                "unknown channels: 2:7, free:9",
            ),
            (
                RelayError::Unreachable(keys()).to_string(),
                "without a cluster: 2:7, free:9",
            ),
            (
                RelayError::DemandsLeft(vec![3]).to_string(),
                "streamers [3]",
            ),
            (
                RelayError::Config(config).to_string(),
                "invalid configuration: channel 2:7",
            ),
            (
                RelayError::from(DeltaError::NotConnected(4)).to_string(),
                "delta: subscriber 4 is not connected",
            ),
            (
                WriteError::UnknownChannel(keys()[1], frame()).to_string(),
                "unknown channel free:9",
            ),
            (
                WriteError::NotLeaseholder {
                    key: keys()[0],
                    leaseholder: NodeId(2),
                    frame: frame(),
                }
                .to_string(),
                "channel 2:7 is leased by node 2",
            ),
            (
                WriteError::Unconfirmed {
                    leaseholder: NodeId(2),
                    frame: frame(),
                }
                .to_string(),
                "node 2 did not confirm the write: it may have been written",
            ),
            (CloseError::AlreadyClosed.to_string(), "already closed"),
        ];
        for (message, names) in messages {
            assert!(message.contains(names), "{message:?} lacks {names:?}");
        }
    }

    #[test]
    fn a_close_that_forced_a_streamer_is_not_clean() {
        assert!(CloseReport::default().is_clean());
        let forced = CloseReport {
            forced: vec!["relay/streamers/s-0".into()],
        };
        assert!(!forced.is_clean());
    }

    #[test]
    fn a_stopped_delta_means_a_closed_relay() {
        assert_eq!(RelayError::from(DeltaError::Stopped), RelayError::Closed);
    }
}
