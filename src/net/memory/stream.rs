//! One in-memory connection: a pipe each way, with a bounded buffer, an optional delay per
//! write, and a hold that silences it.

use std::collections::VecDeque;
use std::fmt;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use super::{wake, Latency, Locked, Timer};

/// One direction of a connection.
#[derive(Default)]
pub(super) struct Pipe {
    bytes: VecDeque<u8>,
    /// With latency: when each write's bytes arrive, and how many there are, oldest first.
    arrivals: VecDeque<(Duration, usize)>,
    /// When the last write arrives: later writes never overtake it.
    last_arrival: Duration,
    capacity: usize,
    reader: Option<std::task::Waker>,
    writer: Option<std::task::Waker>,
    writer_gone: bool,
    reader_gone: bool,
    held: bool,
}

/// A pipe of `capacity` bytes, held from the start if `held`.
pub(super) fn pipe(capacity: usize, held: bool) -> Arc<Locked<Pipe>> {
    let pipe = Pipe {
        capacity,
        held,
        ..Pipe::default()
    };
    Arc::new(Locked(Mutex::new(pipe)))
}

impl Pipe {
    /// Breaks the pipe as a reset does: both ends gone, what it held lost.
    pub(super) fn break_off(&mut self) {
        (self.writer_gone, self.reader_gone) = (true, true);
        self.bytes.clear();
        self.arrivals.clear();
        self.wake_both();
    }

    /// Holds what the pipe carries, or lets it go.
    pub(super) fn hold(&mut self, held: bool) {
        self.held = held;
        self.wake_both();
    }

    fn wake_both(&mut self) {
        let wakers = [self.reader.take(), self.writer.take()];
        wakers.into_iter().for_each(wake);
    }

    /// Bytes that have arrived by `now` (all of them without latency).
    fn arrived(&self, now: Option<Duration>) -> usize {
        match now {
            None => self.bytes.len(),
            Some(now) => self
                .arrivals
                .iter()
                .take_while(|(at, _)| *at <= now)
                .map(|(_, n)| n)
                .sum(),
        }
    }

    /// Removes the first `n` bytes, into `buf`.
    fn take_into(&mut self, n: usize, buf: &mut ReadBuf<'_>) {
        let (front, back) = self.bytes.as_slices();
        let from_front = n.min(front.len());
        buf.put_slice(&front[..from_front]);
        buf.put_slice(&back[..n - from_front]);
        self.bytes.drain(..n);
        let mut left = n;
        while left > 0 {
            let Some((_, len)) = self.arrivals.front_mut() else {
                break;
            };
            let taken = left.min(*len);
            (*len, left) = (*len - taken, left - taken);
            if *len == 0 {
                self.arrivals.pop_front();
            }
        }
    }
}

/// One end of an in-memory connection.
pub struct MemoryStream {
    incoming: Arc<Locked<Pipe>>,
    outgoing: Arc<Locked<Pipe>>,
    latency: Option<Latency>,
    /// The timer a read waits on for bytes still on their way, and when they arrive.
    arrival: Option<(Duration, Timer)>,
}

impl MemoryStream {
    pub(super) fn new(
        incoming: Arc<Locked<Pipe>>,
        outgoing: Arc<Locked<Pipe>>,
        latency: Option<Latency>,
    ) -> Self {
        MemoryStream {
            incoming,
            outgoing,
            latency,
            arrival: None,
        }
    }

    fn now(&self) -> Option<Duration> {
        self.latency.as_ref().map(|l| (l.clock)())
    }

    fn close_writing(&self) {
        let mut pipe = self.outgoing.lock();
        pipe.writer_gone = true;
        let reader = pipe.reader.take();
        drop(pipe);
        wake(reader);
    }

    /// Waits on the timer until `at`, when the next bytes arrive. Ready once they have.
    fn poll_arrival(&mut self, cx: &mut Context<'_>, at: Duration, now: Duration) -> Poll<()> {
        let latency = self
            .latency
            .as_ref()
            .expect("bytes on their way need latency");
        if self.arrival.as_ref().is_none_or(|(when, _)| *when != at) {
            self.arrival = Some((at, (latency.timer)(at.saturating_sub(now))));
        }
        let (_, timer) = self.arrival.as_mut().expect("just set");
        let ready = timer.as_mut().poll(cx);
        if ready.is_ready() {
            self.arrival = None;
        }
        ready
    }
}

impl AsyncRead for MemoryStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        loop {
            let now = this.now();
            let mut pipe = this.incoming.lock();
            if pipe.bytes.is_empty() && pipe.writer_gone && !pipe.held {
                return Poll::Ready(Ok(()));
            }
            let arrived = pipe.arrived(now);
            if pipe.held || pipe.bytes.is_empty() || arrived == 0 {
                pipe.reader = Some(cx.waker().clone());
                let next = pipe.arrivals.front().map(|(at, _)| *at);
                let waiting = !pipe.held && !pipe.bytes.is_empty();
                drop(pipe);
                match (waiting, next, now) {
                    (true, Some(at), Some(now)) if this.poll_arrival(cx, at, now).is_ready() => {
                        continue
                    }
                    _ => return Poll::Pending,
                }
            }
            pipe.take_into(arrived.min(buf.remaining()), buf);
            let writer = pipe.writer.take();
            drop(pipe);
            wake(writer);
            return Poll::Ready(Ok(()));
        }
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
        if let Some(latency) = &self.latency {
            let at = ((latency.clock)() + latency.draw()).max(pipe.last_arrival);
            pipe.last_arrival = at;
            pipe.arrivals.push_back((at, n));
        }
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

impl Drop for MemoryStream {
    fn drop(&mut self) {
        self.close_writing();
        let mut pipe = self.incoming.lock();
        pipe.reader_gone = true;
        pipe.bytes.clear();
        pipe.arrivals.clear();
        let writer = pipe.writer.take();
        drop(pipe);
        wake(writer);
    }
}

impl fmt::Debug for MemoryStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MemoryStream")
    }
}
