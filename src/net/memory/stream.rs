//! One in-memory connection: a pipe each way, with a bounded buffer, an optional delay per
//! write, an optional chance of losing a write (which breaks the connection), and a hold
//! that silences it.

use std::fmt;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use super::pipe::{wake, Latency, Locked, Loss, Pipe, Timer};

/// One end of an in-memory connection.
pub struct MemoryStream {
    incoming: Arc<Locked<Pipe>>,
    outgoing: Arc<Locked<Pipe>>,
    latency: Option<Latency>,
    loss: Option<Loss>,
    /// The timer a read waits on for bytes still on their way, and when they arrive.
    arrival: Option<(Duration, Timer)>,
}

impl MemoryStream {
    pub(super) fn new(
        incoming: Arc<Locked<Pipe>>,
        outgoing: Arc<Locked<Pipe>>,
        latency: Option<Latency>,
        loss: Option<Loss>,
    ) -> Self {
        MemoryStream {
            incoming,
            outgoing,
            latency,
            loss,
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
        if self.loss.as_ref().is_some_and(Loss::strikes) {
            pipe.break_off();
            drop(pipe);
            self.incoming.lock().break_off();
            return Poll::Ready(Err(io::ErrorKind::ConnectionReset.into()));
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
