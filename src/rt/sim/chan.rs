//! The bounded multi-producer, single-consumer channel of the simulation backends.
//!
//! Senders wait in FIFO order, as with tokio's semaphore: a sender that finds others queued
//! queues behind them even if a slot is free, so no sender starves. Each freed slot wakes the
//! head of the queue; a queued send that is dropped passes its turn on. The sending side
//! is in [`send`]; the state, the receiver and the ends' bookkeeping are here.

mod send;

use std::collections::VecDeque;
use std::fmt;
use std::future::{poll_fn, Future};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use super::log::EventKind;
use super::report::{Side, WaitOp};
use super::{Anchor, Model};
use crate::rt::{handles, TryRecvError};

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

    /// The turn of the sender holding `ticket`: it may take a slot if the receiver is open,
    /// no sender is queued ahead of it and there is room; otherwise it queues (once, with
    /// `waker`). A sender that is done with the queue leaves it and gives its ticket up.
    fn turn(&mut self, ticket: &mut Option<u64>, waker: &Waker) -> Turn {
        let my_turn = self.queue.front().is_none_or(|(t, _)| Some(*t) == *ticket);
        if !self.receiver_open || (my_turn && self.has_room()) {
            ticket.take().inspect(|t| self.leave_queue(*t));
            return if self.receiver_open {
                Turn::Mine
            } else {
                Turn::Closed
            };
        }
        let ticket = *ticket.get_or_insert_with(|| self.ticket());
        match self.queue.iter_mut().find(|(t, _)| *t == ticket) {
            Some(entry) => entry.1 = waker.clone(),
            None => self.queue.push_back((ticket, waker.clone())),
        }
        Turn::Queued
    }

    /// Buffers `value`; returns the receiver to wake.
    fn push(&mut self, value: T, anchor: &Anchor<impl Model>) -> Option<Waker> {
        self.buffer.push_back(value);
        anchor.resource.set_len(self.buffer.len());
        self.receiver.take()
    }

    fn ticket(&mut self) -> u64 {
        self.next_ticket += 1;
        self.next_ticket
    }
}

/// What [`State::turn`] found.
enum Turn {
    /// The receiver is gone.
    Closed,
    /// A slot is the sender's to take now.
    Mine,
    /// The sender waits in the queue.
    Queued,
}

impl<M: Model, T: Send> SimReceiver<M, T> {
    fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Option<T>> {
        match self.take(Some(cx.waker())) {
            Ok(v) => Poll::Ready(Some(v)),
            Err(TryRecvError::Closed) => Poll::Ready(None),
            Err(TryRecvError::Empty) => {
                let me = self.chan.anchor.me();
                self.chan.anchor.wait(me, WaitOp::Recv);
                Poll::Pending
            }
        }
    }

    /// Takes the next value, registering `waker` if there is none yet.
    fn take(&mut self, waker: Option<&Waker>) -> Result<T, TryRecvError> {
        let chan = &self.chan;
        let me = chan.anchor.me();
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
        })
        .inspect_err(|_| chan.anchor.touch(me, self.endpoint, Side::Rx))?;
        chan.anchor.received(me, self.endpoint);
        chan.anchor.record(me, EventKind::Recv);
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

impl<M: Model, T: Send> Drop for SimReceiver<M, T> {
    fn drop(&mut self) {
        self.chan.anchor.resource.release(self.endpoint);
        let (senders, discarded) = self.shut(true);
        self.chan.anchor.resource.discarded();
        senders.into_iter().for_each(Waker::wake);
        drop(discarded);
    }
}

impl<M: Model, T: Send> fmt::Debug for SimReceiver<M, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("SimReceiver")
            .field(&self.chan.anchor)
            .finish()
    }
}
