//! The bounded multi-producer, single-consumer channel of the simulation backends.
//!
//! Senders wait in FIFO order, as with tokio's semaphore: a sender that finds others queued
//! queues behind them even if a slot is free, so no sender starves. Each freed slot wakes the
//! head of the queue; a queued send that is dropped passes its turn on.

use std::collections::VecDeque;
use std::fmt;
use std::future::{poll_fn, Future};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use super::log::EventKind;
use super::report::{Side, WaitOp};
use super::{Anchor, Model};
use crate::rt::{handles, SendError, TryRecvError, TrySendError};

struct State<T> {
    buffer: VecDeque<T>,
    capacity: usize,
    senders: usize,
    receiver_open: bool,
    receiver: Option<Waker>,
    queue: VecDeque<(u64, Waker)>,
    next_ticket: u64,
    reserved: usize,
    /// Senders waiting in [`closed`](handles::Sender::closed), by ticket.
    watching: Vec<(u64, Waker)>,
}

struct Chan<M: Model, T: Send> {
    state: M::Lock<State<T>>,
    anchor: Anchor<M>,
}

/// The sending half of a simulated channel.
pub struct SimSender<M: Model, T: Send> {
    chan: Arc<Chan<M, T>>,
    endpoint: u64,
}

/// The receiving half of a simulated channel.
pub struct SimReceiver<M: Model, T: Send> {
    chan: Arc<Chan<M, T>>,
    endpoint: u64,
}

pub(super) fn channel<M: Model, T: Send>(
    anchor: Anchor<M>,
    capacity: usize,
) -> (SimSender<M, T>, SimReceiver<M, T>) {
    let state = State {
        buffer: VecDeque::with_capacity(capacity),
        capacity,
        senders: 1,
        receiver_open: true,
        receiver: None,
        queue: VecDeque::new(),
        next_ticket: 0,
        reserved: 0,
        watching: Vec::new(),
    };
    let (tx, rx) = (anchor.endpoint(Side::Tx), anchor.endpoint(Side::Rx));
    let chan = Arc::new(Chan {
        state: M::new_lock(state),
        anchor,
    });
    (
        SimSender {
            chan: chan.clone(),
            endpoint: tx,
        },
        SimReceiver { chan, endpoint: rx },
    )
}

impl<T> State<T> {
    fn has_room(&self) -> bool {
        self.buffer.len() + self.reserved < self.capacity
    }

    /// Wakes the head of the sender queue if a slot is free for it.
    fn next_sender(&self) -> Option<Waker> {
        self.queue
            .front()
            .filter(|_| self.has_room())
            .map(|(_, w)| w.clone())
    }

    fn leave_queue(&mut self, ticket: u64) {
        self.queue.retain(|(t, _)| *t != ticket);
    }

    fn ticket(&mut self) -> u64 {
        self.next_ticket += 1;
        self.next_ticket
    }
}

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
        chan.anchor.touch(this.tx.endpoint, Side::Tx);
        let closed = M::with(&chan.state, |s| {
            if !s.receiver_open {
                return true;
            }
            let ticket = *this.ticket.get_or_insert_with(|| s.ticket());
            match s.watching.iter_mut().find(|(t, _)| *t == ticket) {
                Some(entry) => entry.1 = cx.waker().clone(),
                None => s.watching.push((ticket, cx.waker().clone())),
            }
            false
        });
        if closed {
            this.ticket = None;
            return Poll::Ready(());
        }
        chan.anchor.wait(WaitOp::Closed);
        Poll::Pending
    }
}

impl<M: Model, T: Send> Drop for ClosedFut<'_, M, T> {
    fn drop(&mut self) {
        if let Some(ticket) = self.ticket {
            let gone = M::with(&self.tx.chan.state, |s| {
                let at = s.watching.iter().position(|(t, _)| *t == ticket);
                at.map(|i| s.watching.swap_remove(i))
            });
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
        chan.anchor.touch(this.tx.endpoint, Side::Tx);
        let ticket = this.ticket;
        let outcome = M::with(&chan.state, |s| {
            if !s.receiver_open {
                ticket.inspect(|t| s.leave_queue(*t));
                return Some(Err(()));
            }
            let my_turn = s.queue.front().is_none_or(|(t, _)| Some(*t) == ticket);
            if my_turn && s.has_room() {
                ticket.inspect(|t| s.leave_queue(*t));
                s.reserved += 1;
                return Some(Ok(s.next_sender()));
            }
            let ticket = *this.ticket.get_or_insert_with(|| s.ticket());
            match s.queue.iter_mut().find(|(t, _)| *t == ticket) {
                Some(entry) => entry.1 = cx.waker().clone(),
                None => s.queue.push_back((ticket, cx.waker().clone())),
            }
            None
        });
        match outcome {
            None => {
                chan.anchor.wait(WaitOp::Send);
                Poll::Pending
            }
            Some(Err(())) => {
                this.ticket = None;
                Poll::Ready(Err(SendError(())))
            }
            Some(Ok(next)) => {
                this.ticket = None;
                next.into_iter().for_each(Waker::wake);
                let tx = this.tx;
                Poll::Ready(Ok(SimPermit { tx, sent: false }))
            }
        }
    }
}

impl<M: Model, T: Send> Drop for ReserveFut<'_, M, T> {
    fn drop(&mut self) {
        if let Some(ticket) = self.ticket {
            let next = M::with(&self.tx.chan.state, |s| {
                s.leave_queue(ticket);
                s.next_sender()
            });
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
        chan.anchor.touch(self.tx.endpoint, Side::Tx);
        let delivered = M::with(&chan.state, |s| {
            s.reserved -= 1;
            if !s.receiver_open {
                return Err(value);
            }
            s.buffer.push_back(value);
            chan.anchor.resource.set_len(s.buffer.len());
            Ok(s.receiver.take())
        });
        match delivered {
            Ok(receiver) => {
                chan.anchor.sent();
                chan.anchor.record(EventKind::Send);
                receiver.into_iter().for_each(Waker::wake);
            }
            Err(undeliverable) => drop(undeliverable),
        }
    }
}

impl<M: Model, T: Send> Drop for SimPermit<'_, M, T> {
    fn drop(&mut self) {
        if !self.sent {
            let next = M::with(&self.tx.chan.state, |s| {
                s.reserved -= 1;
                s.next_sender()
            });
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
        let chan = &self.chan;
        chan.anchor.touch(self.endpoint, Side::Tx);
        let woken = M::with(&chan.state, |s| {
            if !s.receiver_open {
                return Err(TrySendError::Closed(value));
            }
            if !s.queue.is_empty() || !s.has_room() {
                return Err(TrySendError::Full(value));
            }
            s.buffer.push_back(value);
            chan.anchor.resource.set_len(s.buffer.len());
            Ok(s.receiver.take())
        })?;
        chan.anchor.sent();
        chan.anchor.record(EventKind::Send);
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

impl<M: Model, T: Send> SimReceiver<M, T> {
    fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Option<T>> {
        match self.take(Some(cx.waker())) {
            Ok(v) => Poll::Ready(Some(v)),
            Err(TryRecvError::Closed) => Poll::Ready(None),
            Err(TryRecvError::Empty) => {
                self.chan.anchor.wait(WaitOp::Recv);
                Poll::Pending
            }
        }
    }

    /// Takes the next value, registering `waker` if there is none yet.
    fn take(&mut self, waker: Option<&Waker>) -> Result<T, TryRecvError> {
        let chan = &self.chan;
        chan.anchor.touch(self.endpoint, Side::Rx);
        let (value, next) = M::with(&chan.state, |s| match s.buffer.pop_front() {
            Some(v) => {
                chan.anchor.resource.set_len(s.buffer.len());
                Ok((v, s.next_sender()))
            }
            None if s.senders == 0 => Err(TryRecvError::Closed),
            None => {
                s.receiver = waker.cloned();
                Err(TryRecvError::Empty)
            }
        })?;
        chan.anchor.received();
        chan.anchor.record(EventKind::Recv);
        next.into_iter().for_each(Waker::wake);
        Ok(value)
    }

    /// Refuses further sends and, if `discard`, takes what is buffered out; returns the
    /// queued senders to wake (each then sees the closed channel) and the discarded values,
    /// both to be dropped with the lock released.
    fn shut(&mut self, discard: bool) -> (Vec<Waker>, VecDeque<T>) {
        M::with(&self.chan.state, |s| {
            s.receiver_open = false;
            let queued = s.queue.iter().map(|(_, w)| w.clone());
            let watching = s.watching.drain(..).map(|(_, w)| w);
            let senders = queued.chain(watching).collect();
            let discarded = if discard {
                std::mem::take(&mut s.buffer)
            } else {
                VecDeque::new()
            };
            (senders, discarded)
        })
    }
}

impl<M: Model, T: Send> handles::Receiver<T> for SimReceiver<M, T> {
    fn recv(&mut self) -> impl Future<Output = Option<T>> + Send + '_ {
        poll_fn(move |cx| self.poll_recv(cx))
    }

    fn try_recv(&mut self) -> Result<T, TryRecvError> {
        self.take(None)
    }

    fn close(&mut self) {
        self.shut(false).0.into_iter().for_each(Waker::wake);
    }
}

impl<M: Model, T: Send> futures_core::Stream for SimReceiver<M, T> {
    type Item = T;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<T>> {
        self.get_mut().poll_recv(cx)
    }
}

impl<M: Model, T: Send> Clone for SimSender<M, T> {
    fn clone(&self) -> Self {
        M::with(&self.chan.state, |s| s.senders += 1);
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
        let receiver = M::with(&self.chan.state, |s| {
            s.senders -= 1;
            if s.senders == 0 {
                s.receiver.take()
            } else {
                None
            }
        });
        receiver.into_iter().for_each(Waker::wake);
    }
}

impl<M: Model, T: Send> Drop for SimReceiver<M, T> {
    fn drop(&mut self) {
        self.chan.anchor.resource.release(self.endpoint);
        let (senders, discarded) = self.shut(true);
        self.chan.anchor.resource.discarded();
        senders.into_iter().for_each(Waker::wake);
        drop(discarded);
    }
}

impl<M: Model, T: Send> fmt::Debug for SimSender<M, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("SimSender").field(&self.chan.anchor).finish()
    }
}

impl<M: Model, T: Send> fmt::Debug for SimReceiver<M, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("SimReceiver")
            .field(&self.chan.anchor)
            .finish()
    }
}
