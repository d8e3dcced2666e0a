//! Oneshot channels and latest-value cells of the simulation backends.

use std::collections::BTreeMap;
use std::fmt;
use std::future::{poll_fn, Future};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use super::log::EventKind;
use super::report::{Side, WaitOp};
use super::{Anchor, Model};
use crate::rt::{handles, RecvError, SendError, TryRecvError};

struct OnceState<T> {
    value: Option<T>,
    sender_alive: bool,
    receiver_alive: bool,
    receiver: Option<Waker>,
}

struct Once<M: Model, T: Send> {
    state: M::Lock<OnceState<T>>,
    anchor: Anchor<M>,
}

/// The sending half of a simulated oneshot.
pub struct SimOneshotSender<M: Model, T: Send>(Arc<Once<M, T>>);

/// The receiving half of a simulated oneshot.
#[must_use = "futures do nothing unless awaited"]
pub struct SimOneshotReceiver<M: Model, T: Send>(Arc<Once<M, T>>);

pub(super) fn oneshot<M: Model, T: Send>(
    anchor: Anchor<M>,
) -> (SimOneshotSender<M, T>, SimOneshotReceiver<M, T>) {
    anchor.endpoint(Side::Tx);
    anchor.endpoint(Side::Rx);
    let state = OnceState {
        value: None,
        sender_alive: true,
        receiver_alive: true,
        receiver: None,
    };
    let once = Arc::new(Once {
        state: M::new_lock(state),
        anchor,
    });
    (SimOneshotSender(once.clone()), SimOneshotReceiver(once))
}

impl<M: Model, T: Send> handles::OneshotSender<T> for SimOneshotSender<M, T> {
    fn send(self, value: T) -> Result<(), T> {
        let once = &self.0;
        let woken = M::with(&once.state, |s| {
            if !s.receiver_alive {
                return Err(value);
            }
            s.value = Some(value);
            Ok(s.receiver.take())
        })?;
        let me = once.anchor.me();
        once.anchor.sent(me, 0);
        once.anchor.record(me, EventKind::Send);
        woken.into_iter().for_each(Waker::wake);
        Ok(())
    }

    fn is_closed(&self) -> bool {
        M::with(&self.0.state, |s| !s.receiver_alive)
    }
}

impl<M: Model, T: Send> SimOneshotReceiver<M, T> {
    fn take(&mut self, waker: Option<&Waker>) -> Result<T, TryRecvError> {
        let once = &self.0;
        let me = once.anchor.me();
        let value = M::with(&once.state, |s| match s.value.take() {
            Some(v) => Ok(v),
            None if !s.sender_alive => Err(TryRecvError::Closed),
            None => {
                s.receiver = waker.cloned();
                Err(TryRecvError::Empty)
            }
        })
        .inspect_err(|_| once.anchor.touch(me, 1, Side::Rx))?;
        once.anchor.received(me, 1);
        once.anchor.record(me, EventKind::Recv);
        Ok(value)
    }
}

impl<M: Model, T: Send> Future for SimOneshotReceiver<M, T> {
    type Output = Result<T, RecvError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        match this.take(Some(cx.waker())) {
            Ok(v) => Poll::Ready(Ok(v)),
            Err(TryRecvError::Closed) => Poll::Ready(Err(RecvError)),
            Err(TryRecvError::Empty) => {
                let me = this.0.anchor.me();
                this.0.anchor.wait(me, WaitOp::Recv);
                Poll::Pending
            }
        }
    }
}

impl<M: Model, T: Send> handles::OneshotReceiver<T> for SimOneshotReceiver<M, T> {
    fn try_recv(&mut self) -> Result<T, TryRecvError> {
        self.take(None)
    }
}

impl<M: Model, T: Send> Drop for SimOneshotSender<M, T> {
    fn drop(&mut self) {
        self.0.anchor.resource.release(0);
        let woken = M::with(&self.0.state, |s| {
            s.sender_alive = false;
            s.receiver.take()
        });
        woken.into_iter().for_each(Waker::wake);
    }
}

impl<M: Model, T: Send> Drop for SimOneshotReceiver<M, T> {
    fn drop(&mut self) {
        self.0.anchor.resource.release(1);
        self.0.anchor.resource.discarded();
        let dropped = M::with(&self.0.state, |s| {
            s.receiver_alive = false;
            s.value.take()
        });
        drop(dropped);
    }
}

struct WatchState<T> {
    value: T,
    version: u64,
    sender_alive: bool,
    receivers: usize,
    waiters: BTreeMap<u64, Waker>,
}

struct Watch<M: Model, T: Send> {
    state: M::Lock<WatchState<T>>,
    anchor: Anchor<M>,
}

/// The writing half of a simulated latest-value cell.
pub struct SimWatchSender<M: Model, T: Send>(Arc<Watch<M, T>>);

/// The reading half of a simulated latest-value cell.
pub struct SimWatchReceiver<M: Model, T: Send> {
    watch: Arc<Watch<M, T>>,
    seen: u64,
    endpoint: u64,
}

pub(super) fn watch<M: Model, T: Send>(
    anchor: Anchor<M>,
    initial: T,
) -> (SimWatchSender<M, T>, SimWatchReceiver<M, T>) {
    anchor.endpoint(Side::Tx);
    let endpoint = anchor.endpoint(Side::Rx);
    let state = WatchState {
        value: initial,
        version: 0,
        sender_alive: true,
        receivers: 1,
        waiters: BTreeMap::new(),
    };
    let watch = Arc::new(Watch {
        state: M::new_lock(state),
        anchor,
    });
    (
        SimWatchSender(watch.clone()),
        SimWatchReceiver {
            watch,
            seen: 0,
            endpoint,
        },
    )
}

impl<M: Model, T: Clone + Send + Sync> handles::WatchSender<T> for SimWatchSender<M, T> {
    type Receiver = SimWatchReceiver<M, T>;

    fn send(&self, value: T) -> Result<(), SendError<T>> {
        let watch = &self.0;
        let me = watch.anchor.me();
        watch.anchor.touch(me, 0, Side::Tx);
        let (old, woken) = M::with(&watch.state, |s| {
            if s.receivers == 0 {
                return Err(SendError(value));
            }
            s.version += 1;
            Ok((
                std::mem::replace(&mut s.value, value),
                std::mem::take(&mut s.waiters),
            ))
        })?;
        drop(old);
        watch.anchor.record(me, EventKind::Send);
        woken.into_values().for_each(Waker::wake);
        Ok(())
    }

    fn subscribe(&self) -> SimWatchReceiver<M, T> {
        let me = self.0.anchor.me();
        self.0.anchor.touch(me, 0, Side::Tx);
        let seen = M::with(&self.0.state, |s| {
            s.receivers += 1;
            s.version
        });
        let endpoint = self.0.anchor.endpoint(Side::Rx);
        SimWatchReceiver {
            watch: self.0.clone(),
            seen,
            endpoint,
        }
    }

    fn current(&self) -> T {
        M::with(&self.0.state, |s| s.value.clone())
    }
}

impl<M: Model, T: Clone + Send + Sync> SimWatchReceiver<M, T> {
    fn poll_changed(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), RecvError>> {
        let watch = &self.watch;
        let me = watch.anchor.me();
        watch.anchor.touch(me, self.endpoint, Side::Rx);
        let (seen, endpoint) = (self.seen, self.endpoint);
        let polled = M::with(&watch.state, |s| {
            if s.version != seen {
                s.waiters.remove(&endpoint);
                return Poll::Ready(Ok(s.version));
            }
            if !s.sender_alive {
                return Poll::Ready(Err(RecvError));
            }
            s.waiters.insert(endpoint, cx.waker().clone());
            Poll::Pending
        });
        match polled {
            Poll::Ready(Ok(version)) => {
                self.seen = version;
                Poll::Ready(Ok(()))
            }
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => {
                watch.anchor.wait(me, WaitOp::Changed);
                Poll::Pending
            }
        }
    }
}

impl<M: Model, T: Clone + Send + Sync> handles::WatchReceiver<T> for SimWatchReceiver<M, T> {
    fn current(&mut self) -> T {
        let (value, version) = M::with(&self.watch.state, |s| (s.value.clone(), s.version));
        self.seen = version;
        value
    }

    fn changed(&mut self) -> impl Future<Output = Result<(), RecvError>> + Send + '_ {
        poll_fn(move |cx| self.poll_changed(cx))
    }
}

impl<M: Model, T: Send> Clone for SimWatchReceiver<M, T> {
    fn clone(&self) -> Self {
        M::with_commuting(&self.watch.state, |s| s.receivers += 1);
        let endpoint = self.watch.anchor.endpoint(Side::Rx);
        Self {
            watch: self.watch.clone(),
            seen: self.seen,
            endpoint,
        }
    }
}

impl<M: Model, T: Send> Drop for SimWatchSender<M, T> {
    fn drop(&mut self) {
        self.0.anchor.resource.release(0);
        let woken = M::with(&self.0.state, |s| {
            s.sender_alive = false;
            std::mem::take(&mut s.waiters)
        });
        woken.into_values().for_each(Waker::wake);
    }
}

impl<M: Model, T: Send> Drop for SimWatchReceiver<M, T> {
    fn drop(&mut self) {
        self.watch.anchor.resource.release(self.endpoint);
        M::with(&self.watch.state, |s| {
            s.receivers -= 1;
            s.waiters.remove(&self.endpoint);
        });
    }
}

macro_rules! debug_by_anchor {
    ($($ty:ident => $anchor:tt),*) => {$(
        impl<M: Model, T: Send> fmt::Debug for $ty<M, T> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_tuple(stringify!($ty)).field(&self.$anchor.anchor).finish()
            }
        }
    )*};
}

debug_by_anchor!(SimOneshotSender => 0, SimOneshotReceiver => 0, SimWatchSender => 0, SimWatchReceiver => watch);
