//! A transport wrapper for tests that need to hold a peer's writes: the streams its listener
//! accepts pass their writes through one gate, which refuses them while closed and counts
//! the writes it takes. A test closes the gate to make a peer server's replies wait, sees
//! that a write is being held, and opens the gate to let them through.

use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use sigrelay::net::{Listener, Transport};
use sigrelay::rt::prelude::*;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// Holds the accepted streams' writes while closed, and counts the writes taken.
#[derive(Debug, Default)]
pub struct Gate(Mutex<GateState>);

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

    pub fn close(&self) {
        self.state().closed = true;
    }

    pub fn open(&self) {
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

    /// Waits until a write waits at the closed gate; fails the test if none comes within
    /// five seconds.
    pub async fn until_a_write_is_held<R: Runtime>(&self, rt: &R) {
        let held = async {
            while !self.holds_a_write() {
                rt.sleep(Duration::from_millis(1)).await;
            }
        };
        let held = rt.timeout(Duration::from_secs(5), held).await;
        held.expect("a write reaches the closed gate");
    }

    pub fn writes(&self) -> usize {
        self.state().writes
    }
}

/// `T` whose accepted streams pass their writes through one gate.
#[derive(Clone)]
pub struct Gated<T> {
    pub inner: T,
    pub gate: Arc<Gate>,
}

#[derive(Debug)]
pub struct GatedStream<S> {
    inner: S,
    gate: Arc<Gate>,
}

pub struct GatedListener<L> {
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
