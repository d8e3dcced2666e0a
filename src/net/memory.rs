//! An in-memory network: listeners and byte streams inside one process, built on no
//! runtime's sockets, so a cluster runs under shuttle and loom as well as on tokio. Each
//! direction of a connection is a pipe with a bounded buffer: a writer whose reader does not
//! read waits, as on a real socket whose window is full — so a slow peer's server really
//! has to drop frames. [`MemoryNet::cut`] breaks every connection to an address and refuses
//! new ones until [`MemoryNet::heal`]: a node cut off from its callers.
//!
//! # Why a std mutex guards a pipe
//! Every operation takes the lock, changes the state and returns; nothing that can switch
//! tasks happens while it is held, so under the checkers (one task at a time) it never
//! contends, and on tokio it is held for a copy. Wakers are called after it is released.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::fmt;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};
use std::task::{Context, Poll, Waker};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use super::transport::{Listener, Transport};

/// How many bytes each direction of a connection buffers, by default.
const PIPE_CAPACITY: usize = 64 * 1024;

/// An in-memory network; clones share it. Addresses are `host:port`; binding port 0 picks a
/// free one.
#[derive(Clone, Default)]
pub struct MemoryNet {
    net: Arc<Mutex<Net>>,
    capacity: Option<usize>,
}

#[derive(Default)]
struct Net {
    listeners: BTreeMap<String, Arc<Locked<Backlog>>>,
    /// The pipes of every connection made to each address, to break on a cut.
    links: BTreeMap<String, Vec<Weak<Locked<Pipe>>>>,
    cut: BTreeSet<String>,
    next_port: u32,
    next_caller: u64,
}

/// A value behind a std mutex that a poisoned lock does not hide.
#[derive(Default)]
struct Locked<T>(Mutex<T>);

impl<T> Locked<T> {
    fn lock(&self) -> MutexGuard<'_, T> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Connections waiting to be accepted.
#[derive(Default)]
struct Backlog {
    waiting: VecDeque<(MemoryStream, String)>,
    acceptor: Option<Waker>,
}

/// One direction of a connection.
#[derive(Default)]
struct Pipe {
    bytes: VecDeque<u8>,
    capacity: usize,
    reader: Option<Waker>,
    writer: Option<Waker>,
    writer_gone: bool,
    reader_gone: bool,
}

/// One end of an in-memory connection.
pub struct MemoryStream {
    incoming: Arc<Locked<Pipe>>,
    outgoing: Arc<Locked<Pipe>>,
}

/// A bound in-memory listener; dropping it unbinds its address.
pub struct MemoryListener {
    address: String,
    backlog: Arc<Locked<Backlog>>,
    net: MemoryNet,
}

impl MemoryNet {
    /// A new, empty network whose connections buffer 64 KiB each way.
    pub fn new() -> Self {
        MemoryNet::default()
    }

    /// The same network with `capacity` bytes buffered each way on connections made from
    /// now on (at least one).
    pub fn with_capacity(self, capacity: usize) -> Self {
        let capacity = Some(capacity.max(1));
        MemoryNet { capacity, ..self }
    }

    /// Cuts `address` off: every connection made to it breaks at once (as by a reset: reads
    /// end, writes fail) and new ones are refused, until [`heal`](MemoryNet::heal).
    pub fn cut(&self, address: &str) {
        let mut net = self.net();
        net.cut.insert(address.to_string());
        let pipes: Vec<_> = net.links.remove(address).into_iter().flatten().collect();
        drop(net);
        for pipe in pipes.iter().filter_map(Weak::upgrade) {
            let mut state = pipe.lock();
            (state.writer_gone, state.reader_gone) = (true, true);
            state.bytes.clear();
            let wakers = [state.reader.take(), state.writer.take()];
            drop(state);
            wakers.into_iter().for_each(wake);
        }
    }

    /// Lets connections to `address` be made again.
    pub fn heal(&self, address: &str) {
        self.net().cut.remove(address);
    }

    fn net(&self) -> MutexGuard<'_, Net> {
        self.net.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Transport for MemoryNet {
    type Stream = MemoryStream;
    type Listener = MemoryListener;

    async fn connect(&self, address: &str) -> io::Result<MemoryStream> {
        let mut net = self.net();
        let backlog = net.listeners.get(address).cloned();
        let backlog = backlog.filter(|_| !net.cut.contains(address));
        let backlog = backlog.ok_or(io::ErrorKind::ConnectionRefused)?;
        net.next_caller += 1;
        let from = format!("memory-caller-{}", net.next_caller);
        let capacity = self.capacity.unwrap_or(PIPE_CAPACITY);
        let (ours, theirs) = (pipe(capacity), pipe(capacity));
        let links = net.links.entry(address.to_string()).or_default();
        links.retain(|pipe| pipe.strong_count() > 0);
        links.extend([Arc::downgrade(&ours), Arc::downgrade(&theirs)]);
        drop(net);
        let server = MemoryStream {
            incoming: ours.clone(),
            outgoing: theirs.clone(),
        };
        let mut waiting = backlog.lock();
        waiting.waiting.push_back((server, from));
        let acceptor = waiting.acceptor.take();
        drop(waiting);
        wake(acceptor);
        Ok(MemoryStream {
            incoming: theirs,
            outgoing: ours,
        })
    }

    async fn bind(&self, address: &str) -> io::Result<MemoryListener> {
        let mut net = self.net();
        let address = match address.rsplit_once(':') {
            Some((host, "0")) => {
                net.next_port += 1;
                format!("{host}:{}", 40_000 + net.next_port)
            }
            _ => address.to_string(),
        };
        if net.listeners.contains_key(&address) {
            return Err(io::ErrorKind::AddrInUse.into());
        }
        let backlog = Arc::new(Locked::default());
        net.listeners.insert(address.clone(), backlog.clone());
        let net = self.clone();
        Ok(MemoryListener {
            address,
            backlog,
            net,
        })
    }
}

fn pipe(capacity: usize) -> Arc<Locked<Pipe>> {
    let pipe = Pipe {
        capacity,
        ..Pipe::default()
    };
    Arc::new(Locked(Mutex::new(pipe)))
}

fn wake(waker: Option<Waker>) {
    if let Some(waker) = waker {
        waker.wake();
    }
}

impl Listener for MemoryListener {
    type Stream = MemoryStream;

    async fn accept(&mut self) -> io::Result<(MemoryStream, String)> {
        std::future::poll_fn(|cx| {
            let mut backlog = self.backlog.lock();
            match backlog.waiting.pop_front() {
                Some(accepted) => Poll::Ready(Ok(accepted)),
                None => {
                    backlog.acceptor = Some(cx.waker().clone());
                    Poll::Pending
                }
            }
        })
        .await
    }

    fn local_address(&self) -> io::Result<String> {
        Ok(self.address.clone())
    }
}

impl Drop for MemoryListener {
    fn drop(&mut self) {
        let removed = self.net.net().listeners.remove(&self.address);
        let waiting = std::mem::take(&mut self.backlog.lock().waiting);
        drop((removed, waiting));
    }
}

impl AsyncRead for MemoryStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let mut pipe = self.incoming.lock();
        if pipe.bytes.is_empty() {
            if !pipe.writer_gone {
                pipe.reader = Some(cx.waker().clone());
                return Poll::Pending;
            }
            return Poll::Ready(Ok(()));
        }
        let n = pipe.bytes.len().min(buf.remaining());
        let (front, back) = pipe.bytes.as_slices();
        let from_front = n.min(front.len());
        buf.put_slice(&front[..from_front]);
        buf.put_slice(&back[..n - from_front]);
        pipe.bytes.drain(..n);
        let writer = pipe.writer.take();
        drop(pipe);
        wake(writer);
        Poll::Ready(Ok(()))
    }
}

impl AsyncWrite for MemoryStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        let mut pipe = self.outgoing.lock();
        if pipe.reader_gone {
            return Poll::Ready(Err(io::ErrorKind::BrokenPipe.into()));
        }
        let room = pipe.capacity - pipe.bytes.len();
        if room == 0 {
            pipe.writer = Some(cx.waker().clone());
            return Poll::Pending;
        }
        let n = room.min(data.len());
        pipe.bytes.extend(&data[..n]);
        let reader = pipe.reader.take();
        drop(pipe);
        wake(reader);
        Poll::Ready(Ok(n))
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.close_writing();
        Poll::Ready(Ok(()))
    }
}

impl MemoryStream {
    fn close_writing(&self) {
        let mut pipe = self.outgoing.lock();
        pipe.writer_gone = true;
        let reader = pipe.reader.take();
        drop(pipe);
        wake(reader);
    }
}

impl Drop for MemoryStream {
    fn drop(&mut self) {
        self.close_writing();
        let mut pipe = self.incoming.lock();
        pipe.reader_gone = true;
        pipe.bytes.clear();
        let writer = pipe.writer.take();
        drop(pipe);
        wake(writer);
    }
}

impl fmt::Debug for MemoryNet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let listeners: Vec<String> = self.net().listeners.keys().cloned().collect();
        f.debug_struct("MemoryNet")
            .field("listeners", &listeners)
            .finish()
    }
}

impl fmt::Debug for MemoryStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MemoryStream")
    }
}

impl fmt::Debug for MemoryListener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryListener")
            .field("address", &self.address)
            .finish()
    }
}
