//! What a caller of the grid may assume when a start or a request fails.
//!
//! Every request error says whether the message was not delivered (safe to send again),
//! may have been delivered (only an idempotent message may be sent again), or was answered
//! by the actor with an application error (never retried: the actor processed it). The Go
//! grid retried all three alike.

use std::fmt;

use super::coordinator::{CoordError, Fence};
use super::mailbox::RequestError;
use crate::frame::NodeId;
use crate::patterns::retry::{Classify, Delivery};

/// Why a request got no answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GridError<E> {
    /// No actor holds the name: not delivered.
    NoActor,
    /// The holder's node could not be reached, or the call could not be written: not
    /// delivered.
    Unreachable(NodeId),
    /// The connection broke, or the answer did not come in time, after the call was sent:
    /// maybe delivered.
    Lost(NodeId),
    /// A fenced call whose fence is older than the current leader's: refused, not
    /// delivered.
    Stale {
        /// The newest fence the actor's node knows.
        newest: Fence,
    },
    /// The message did not encode, or the actor's node could not decode it: not delivered.
    Undecodable(String),
    /// The answer did not decode: it was processed.
    BadAnswer(String),
    /// The coordinator could not say who holds the name: not delivered.
    Coordinator(CoordError),
    /// The actor's mailbox said so (busy, timed out, broken promise, or the actor's own
    /// application error).
    Mailbox(RequestError<E>),
}

impl<E> Classify for GridError<E> {
    fn delivery(&self) -> Delivery {
        match self {
            Self::NoActor
            | Self::Unreachable(_)
            | Self::Stale { .. }
            | Self::Undecodable(_)
            | Self::Coordinator(_) => Delivery::NotDelivered,
            Self::Lost(_) => Delivery::MaybeDelivered,
            Self::BadAnswer(_) => Delivery::Application,
            Self::Mailbox(error) => error.delivery(),
        }
    }
}

/// Why an actor could not be started.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StartError {
    /// A live actor holds the name, on this node with this fence.
    Taken {
        /// The holder's node.
        node: NodeId,
        /// The holder's fence.
        fence: Fence,
    },
    /// The node defines no actor of that kind.
    UnknownKind(String),
    /// The node holds no lease just now: nothing was started.
    NoLease(NodeId),
    /// The coordinator could not settle the claim: nothing was started.
    Unsettled(NodeId),
    /// The node could not be reached: nothing was started.
    Unreachable(NodeId),
    /// The connection broke after the start was sent: the actor may be running.
    Lost(NodeId),
}

impl<E: fmt::Debug> fmt::Display for GridError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NoActor => f.write_str("no actor holds the name: not delivered"),
            Self::Unreachable(node) => write!(f, "node {} is unreachable: not delivered", node.0),
            Self::Lost(node) => write!(
                f,
                "the exchange with node {} broke after the call was sent: maybe delivered",
                node.0
            ),
            Self::Stale { newest } => write!(
                f,
                "refused: a stale fence, the newest is {}: not delivered",
                newest.0
            ),
            Self::Undecodable(why) => write!(f, "the message does not encode or decode: {why}"),
            Self::BadAnswer(why) => write!(f, "the answer does not decode: {why}"),
            Self::Coordinator(error) => write!(f, "looking the name up: {error}"),
            Self::Mailbox(error) => write!(f, "{error}"),
        }
    }
}

impl<E: fmt::Debug> std::error::Error for GridError<E> {}

impl fmt::Display for StartError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Taken { node, fence } => write!(
                f,
                "the name is held by a live actor on node {} (fence {})",
                node.0, fence.0
            ),
            Self::UnknownKind(kind) => write!(f, "no actor kind {kind} is defined there"),
            Self::NoLease(node) => write!(f, "node {} holds no lease just now", node.0),
            Self::Unsettled(node) => {
                write!(
                    f,
                    "node {} could not settle the claim; nothing started",
                    node.0
                )
            }
            Self::Unreachable(node) => write!(f, "node {} is unreachable; nothing started", node.0),
            Self::Lost(node) => write!(
                f,
                "the start on node {} was sent but its answer was lost: it may be running",
                node.0
            ),
        }
    }
}

impl std::error::Error for StartError {}
