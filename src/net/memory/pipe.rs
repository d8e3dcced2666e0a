//! One direction of an in-memory connection: its bounded buffer, when each write's bytes
//! arrive (with latency), whether it is held — and the lock, delays and losses it shares
//! with the streams and the network.

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::Waker;
use std::time::Duration;

use tokio::io::ReadBuf;

use crate::rt::Rng;

/// A value behind a std mutex that a poisoned lock does not hide.
#[derive(Default)]
pub(super) struct Locked<T>(pub(super) Mutex<T>);

impl<T> Locked<T> {
    pub(super) fn lock(&self) -> MutexGuard<'_, T> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A timer future of the runtime the latency runs on.
pub(super) type Timer = Pin<Box<dyn Future<Output = ()> + Send>>;

/// Write delays: drawn from a seeded RNG between `min` and `max`, on a runtime's clock.
#[derive(Clone)]
pub(super) struct Latency {
    /// Time since the network was made, on the runtime's clock.
    pub(super) clock: Arc<dyn Fn() -> Duration + Send + Sync>,
    /// A timer of the runtime.
    pub(super) timer: Arc<dyn Fn(Duration) -> Timer + Send + Sync>,
    pub(super) rng: Arc<Locked<Rng>>,
    pub(super) min: Duration,
    pub(super) spread: u64,
}

impl Latency {
    /// The delay of the next write.
    pub(super) fn draw(&self) -> Duration {
        let extra = match self.spread {
            0 => 0,
            spread => self.rng.lock().below(spread + 1),
        };
        self.min + Duration::from_nanos(extra)
    }
}

/// Writes lost at random, each with a chance of `per_million` in a million drawn from a
/// seeded RNG.
#[derive(Clone)]
pub(super) struct Loss {
    pub(super) rng: Arc<Locked<Rng>>,
    pub(super) per_million: u32,
}

impl Loss {
    /// Whether the next write is lost.
    pub(super) fn strikes(&self) -> bool {
        self.rng.lock().below(1_000_000) < u64::from(self.per_million)
    }
}

/// One direction of a connection.
#[derive(Default)]
pub(super) struct Pipe {
    pub(super) bytes: VecDeque<u8>,
    /// With latency: when each write's bytes arrive, and how many there are, oldest first.
    pub(super) arrivals: VecDeque<(Duration, usize)>,
    /// When the last write arrives: later writes never overtake it.
    pub(super) last_arrival: Duration,
    pub(super) capacity: usize,
    pub(super) reader: Option<Waker>,
    pub(super) writer: Option<Waker>,
    pub(super) writer_gone: bool,
    pub(super) reader_gone: bool,
    pub(super) held: bool,
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
    pub(super) fn arrived(&self, now: Option<Duration>) -> usize {
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
    pub(super) fn take_into(&mut self, n: usize, buf: &mut ReadBuf<'_>) {
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

pub(super) fn wake(waker: Option<Waker>) {
    if let Some(waker) = waker {
        waker.wake();
    }
}
