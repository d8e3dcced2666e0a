//! The two ends of a peer connection: [`Peers::dial`] connects to a node of the cluster map
//! and introduces itself; [`Peers::admit`] reads the caller's hello on an accepted stream and
//! welcomes or refuses it. Both give up after a deadline on the runtime's clock, so a silent peer
//! cannot hold either end.

use std::fmt;
use std::time::Duration;

use super::codec::WireError;
use super::handshake::{Credentials, Refusal};
use super::transport::{ClusterMap, Connection, Transport};
use super::wire::Message;
use crate::frame::NodeId;
use crate::rt::Runtime;

/// Why a peer connection could not be set up.
#[derive(Debug)]
pub enum PeerError {
    /// The cluster map has no address for the node.
    UnknownNode(NodeId),
    /// The connection failed or spoke nonsense.
    Wire(WireError),
    /// The other end refused us, or we refused it.
    Refused(Refusal),
    /// The other end said something other than the handshake's next step.
    Unexpected(&'static str),
    /// The other end closed the connection during the handshake.
    Closed,
    /// The handshake did not complete in time.
    TimedOut,
}

impl fmt::Display for PeerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PeerError::UnknownNode(node) => write!(f, "no address for node {}", node.0),
            PeerError::Wire(e) => write!(f, "{e}"),
            PeerError::Refused(why) => write!(f, "refused: {why}"),
            PeerError::Unexpected(what) => write!(f, "unexpected {what} during the handshake"),
            PeerError::Closed => f.write_str("closed during the handshake"),
            PeerError::TimedOut => f.write_str("the handshake timed out"),
        }
    }
}

impl std::error::Error for PeerError {}

impl From<WireError> for PeerError {
    fn from(error: WireError) -> Self {
        PeerError::Wire(error)
    }
}

/// Who this node is among its peers and how it reaches them.
#[derive(Debug, Clone)]
pub struct Peers<T> {
    /// The network.
    pub transport: T,
    /// Where every node listens.
    pub map: ClusterMap,
    /// The cluster's id and token.
    pub credentials: Credentials,
    /// This node.
    pub me: NodeId,
    /// The longest message accepted.
    pub max_message: usize,
    /// How long a handshake may take.
    pub handshake_deadline: Duration,
    /// When a connection has been quiet for `beat`, its end sends a `Beat`.
    pub beat: Duration,
    /// A connection that brought nothing for `silence` is taken for broken.
    pub silence: Duration,
    /// The first wait before redialling a lost peer; it doubles up to `max_backoff`, plus a
    /// seeded random jitter of up to half of it.
    pub backoff: Duration,
    /// The longest wait between two dials.
    pub max_backoff: Duration,
    /// Deliveries this node's peer server holds for one peer while the connection to it is
    /// full; beyond them, frames wait at most the cluster's patience and are then dropped
    /// for that peer, who is sent a gap marker.
    pub peer_buffer: usize,
}

impl<T: Transport> Peers<T> {
    /// Node `me` of the cluster `credentials` name, reaching the nodes of `map` over
    /// `transport`, with default limits: 16 MiB messages, a 1 s handshake, a beat every 100 ms,
    /// a link silent for 500 ms taken for broken, redials from 50 ms up to 1 s apart, 64
    /// deliveries held for a slow peer.
    pub fn new(transport: T, map: ClusterMap, credentials: Credentials, me: NodeId) -> Self {
        Peers {
            transport,
            map,
            credentials,
            me,
            max_message: 16 << 20,
            handshake_deadline: Duration::from_secs(1),
            beat: Duration::from_millis(100),
            silence: Duration::from_millis(500),
            backoff: Duration::from_millis(50),
            max_backoff: Duration::from_secs(1),
            peer_buffer: 64,
        }
    }
}

impl<T: Transport> Peers<T> {
    /// Connects to node `to`, says hello, and returns the connection once welcomed.
    pub async fn dial<R: Runtime>(
        &self,
        rt: &R,
        to: NodeId,
    ) -> Result<Connection<T::Stream>, PeerError> {
        let address = self.map.address(to).ok_or(PeerError::UnknownNode(to))?;
        let handshake = async {
            let stream = self
                .transport
                .connect(address)
                .await
                .map_err(WireError::Io)?;
            let mut connection = Connection::new(stream, self.max_message);
            let hello = Message::Hello(self.credentials.hello(self.me));
            connection.send(&hello).await?;
            match connection.recv().await? {
                Some(Message::Welcome(node)) if node == to => Ok(connection),
                Some(Message::Welcome(_)) => {
                    Err(PeerError::Unexpected("welcome from another node"))
                }
                Some(Message::Refused(why)) => Err(PeerError::Refused(why)),
                Some(_) => Err(PeerError::Unexpected("message before the welcome")),
                None => Err(PeerError::Closed),
            }
        };
        let done = rt.timeout(self.handshake_deadline, handshake).await;
        done.map_err(|_| PeerError::TimedOut)?
    }

    /// Reads the hello on an accepted stream: welcomes the caller and returns the
    /// connection and the caller's node, or tells it why not and returns the refusal.
    pub async fn admit<R: Runtime>(
        &self,
        rt: &R,
        stream: T::Stream,
    ) -> Result<(Connection<T::Stream>, NodeId), PeerError> {
        let mut connection = Connection::new(stream, self.max_message);
        let first = rt.timeout(self.handshake_deadline, connection.recv()).await;
        let first = first.map_err(|_| PeerError::TimedOut)?.inspect_err(|e| {
            tracing::warn!(error = %e, "a peer's hello did not decode");
        })?;
        let verdict = match first {
            Some(Message::Hello(hello)) => self.credentials.check(&hello).map(|()| hello.node),
            Some(_) => Err(Refusal::NoHello),
            None => return Err(PeerError::Closed),
        };
        let reply = match &verdict {
            Ok(_) => Message::Welcome(self.me),
            Err(why) => Message::Refused(why.clone()),
        };
        let answered = rt
            .timeout(self.handshake_deadline, connection.send(&reply))
            .await;
        answered.map_err(|_| PeerError::TimedOut)??;
        let node = verdict.map_err(|why| {
            tracing::warn!(refusal = %why, "refused a peer");
            PeerError::Refused(why)
        })?;
        Ok((connection, node))
    }
}
