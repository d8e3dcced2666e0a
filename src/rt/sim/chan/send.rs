//! The sending side of the simulated channel: sends, reservations and their permits, and
//! waiting for the receiver to go. A send takes its slot in one step when it is its turn
//! and there is room; otherwise it queues as a reservation does.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

use super::super::log::EventKind;
use super::super::report::{Side, WaitOp};
use super::super::Model;
use super::{push, SimSender, Turn};
use crate::rt::{handles, SendError, TrySendError};

/// The future of [`closed`](handles::Sender::closed); leaves the watch list when dropped.
#[must_use = "futures do nothing unless awaited"]
struct ClosedFut<'a, M: Model, T: Send> {
    tx: &'a SimSender<M, T>,
    ticket: Option<u64>,
}

impl<M: Model, T: Send> Future for ClosedFut<'_, M, T> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        let chan = &this.tx.chan;
        let me = chan.anchor.me();
        chan.anchor.touch(me, this.tx.endpoint, Side::Tx);
        let closed = M::with(&chan.state, |s| {
            if s.receiver_open {
                s.watch(&mut this.ticket, cx.waker());
            }
            !s.receiver_open
        });
        if closed {
            this.ticket = None;
            return Poll::Ready(());
        }
        chan.anchor.wait(me, WaitOp::Closed);
        Poll::Pending
    }
}

impl<M: Model, T: Send> Drop for ClosedFut<'_, M, T> {
    fn drop(&mut self) {
        if let Some(ticket) = self.ticket {
            let gone = M::with(&self.tx.chan.state, |s| s.unwatch(ticket));
            drop(gone);
        }
    }
}

/// The future of a reservation: queues for a free slot and holds it once granted.
struct ReserveFut<'a, M: Model, T: Send> {
    tx: &'a SimSender<M, T>,
    ticket: Option<u64>,
}

impl<'a, M: Model, T: Send> Future for ReserveFut<'a, M, T> {
    type Output = Result<SimPermit<'a, M, T>, SendError<()>>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let chan = &this.tx.chan;
        let me = chan.anchor.me();
        chan.anchor.touch(me, this.tx.endpoint, Side::Tx);
        let ticket = &mut this.ticket;
        let outcome = M::with(&chan.state, |s| s.reserve(ticket, cx.waker()));
        match outcome {
            None => {
                chan.anchor.wait(me, WaitOp::Send);
                Poll::Pending
            }
            Some(Err(())) => Poll::Ready(Err(SendError(()))),
            Some(Ok(next)) => {
                next.into_iter().for_each(Waker::wake);
                let tx = this.tx;
                Poll::Ready(Ok(SimPermit { tx, sent: false }))
            }
        }
    }
}

impl<M: Model, T: Send> Drop for ReserveFut<'_, M, T> {
    fn drop(&mut self) {
        self.tx.pass_turn(self.ticket);
    }
}

/// The future of a send: one step when the slot is free, else queued as a reservation is.
#[must_use = "futures do nothing unless awaited"]
struct SendFut<'a, M: Model, T: Send> {
    tx: &'a SimSender<M, T>,
    value: Option<T>,
    ticket: Option<u64>,
}

/// The value is moved, never pinned.
impl<M: Model, T: Send> Unpin for SendFut<'_, M, T> {}

impl<M: Model, T: Send> Future for SendFut<'_, M, T> {
    type Output = Result<(), SendError<T>>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let chan = &this.tx.chan;
        let me = chan.anchor.me();
        let (ticket, value) = (&mut this.ticket, &mut this.value);
        let outcome = M::with(&chan.state, |s| match s.turn(ticket, cx.waker()) {
            Turn::Closed => Some(None),
            Turn::Queued => None,
            Turn::Mine => {
                let value = value
                    .take()
                    .expect("a send is not polled after it completes");
                let receiver = push(s, value, &chan.anchor);
                Some(Some((receiver, s.next_sender())))
            }
        });
        match outcome {
            None => {
                chan.anchor.touch(me, this.tx.endpoint, Side::Tx);
                chan.anchor.wait(me, WaitOp::Send);
                Poll::Pending
            }
            Some(None) => {
                chan.anchor.touch(me, this.tx.endpoint, Side::Tx);
                let value = this
                    .value
                    .take()
                    .expect("a send is not polled after it completes");
                Poll::Ready(Err(SendError(value)))
            }
            Some(Some((receiver, next))) => {
                chan.anchor.sent(me, this.tx.endpoint);
                chan.anchor.record(me, EventKind::Send);
                receiver.into_iter().chain(next).for_each(Waker::wake);
                Poll::Ready(Ok(()))
            }
        }
    }
}

impl<M: Model, T: Send> Drop for SendFut<'_, M, T> {
    fn drop(&mut self) {
        self.tx.pass_turn(self.ticket);
    }
}

impl<M: Model, T: Send> SimSender<M, T> {
    /// Leaves the sender queue if `ticket` is in it, waking the sender whose turn it is.
    fn pass_turn(&self, ticket: Option<u64>) {
        if let Some(ticket) = ticket {
            let next = M::with(&self.chan.state, |s| s.pass_turn(ticket));
            next.into_iter().for_each(Waker::wake);
        }
    }
}

/// A reserved slot of a simulated channel.
pub struct SimPermit<'a, M: Model, T: Send> {
    tx: &'a SimSender<M, T>,
    sent: bool,
}

impl<M: Model, T: Send> handles::Permit<T> for SimPermit<'_, M, T> {
    fn send(mut self, value: T) {
        self.sent = true;
        let chan = &self.tx.chan;
        let me = chan.anchor.me();
        let delivered = M::with(&chan.state, |s| {
            let receiver = s.send_reserved(value)?;
            chan.anchor.resource.set_len(s.buffer.len());
            Ok::<_, T>(receiver)
        });
        match delivered {
            Ok(receiver) => {
                chan.anchor.sent(me, self.tx.endpoint);
                chan.anchor.record(me, EventKind::Send);
                receiver.into_iter().for_each(Waker::wake);
            }
            Err(undeliverable) => {
                chan.anchor.touch(me, self.tx.endpoint, Side::Tx);
                drop(undeliverable);
            }
        }
    }
}

impl<M: Model, T: Send> Drop for SimPermit<'_, M, T> {
    fn drop(&mut self) {
        if !self.sent {
            let next = M::with(&self.tx.chan.state, |s| s.unreserve());
            next.into_iter().for_each(Waker::wake);
        }
    }
}

impl<M: Model, T: Send> fmt::Debug for SimPermit<'_, M, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("SimPermit")
            .field(&self.tx.chan.anchor)
            .finish()
    }
}

impl<M: Model, T: Send> handles::Sender<T> for SimSender<M, T> {
    type Permit<'a>
        = SimPermit<'a, M, T>
    where
        Self: 'a;

    fn reserve(&self) -> impl Future<Output = Result<SimPermit<'_, M, T>, SendError<()>>> + Send {
        ReserveFut {
            tx: self,
            ticket: None,
        }
    }

    fn send(&self, value: T) -> impl Future<Output = Result<(), SendError<T>>> + Send + '_ {
        SendFut {
            tx: self,
            value: Some(value),
            ticket: None,
        }
    }

    fn try_send(&self, value: T) -> Result<(), TrySendError<T>> {
        let chan = &self.chan;
        let me = chan.anchor.me();
        let woken = M::with(&chan.state, |s| {
            let receiver = s.try_push(value)?;
            chan.anchor.resource.set_len(s.buffer.len());
            Ok(receiver)
        })
        .inspect_err(|_| chan.anchor.touch(me, self.endpoint, Side::Tx))?;
        chan.anchor.sent(me, self.endpoint);
        chan.anchor.record(me, EventKind::Send);
        woken.into_iter().for_each(Waker::wake);
        Ok(())
    }

    fn is_closed(&self) -> bool {
        M::with(&self.chan.state, |s| !s.receiver_open)
    }

    fn closed(&self) -> impl Future<Output = ()> + Send + '_ {
        ClosedFut {
            tx: self,
            ticket: None,
        }
    }
}

impl<M: Model, T: Send> Clone for SimSender<M, T> {
    fn clone(&self) -> Self {
        M::with_commuting(&self.chan.state, |s| s.senders += 1);
        let endpoint = self.chan.anchor.endpoint(Side::Tx);
        Self {
            chan: self.chan.clone(),
            endpoint,
        }
    }
}

impl<M: Model, T: Send> Drop for SimSender<M, T> {
    fn drop(&mut self) {
        self.chan.anchor.resource.release(self.endpoint);
        // Only the last sender's drop can be seen (as the channel's end), and while this one
        // is held no other can become the last: the others commute with everything.
        let others = M::with_commuting(&self.chan.state, |s| {
            let others = s.senders > 1;
            s.senders -= usize::from(others);
            others
        });
        if others {
            return;
        }
        let receiver = M::with(&self.chan.state, |s| {
            s.senders -= 1;
            s.receiver.take()
        });
        receiver.into_iter().for_each(Waker::wake);
    }
}

impl<M: Model, T: Send> fmt::Debug for SimSender<M, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("SimSender").field(&self.chan.anchor).finish()
    }
}
