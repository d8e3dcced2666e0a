//! The asynchronous mutex, the lock held for no await and the notification primitive of
//! the simulation backends.

use std::cell::UnsafeCell;
use std::collections::VecDeque;
use std::fmt;
use std::future::Future;
use std::ops::{Deref, DerefMut};
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

use super::report::{Side, WaitOp};
use super::{Anchor, Model};
use crate::rt::handles;

/// The holder of a mutex is endpoint 0 of its resource.
const HOLDER: u64 = 0;

struct LockState {
    locked: bool,
    queue: VecDeque<(u64, Waker)>,
    next_ticket: u64,
}

/// A fair asynchronous mutex on the checker's lock.
pub struct SimMutex<M: Model, T> {
    state: M::Lock<LockState>,
    value: UnsafeCell<T>,
    anchor: Anchor<M>,
}

// SAFETY: `value` is only reached through a `SimMutexGuard`, and `state.locked` admits one
// guard at a time, so `&SimMutex` hands out `&mut T` to one task at a time, as with
// `std::sync::Mutex<T>: Sync` for `T: Send`.
unsafe impl<M: Model, T: Send> Sync for SimMutex<M, T> {}

/// The guard of a [`SimMutex`]; the lock is released when it is dropped.
#[must_use = "the lock is released as soon as the guard is dropped"]
pub struct SimMutexGuard<'a, M: Model, T> {
    mutex: &'a SimMutex<M, T>,
}

// SAFETY: the guard gives access to `T` from whichever task holds it, as a `&mut T` would.
unsafe impl<M: Model, T: Send> Send for SimMutexGuard<'_, M, T> {}

impl<M: Model, T> SimMutex<M, T> {
    pub(super) fn new(anchor: Anchor<M>, value: T) -> Self {
        let state = LockState {
            locked: false,
            queue: VecDeque::new(),
            next_ticket: 0,
        };
        Self {
            state: M::new_lock(state),
            value: UnsafeCell::new(value),
            anchor,
        }
    }

    fn acquire(&self, ticket: &mut Option<u64>, waker: Option<&Waker>) -> bool {
        let acquired = M::with(&self.state, |s| {
            let my_turn = s
                .queue
                .front()
                .map(|(t, _)| Some(*t) == *ticket)
                .unwrap_or(true);
            if my_turn && !s.locked {
                s.locked = true;
                if let Some(t) = ticket.take() {
                    s.queue.retain(|(q, _)| *q != t);
                }
                return true;
            }
            if let Some(waker) = waker {
                let t = *ticket.get_or_insert_with(|| {
                    s.next_ticket += 1;
                    s.next_ticket
                });
                match s.queue.iter_mut().find(|(q, _)| *q == t) {
                    Some(entry) => entry.1 = waker.clone(),
                    None => s.queue.push_back((t, waker.clone())),
                }
            }
            false
        });
        if acquired {
            let me = self.anchor.me();
            self.anchor.touch(me, HOLDER, Side::Tx);
        }
        acquired
    }

    fn poll_lock<'a>(
        &'a self,
        ticket: &mut Option<u64>,
        cx: &mut Context<'_>,
    ) -> Poll<SimMutexGuard<'a, M, T>> {
        if self.acquire(ticket, Some(cx.waker())) {
            return Poll::Ready(SimMutexGuard { mutex: self });
        }
        let me = self.anchor.me();
        self.anchor.wait(me, WaitOp::Lock);
        Poll::Pending
    }

    /// Leaves the queue (a dropped lock future) and wakes the next in line if the lock is free.
    fn leave(&self, ticket: Option<u64>) {
        let next = M::with(&self.state, |s| {
            if let Some(t) = ticket {
                s.queue.retain(|(q, _)| *q != t);
            }
            s.queue
                .front()
                .filter(|_| !s.locked)
                .map(|(_, w)| w.clone())
        });
        next.into_iter().for_each(Waker::wake);
    }
}

/// A pending lock; leaves the queue when dropped.
///
/// A named future rather than a closure over its fields: a `move` closure capturing
/// `pending.ticket` (a `Copy` field) would copy it out and drop `pending` at once, so a
/// cancelled lock would stay queued and block every later one.
#[must_use = "futures do nothing unless awaited"]
struct Lock<'a, M: Model, T> {
    mutex: &'a SimMutex<M, T>,
    ticket: Option<u64>,
}

impl<'a, M: Model, T> Future for Lock<'a, M, T> {
    type Output = SimMutexGuard<'a, M, T>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        this.mutex.poll_lock(&mut this.ticket, cx)
    }
}

impl<M: Model, T> Drop for Lock<'_, M, T> {
    fn drop(&mut self) {
        if self.ticket.is_some() {
            self.mutex.leave(self.ticket.take());
        }
    }
}

impl<M: Model, T: Send> handles::Mutex<T> for SimMutex<M, T> {
    type Guard<'a>
        = SimMutexGuard<'a, M, T>
    where
        Self: 'a;

    fn lock(&self) -> impl Future<Output = SimMutexGuard<'_, M, T>> + Send {
        Lock {
            mutex: self,
            ticket: None,
        }
    }

    fn try_lock(&self) -> Option<SimMutexGuard<'_, M, T>> {
        // Not `then_some`: it would build the guard either way, and dropping the unused
        // one would release the lock of the task that holds it.
        if self.acquire(&mut None, None) {
            Some(SimMutexGuard { mutex: self })
        } else {
            None
        }
    }
}

impl<M: Model, T> Deref for SimMutexGuard<'_, M, T> {
    type Target = T;

    fn deref(&self) -> &T {
        // SAFETY: this guard is the only one (see `SimMutex`).
        unsafe { &*self.mutex.value.get() }
    }
}

impl<M: Model, T> DerefMut for SimMutexGuard<'_, M, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: this guard is the only one (see `SimMutex`).
        unsafe { &mut *self.mutex.value.get() }
    }
}

impl<M: Model, T> Drop for SimMutexGuard<'_, M, T> {
    fn drop(&mut self) {
        self.mutex.anchor.resource.release(HOLDER);
        M::with(&self.mutex.state, |s| s.locked = false);
        self.mutex.leave(None);
    }
}

/// A lock held for no await, on the checker's own lock: taking it is a point where the
/// checker may switch tasks, and a holder always runs to the end of its closure, so the
/// checker sees every interleaving of what it guards and no wait on it can last.
pub struct SimSyncLock<M: Model, T: Send>(pub(super) M::Blocking<T>);

impl<M: Model, T: Send> fmt::Debug for SimSyncLock<M, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SimSyncLock")
    }
}

impl<M: Model, T: Send> handles::SyncLock<T> for SimSyncLock<M, T> {
    fn with<U>(&self, apply: impl FnOnce(&mut T) -> U) -> U {
        M::with_blocking(&self.0, apply)
    }
}

struct NotifyState {
    permit: bool,
    generation: u64,
    waiters: VecDeque<(u64, Waker, bool)>,
    next_ticket: u64,
}

/// Tokio-style notification on the checker's lock.
pub struct SimNotify<M: Model> {
    state: M::Lock<NotifyState>,
    anchor: Anchor<M>,
}

/// A pending `notified()`: the generation it was created in and its place in the queue;
/// leaves the queue when dropped, passing on a notification it was given.
#[must_use = "futures do nothing unless awaited"]
struct Notified<'a, M: Model> {
    notify: &'a SimNotify<M>,
    generation: u64,
    ticket: Option<u64>,
}

impl<M: Model> Future for Notified<'_, M> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        let notify = this.notify;
        notify.poll_notified(this, cx)
    }
}

impl<M: Model> SimNotify<M> {
    pub(super) fn new(anchor: Anchor<M>) -> Self {
        let state = NotifyState {
            permit: false,
            generation: 0,
            waiters: VecDeque::new(),
            next_ticket: 0,
        };
        Self {
            state: M::new_lock(state),
            anchor,
        }
    }

    fn poll_notified(&self, pending: &mut Notified<'_, M>, cx: &mut Context<'_>) -> Poll<()> {
        let ready = M::with(&self.state, |s| {
            let mine = pending
                .ticket
                .and_then(|t| s.waiters.iter().position(|(q, _, _)| *q == t));
            let notified = mine.is_some_and(|i| s.waiters[i].2);
            if notified
                || s.generation != pending.generation
                || (mine.is_none() && std::mem::take(&mut s.permit))
            {
                mine.map(|i| s.waiters.remove(i));
                pending.ticket = None;
                return true;
            }
            match mine {
                Some(i) => s.waiters[i].1 = cx.waker().clone(),
                None => {
                    s.next_ticket += 1;
                    pending.ticket = Some(s.next_ticket);
                    s.waiters
                        .push_back((s.next_ticket, cx.waker().clone(), false));
                }
            }
            false
        });
        if ready {
            return Poll::Ready(());
        }
        let me = self.anchor.me();
        self.anchor.wait(me, WaitOp::Notified);
        Poll::Pending
    }
}

impl NotifyState {
    fn notify_one(&mut self) -> Option<Waker> {
        match self.waiters.iter_mut().find(|(_, _, notified)| !notified) {
            Some(entry) => {
                entry.2 = true;
                Some(entry.1.clone())
            }
            None => {
                self.permit = true;
                None
            }
        }
    }
}

impl<M: Model> Drop for Notified<'_, M> {
    fn drop(&mut self) {
        let Some(ticket) = self.ticket else { return };
        let forwarded = M::with(&self.notify.state, |s| {
            let i = s.waiters.iter().position(|(q, _, _)| *q == ticket)?;
            let (_, _, notified) = s.waiters.remove(i)?;
            notified.then(|| s.notify_one()).flatten()
        });
        forwarded.into_iter().for_each(Waker::wake);
    }
}

impl<M: Model> handles::Notify for SimNotify<M> {
    fn notify_one(&self) {
        M::with(&self.state, NotifyState::notify_one)
            .into_iter()
            .for_each(Waker::wake);
    }

    fn notify_waiters(&self) {
        let woken: Vec<Waker> = M::with(&self.state, |s| {
            s.generation += 1;
            s.waiters.iter().map(|(_, w, _)| w.clone()).collect()
        });
        woken.into_iter().for_each(Waker::wake);
    }

    fn notified(&self) -> impl Future<Output = ()> + Send + '_ {
        let generation = M::with(&self.state, |s| s.generation);
        Notified {
            notify: self,
            generation,
            ticket: None,
        }
    }
}

impl<M: Model, T> fmt::Debug for SimMutex<M, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("SimMutex").field(&self.anchor).finish()
    }
}

impl<M: Model, T> fmt::Debug for SimMutexGuard<'_, M, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("SimMutexGuard")
            .field(&self.mutex.anchor)
            .finish()
    }
}

impl<M: Model> fmt::Debug for SimNotify<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("SimNotify").field(&self.anchor).finish()
    }
}
