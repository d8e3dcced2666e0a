//! Transports: how a node reaches its peers. A [`Transport`] connects to an address and
//! binds a listener; [`Tcp`] is tokio's TCP for production, and with the `rt-turmoil`
//! feature `TurmoilNet` is turmoil's simulated network. Node addresses come from a
//! [`ClusterMap`]. [`Connection`] speaks the wire protocol over any transport's stream.

use std::collections::BTreeMap;
use std::future::Future;
use std::io;

use bytes::BytesMut;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio_util::codec::Decoder;

use super::codec::{WireCodec, WireError};
use super::wire::{FrameOf, Message};
use crate::frame::NodeId;

/// Where each node of the cluster listens (`host:port`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClusterMap(BTreeMap<NodeId, String>);

impl ClusterMap {
    /// An empty map.
    pub fn new() -> Self {
        ClusterMap::default()
    }

    /// Records that `node` listens at `address`.
    pub fn with(mut self, node: NodeId, address: impl Into<String>) -> Self {
        self.0.insert(node, address.into());
        self
    }

    /// Where `node` listens.
    pub fn address(&self, node: NodeId) -> Option<&str> {
        self.0.get(&node).map(String::as_str)
    }

    /// Every node, in order.
    pub fn nodes(&self) -> impl Iterator<Item = NodeId> + '_ {
        self.0.keys().copied()
    }
}

/// A connection's byte stream, as every transport yields it.
pub trait Stream: AsyncRead + AsyncWrite + Unpin + Send + std::fmt::Debug + 'static {}

impl<S: AsyncRead + AsyncWrite + Unpin + Send + std::fmt::Debug + 'static> Stream for S {}

/// A byte-stream network.
pub trait Transport: Clone + Send + Sync + 'static {
    /// A connection's stream.
    type Stream: Stream;
    /// A bound listener.
    type Listener: Listener<Stream = Self::Stream>;

    /// Connects to `address`.
    fn connect(&self, address: &str) -> impl Future<Output = io::Result<Self::Stream>> + Send;

    /// Listens at `address`.
    fn bind(&self, address: &str) -> impl Future<Output = io::Result<Self::Listener>> + Send;
}

/// Accepts incoming connections.
pub trait Listener: Send + 'static {
    /// A connection's stream.
    type Stream: Stream;

    /// The next incoming connection and who made it.
    fn accept(&mut self) -> impl Future<Output = io::Result<(Self::Stream, String)>> + Send;

    /// The address it listens at.
    fn local_address(&self) -> io::Result<String>;
}

/// tokio's TCP.
#[derive(Debug, Clone, Copy, Default)]
pub struct Tcp;

impl Transport for Tcp {
    type Stream = tokio::net::TcpStream;
    type Listener = tokio::net::TcpListener;

    async fn connect(&self, address: &str) -> io::Result<Self::Stream> {
        let stream = tokio::net::TcpStream::connect(address).await?;
        stream.set_nodelay(true)?;
        Ok(stream)
    }

    async fn bind(&self, address: &str) -> io::Result<Self::Listener> {
        tokio::net::TcpListener::bind(address).await
    }
}

impl Listener for tokio::net::TcpListener {
    type Stream = tokio::net::TcpStream;

    async fn accept(&mut self) -> io::Result<(Self::Stream, String)> {
        let (stream, from) = tokio::net::TcpListener::accept(self).await?;
        stream.set_nodelay(true)?;
        Ok((stream, from.to_string()))
    }

    fn local_address(&self) -> io::Result<String> {
        Ok(self.local_addr()?.to_string())
    }
}

/// The wire protocol over a stream: whole messages in, whole messages out. The read buffer
/// holds at most one message of the codec's maximum size; the write buffer what was queued
/// since the last flush.
#[derive(Debug)]
pub struct Connection<S> {
    stream: S,
    codec: WireCodec,
    read: BytesMut,
    write: BytesMut,
}

impl<S: AsyncRead + AsyncWrite + Unpin> Connection<S> {
    /// Speaks the protocol on `stream`, refusing messages longer than `max` bytes.
    pub fn new(stream: S, max: usize) -> Self {
        Connection {
            stream,
            codec: WireCodec::new(max),
            read: BytesMut::new(),
            write: BytesMut::new(),
        }
    }

    /// The next message; `None` when the peer closed the connection between messages.
    pub async fn recv(&mut self) -> Result<Option<Message>, WireError> {
        loop {
            if let Some(message) = self.codec.decode(&mut self.read)? {
                return Ok(Some(message));
            }
            if self.stream.read_buf(&mut self.read).await? == 0 {
                return match self.read.is_empty() {
                    true => Ok(None),
                    false => Err(WireError::Io(io::ErrorKind::UnexpectedEof.into())),
                };
            }
        }
    }

    /// Sends `message` and flushes it, with whatever was queued before it.
    pub async fn send(&mut self, message: &Message) -> Result<(), WireError> {
        self.queue(message)?;
        self.flush().await
    }

    /// Queues `message` behind those queued before, to go out with the next flush. A
    /// message that cannot be encoded queues nothing.
    pub fn queue(&mut self, message: &Message) -> Result<(), WireError> {
        self.codec.encode_body(message, &mut self.write)
    }

    /// Queues a `Frame` message of borrowed series (see [`FrameOf`]).
    pub fn queue_frame(&mut self, frame: &FrameOf<'_>) -> Result<(), WireError> {
        self.codec.encode_body(frame, &mut self.write)
    }

    /// The bytes queued and not yet flushed.
    pub fn queued(&self) -> usize {
        self.write.len()
    }

    /// Writes every queued message, in as few writes as the stream takes, and flushes.
    pub async fn flush(&mut self) -> Result<(), WireError> {
        self.stream.write_all_buf(&mut self.write).await?;
        self.stream.flush().await?;
        Ok(())
    }
}
