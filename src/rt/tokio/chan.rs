//! The bounded channel of the tokio backend: [`Slots`] under a `std` mutex held for a few
//! instructions and never across an await, every waker woken with it released.
//!
//! Its buffer is allocated when the channel is made, so a send, a receive and a reservation
//! that finds room allocate nothing; a sender that has to wait queues behind earlier ones
//! (FIFO, as with tokio's semaphore), and dropping its future passes the turn on. It takes
//! fewer instructions per value than tokio's `mpsc`, whose linked blocks are allocated as
//! values flow, and keeps the same semantics: the conformance suite runs the same bodies on
//! it as on the simulated channel.

use std::fmt;
use std::future::{poll_fn, Future};
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll, Waker};

use crate::rt::slots::Slots;
use crate::rt::{handles, SendError, TryRecvError, TrySendError};

struct Chan<T> {
    slots: Mutex<Slots<T>>,
}

impl<T> Chan<T> {
    /// Runs `apply` on the slots, the lock held. No code that can take it again runs
    /// inside: wakers are woken and values dropped after it returns.
    fn with<U>(&self, apply: impl FnOnce(&mut Slots<T>) -> U) -> U {
        let mut slots = self.slots.lock().unwrap_or_else(PoisonError::into_inner);
        apply(&mut slots)
    }
}

/// The sending half of a tokio-backend channel.
pub struct ChanSender<T>(Arc<Chan<T>>);

/// The receiving half of a tokio-backend channel.
pub struct ChanReceiver<T>(Arc<Chan<T>>);

/// A reserved slot of a tokio-backend channel.
#[must_use = "a permit holds a slot until it sends or is dropped"]
pub struct ChanPermit<'a, T> {
    tx: &'a ChanSender<T>,
    sent: bool,
}

pub(super) fn channel<T>(capacity: usize) -> (ChanSender<T>, ChanReceiver<T>) {
    let chan = Arc::new(Chan {
        slots: Mutex::new(Slots::new(capacity)),
    });
    (ChanSender(chan.clone()), ChanReceiver(chan))
}

fn wake(wakers: impl IntoIterator<Item = Waker>) {
    wakers.into_iter().for_each(Waker::wake);
}

/// The future of a reservation: queues for a free slot and holds it once its turn comes.
#[must_use = "futures do nothing unless awaited"]
struct Reserve<'a, T> {
    tx: &'a ChanSender<T>,
    ticket: Option<u64>,
}

impl<'a, T> Future for Reserve<'a, T> {
    type Output = Result<ChanPermit<'a, T>, SendError<()>>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let ticket = &mut this.ticket;
        let outcome = this.tx.0.with(|s| s.reserve(ticket, cx.waker()));
        match outcome {
            None => Poll::Pending,
            Some(Err(())) => Poll::Ready(Err(SendError(()))),
            Some(Ok(next)) => {
                wake(next);
                let tx = this.tx;
                Poll::Ready(Ok(ChanPermit { tx, sent: false }))
            }
        }
    }
}

impl<T> Drop for Reserve<'_, T> {
    fn drop(&mut self) {
        if let Some(ticket) = self.ticket {
            wake(self.tx.0.with(|s| s.pass_turn(ticket)));
        }
    }
}

/// The future of [`closed`](handles::Sender::closed); leaves the watch list when dropped.
#[must_use = "futures do nothing unless awaited"]
struct Closed<'a, T> {
    tx: &'a ChanSender<T>,
    ticket: Option<u64>,
}

impl<T> Future for Closed<'_, T> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        let closed = this.tx.0.with(|s| {
            if s.receiver_open {
                s.watch(&mut this.ticket, cx.waker());
            }
            !s.receiver_open
        });
        match closed {
            true => Poll::Ready(()),
            false => Poll::Pending,
        }
    }
}

impl<T> Drop for Closed<'_, T> {
    fn drop(&mut self) {
        if let Some(ticket) = self.ticket {
            drop(self.tx.0.with(|s| s.unwatch(ticket)));
        }
    }
}

impl<T: Send> handles::Sender<T> for ChanSender<T> {
    type Permit<'a>
        = ChanPermit<'a, T>
    where
        Self: 'a;

    fn reserve(&self) -> impl Future<Output = Result<ChanPermit<'_, T>, SendError<()>>> + Send {
        Reserve {
            tx: self,
            ticket: None,
        }
    }

    /// A reservation, then its permit's send: dropped while it waits, it passes its turn on
    /// as a reservation does, and drops the value.
    async fn send(&self, value: T) -> Result<(), SendError<T>> {
        match self.reserve().await {
            Ok(permit) => {
                handles::Permit::send(permit, value);
                Ok(())
            }
            Err(SendError(())) => Err(SendError(value)),
        }
    }

    fn try_send(&self, value: T) -> Result<(), TrySendError<T>> {
        wake(self.0.with(|s| s.try_push(value))?);
        Ok(())
    }

    fn is_closed(&self) -> bool {
        self.0.with(|s| !s.receiver_open)
    }

    fn closed(&self) -> impl Future<Output = ()> + Send + '_ {
        Closed {
            tx: self,
            ticket: None,
        }
    }
}

impl<T: Send> handles::Permit<T> for ChanPermit<'_, T> {
    fn send(mut self, value: T) {
        self.sent = true;
        match self.tx.0.with(|s| s.send_reserved(value)) {
            Ok(receiver) => wake(receiver),
            Err(undeliverable) => drop(undeliverable),
        }
    }
}

impl<T> Drop for ChanPermit<'_, T> {
    fn drop(&mut self) {
        if !self.sent {
            wake(self.tx.0.with(Slots::unreserve));
        }
    }
}

impl<T> Clone for ChanSender<T> {
    fn clone(&self) -> Self {
        self.0.with(|s| s.senders += 1);
        ChanSender(self.0.clone())
    }
}

impl<T> Drop for ChanSender<T> {
    fn drop(&mut self) {
        let receiver = self.0.with(|s| {
            s.senders -= 1;
            match s.senders {
                0 => s.receiver.take(),
                _ => None,
            }
        });
        wake(receiver);
    }
}

impl<T> ChanReceiver<T> {
    fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Option<T>> {
        match self.take(Some(cx.waker())) {
            Ok(value) => Poll::Ready(Some(value)),
            Err(TryRecvError::Closed) => Poll::Ready(None),
            Err(TryRecvError::Empty) => Poll::Pending,
        }
    }

    /// Takes the next value, registering `waker` if there is none yet.
    fn take(&mut self, waker: Option<&Waker>) -> Result<T, TryRecvError> {
        let (value, next) = self.0.with(|s| match s.buffer.pop_front() {
            Some(value) => Ok((value, s.next_sender())),
            None if s.senders == 0 => Err(TryRecvError::Closed),
            None => {
                match (&mut s.receiver, waker) {
                    (Some(held), Some(waker)) if held.will_wake(waker) => {}
                    (held, waker) => *held = waker.cloned(),
                }
                Err(TryRecvError::Empty)
            }
        })?;
        wake(next);
        Ok(value)
    }
}

impl<T: Send> handles::Receiver<T> for ChanReceiver<T> {
    fn recv(&mut self) -> impl Future<Output = Option<T>> + Send + '_ {
        poll_fn(move |cx| self.poll_recv(cx))
    }

    fn try_recv(&mut self) -> Result<T, TryRecvError> {
        self.take(None)
    }

    fn close(&mut self) {
        wake(self.0.with(|s| s.shut(false)).0);
    }
}

impl<T> futures_core::Stream for ChanReceiver<T> {
    type Item = T;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<T>> {
        self.get_mut().poll_recv(cx)
    }
}

impl<T> Drop for ChanReceiver<T> {
    fn drop(&mut self) {
        let (senders, discarded) = self.0.with(|s| s.shut(true));
        wake(senders);
        drop(discarded);
    }
}

impl<T> fmt::Debug for ChanPermit<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ChanPermit")
    }
}
