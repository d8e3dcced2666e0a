//! The bounded multi-producer, single-consumer channel of the simulation backends: the
//! bookkeeping of [`Slots`] (FIFO senders, a dropped send passing its turn on) under the
//! model's lock, every step told to the wait-for graph and the event log. The sending side
//! is in [`send`]; the receiver and the ends' bookkeeping are here.

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
use crate::rt::slots::{Slots, Turn};
use crate::rt::{handles, TryRecvError};

struct Chan<M: Model, T: Send> {
    state: M::Lock<Slots<T>>,
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
    let state = Slots::new(capacity);
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

/// Buffers `value`, keeping the resource's length for the reports; returns the receiver
/// to wake.
fn push<M: Model, T>(s: &mut Slots<T>, value: T, anchor: &Anchor<M>) -> Option<Waker> {
    let receiver = s.push(value);
    anchor.resource.set_len(s.buffer.len());
    receiver
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
        M::with(&self.chan.state, |s| s.shut(discard))
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
