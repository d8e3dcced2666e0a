//! Writes to a peer are coalesced: while the peer server waits on a write the peer does not
//! take, the deliveries that queue up behind it go out together in one write once the link
//! moves again, in order and complete. The server's side of the link is a gated stream that
//! refuses writes until the test opens it and counts the writes it takes. The same body runs
//! on tokio TCP, turmoil and the in-memory network under shuttle.

use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use sigrelay::check::TurmoilCheck;
use sigrelay::net::{Listener, Message, Tcp, Transport, TurmoilNet};
use sigrelay::relay::{ChannelKey, Frame, Relay, RelayConfig, Samples, Series};
use sigrelay::rt::prelude::*;
use sigrelay::rt::Tokio;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use super::cluster::{on_shuttle, on_tokio, on_turmoil, peers, port, CLUSTER, SERVER};
use sigrelay::relay::NodeId;

/// Frames written while the server's write waits: fewer than a server holds for a peer.
const QUEUED: i64 = 32;

/// Holds the accepted streams' writes while closed, and counts the writes taken.
#[derive(Debug, Default)]
struct Gate(Mutex<GateState>);

#[derive(Debug, Default)]
struct GateState {
    closed: bool,
    held: bool,
    writes: usize,
    waiting: Option<Waker>,
}

impl Gate {
    fn state(&self) -> std::sync::MutexGuard<'_, GateState> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn close(&self) {
        self.state().closed = true;
    }

    fn open(&self) {
        let waiting = {
            let mut state = self.state();
            state.closed = false;
            state.waiting.take()
        };
        waiting.into_iter().for_each(Waker::wake);
    }

    /// Whether a write waits at the closed gate.
    fn holds_a_write(&self) -> bool {
        self.state().held
    }

    fn writes(&self) -> usize {
        self.state().writes
    }
}

/// `T` whose accepted streams pass their writes through one gate.
#[derive(Clone)]
struct Gated<T> {
    inner: T,
    gate: Arc<Gate>,
}

#[derive(Debug)]
struct GatedStream<S> {
    inner: S,
    gate: Arc<Gate>,
}

struct GatedListener<L> {
    inner: L,
    gate: Arc<Gate>,
}

impl<T: Transport> Transport for Gated<T> {
    type Stream = GatedStream<T::Stream>;
    type Listener = GatedListener<T::Listener>;

    async fn connect(&self, address: &str) -> io::Result<Self::Stream> {
        let inner = self.inner.connect(address).await?;
        let gate = Arc::new(Gate::default());
        Ok(GatedStream { inner, gate })
    }

    async fn bind(&self, address: &str) -> io::Result<Self::Listener> {
        let inner = self.inner.bind(address).await?;
        let gate = self.gate.clone();
        Ok(GatedListener { inner, gate })
    }
}

impl<L: Listener> Listener for GatedListener<L> {
    type Stream = GatedStream<L::Stream>;

    async fn accept(&mut self) -> io::Result<(Self::Stream, String)> {
        let (inner, from) = self.inner.accept().await?;
        let gate = self.gate.clone();
        Ok((GatedStream { inner, gate }, from))
    }

    fn local_address(&self) -> io::Result<String> {
        self.inner.local_address()
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for GatedStream<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for GatedStream<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        {
            let mut state = self.gate.state();
            state.held = state.closed;
            if state.closed {
                state.waiting = Some(cx.waker().clone());
                return Poll::Pending;
            }
        }
        let written = Pin::new(&mut self.inner).poll_write(cx, buf);
        if let Poll::Ready(Ok(n)) = written {
            self.gate.state().writes += usize::from(n > 0);
        }
        written
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

fn key() -> ChannelKey {
    ChannelKey::leased(SERVER, 1)
}

fn frame(value: i64) -> Frame {
    let series = Series {
        key: key(),
        timestamps: vec![value],
        samples: Samples::I64(vec![value]),
    };
    Frame::new(vec![series]).expect("one key")
}

async fn queued_deliveries_share_a_write<R: Runtime, T: Transport>(
    rt: R,
    transport: T,
    bind: &str,
    dial: &str,
) {
    let relay = Relay::open(rt.clone(), RelayConfig::new(SERVER, [key()]))
        .await
        .expect("a valid configuration");
    let gate = Arc::new(Gate::default());
    let gated = Gated {
        inner: transport,
        gate: gate.clone(),
    };
    let listener = gated.bind(bind).await.expect("a free port");
    let dial = dial.replace("{port}", &port(&listener));
    let server = peers(gated.clone(), SERVER, "", CLUSTER);
    sigrelay::cluster::serve(&relay, server, listener)
        .await
        .expect("the relay is open");
    let tap = peers(gated, NodeId(2), &dial, CLUSTER);
    let mut connection = tap.dial(&rt, SERVER).await.expect("welcomed");
    connection
        .send(&Message::Keys(vec![key()]))
        .await
        .expect("sent");
    let applied = connection.recv().await.expect("a reply");
    assert_eq!(applied, Some(Message::Applied));
    gate.close();
    let writer = relay.writer();
    writer.write(frame(0)).await.expect("leased here");
    while !gate.holds_a_write() {
        rt.sleep(Duration::from_millis(1)).await;
    }
    let before = gate.writes();
    for value in 1..=QUEUED {
        writer.write(frame(value)).await.expect("leased here");
    }
    rt.sleep(Duration::from_millis(50)).await;
    gate.open();
    for value in 0..=QUEUED {
        let got = connection.recv().await.expect("a frame");
        assert_eq!(
            got,
            Some(Message::Frame(frame(value))),
            "in order, none lost"
        );
    }
    let writes = gate.writes() - before;
    assert!(
        writes <= 3,
        "{} deliveries took {writes} writes: the queued ones were not coalesced",
        QUEUED + 1
    );
    let report = relay.close(Duration::from_millis(50)).await;
    assert!(report.expect("no routine fails").is_clean());
}

#[test]
fn tokio_tcp_on_loopback() {
    let body = queued_deliveries_share_a_write(Tokio, Tcp, "127.0.0.1:0", "127.0.0.1:{port}");
    on_tokio(body);
}

#[test]
fn turmoil_network() {
    on_turmoil(TurmoilCheck::new(0xc0a1_e5ce), |rt| async move {
        queued_deliveries_share_a_write(rt, TurmoilNet, "0.0.0.0:7000", "main:{port}").await;
    });
}

#[test]
fn memory_network_under_shuttle() {
    use sigrelay::net::MemoryNet;
    on_shuttle(50, 0xc0a1_e5ce, |rt| {
        queued_deliveries_share_a_write(rt, MemoryNet::new(), "memory:0", "memory:{port}")
    });
}
