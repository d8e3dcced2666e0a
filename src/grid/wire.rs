//! The grid's protocol between nodes, carried inside the net layer's `Message::Grid` on
//! connections set up by the cluster handshake. A connection carries one exchange: an
//! [`Ask`] and its [`Reply`]. A caller that gives up closes the connection, and the server
//! takes that as the cancel: a request still queued in the actor's mailbox is withdrawn
//! unprocessed, a taken one is abandoned.
//!
//! User messages travel as their own postcard encoding inside [`Ask::Call`], so the
//! server routes them by actor name without knowing their types; the actor's definition
//! decodes them.

use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::coordinator::Fence;
use super::mailbox::Busy;
use crate::net::Message;

/// What a node asks of another.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Ask {
    /// Start an actor of `kind` named `name` there.
    Start {
        /// The definition's kind.
        kind: String,
        /// The actor's cluster-unique name.
        name: String,
    },
    /// Deliver a message to an actor and answer.
    Call(Call),
}

/// A message for the actor `name`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Call {
    /// The actor.
    pub name: String,
    /// The message, encoded.
    pub body: Vec<u8>,
    /// What to do when its mailbox is full.
    pub busy: Busy,
    /// How long the server may take, from when it read the call.
    pub timeout: Duration,
    /// The leader's fence, for a leader's call: refused if stale.
    pub fence: Option<Fence>,
}

/// Why a start was refused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Refused {
    /// Another live actor holds the name; its node and fence.
    Taken {
        /// The holder's node.
        node: u16,
        /// The holder's fence.
        fence: Fence,
    },
    /// No definition of that kind on the node.
    UnknownKind,
    /// The node has no lease just now (cut off from the coordinator, or stopping).
    NoLease,
    /// The coordinator could not settle the claim; nothing is held.
    Unsettled,
}

/// Why a call got no answer from the actor, as the server saw it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Failure {
    /// No actor by that name runs on the node: not delivered.
    NoActor,
    /// The call's fence is older than the current leader's: refused, not delivered.
    Stale {
        /// The newest fence the node knows.
        newest: Fence,
    },
    /// The body does not decode as the actor's message: not delivered.
    Undecodable(String),
    /// The mailbox's own error; an application error is encoded in the actor's type.
    Mailbox(crate::grid::mailbox::RequestError<Vec<u8>>),
}

/// A server's answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Reply {
    /// The actor started; its fence.
    Started(Result<Fence, Refused>),
    /// The actor's answer, encoded, or why there is none.
    Answered(Result<Vec<u8>, Failure>),
}

/// One grid message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum GridMessage {
    /// A request.
    Ask(Ask),
    /// Its answer.
    Reply(Reply),
}

impl GridMessage {
    /// The net message carrying this one.
    pub fn wrap(&self) -> Message {
        Message::Grid(encode(self).expect("grid messages always encode"))
    }

    /// The grid message a net message carries, or why not.
    pub fn unwrap(message: Message) -> Result<Self, String> {
        match message {
            Message::Grid(body) => decode(&body),
            other => Err(format!("expected a grid message, got {other:?}")),
        }
    }
}

/// A value's wire encoding.
pub fn encode<T: Serialize>(value: &T) -> Result<Vec<u8>, String> {
    postcard::to_stdvec(value).map_err(|e| e.to_string())
}

/// A value from its wire encoding, which it must fill exactly: trailing bytes are refused.
pub fn decode<T: DeserializeOwned>(body: &[u8]) -> Result<T, String> {
    match postcard::take_from_bytes(body) {
        Ok((value, [])) => Ok(value),
        Ok((_, rest)) => Err(format!("{} bytes after the value", rest.len())),
        Err(e) => Err(e.to_string()),
    }
}
