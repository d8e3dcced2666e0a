//! The handle traits every backend implements: tasks, channels, cells and locks.
//!
//! Core code names these through the associated types of [`Runtime`](super::Runtime)
//! (`R::Sender<T>`, `R::JoinHandle<T>`, …) and calls them through these traits, so one body
//! of code runs on every backend with static dispatch.

use std::fmt::Debug;
use std::future::Future;
use std::ops::{Add, DerefMut};
use std::time::Duration;

use futures_core::Stream;

use super::error::{JoinError, RecvError, SendError, TryRecvError, TrySendError};

/// A point on a runtime's clock: real on tokio, virtual on the simulation backends.
pub trait Instant:
    Copy + Ord + Debug + Send + Sync + Add<Duration, Output = Self> + 'static
{
    /// Time from `earlier` to `self`, zero if `earlier` is later.
    fn saturating_duration_since(&self, earlier: Self) -> Duration;
}

/// The handle of a spawned task. Dropping it detaches the task; it keeps running.
pub trait JoinHandle<T>: Future<Output = Result<T, JoinError>> + Send + Unpin + Debug {
    /// Stops the task at its next suspension point; awaiting the handle then yields
    /// [`JoinError::Aborted`] unless the task had already completed.
    fn abort(&self);
    /// Whether the task has completed, aborted or panicked.
    fn is_finished(&self) -> bool;
}

/// The sending half of a bounded multi-producer, single-consumer channel.
pub trait Sender<T: Send>: Clone + Send + Sync + Debug {
    /// A slot reserved in the buffer by [`reserve`](Sender::reserve).
    type Permit<'a>: Permit<T>
    where
        Self: 'a;
    /// Waits for a free slot and holds it; nothing is moved until the permit sends. Dropping
    /// the future or the permit gives the slot back, so a send raced against another event
    /// loses no value. Fails if the receiver is gone.
    fn reserve(&self) -> impl Future<Output = Result<Self::Permit<'_>, SendError<()>>> + Send;
    /// Sends `value`, waiting while the buffer is full. Hands the value back if the receiver
    /// is gone.
    fn send(&self, value: T) -> impl Future<Output = Result<(), SendError<T>>> + Send + '_;
    /// Sends without waiting. Hands the value back if the buffer is full or the receiver gone.
    fn try_send(&self, value: T) -> Result<(), TrySendError<T>>;
    /// Whether the receiver is gone.
    fn is_closed(&self) -> bool;
    /// Completes once the receiver is gone or closed: a producer can stop working for a
    /// consumer that left without sending anything.
    fn closed(&self) -> impl Future<Output = ()> + Send + '_;
}

/// A reserved slot of a bounded channel. Dropping it unused frees the slot.
pub trait Permit<T>: Send + Debug {
    /// Puts `value` into the reserved slot. If the receiver left meanwhile, the value is
    /// dropped, as it would have been had it been buffered.
    fn send(self, value: T);
}

/// The receiving half of a bounded multi-producer, single-consumer channel; as a
/// [`Stream`] it yields what [`recv`](Receiver::recv) would, and ends when `recv` gives
/// `None`.
pub trait Receiver<T: Send>: Stream<Item = T> + Send + Unpin + Debug {
    /// The next value; `None` once every sender is gone and the buffer is drained.
    fn recv(&mut self) -> impl Future<Output = Option<T>> + Send + '_;
    /// The next value if one is buffered.
    fn try_recv(&mut self) -> Result<T, TryRecvError>;
    /// Refuses further sends; what is buffered can still be received.
    fn close(&mut self);
}

/// The sending half of a oneshot channel.
pub trait OneshotSender<T>: Send + Debug {
    /// Completes the channel; hands the value back if the receiver is gone.
    fn send(self, value: T) -> Result<(), T>;
    /// Whether the receiver is gone.
    fn is_closed(&self) -> bool;
}

/// The receiving half of a oneshot channel: a future of the value, or [`RecvError`] if the
/// sender was dropped without sending.
pub trait OneshotReceiver<T>: Future<Output = Result<T, RecvError>> + Send + Unpin + Debug {
    /// The value if it was sent already.
    fn try_recv(&mut self) -> Result<T, TryRecvError>;
}

/// The writing half of a latest-value cell: receivers see the most recent value.
pub trait WatchSender<T>: Send + Sync + Debug {
    /// The receiver type this sender subscribes.
    type Receiver: WatchReceiver<T>;
    /// Replaces the value and notifies receivers; hands the value back if none is left.
    fn send(&self, value: T) -> Result<(), SendError<T>>;
    /// A new receiver that has seen the current value.
    fn subscribe(&self) -> Self::Receiver;
    /// A copy of the current value.
    fn current(&self) -> T;
}

/// The reading half of a latest-value cell.
pub trait WatchReceiver<T>: Clone + Send + Sync + Debug {
    /// A copy of the current value, marking it seen.
    fn current(&mut self) -> T;
    /// Waits until a value this receiver has not seen is sent; [`RecvError`] once the sender
    /// is gone.
    fn changed(&mut self) -> impl Future<Output = Result<(), RecvError>> + Send + '_;
}

/// Completes once the latest-value cell `flag` holds `true`, or its writer is gone: the
/// stop signals of the patterns and grid.
pub(crate) async fn raised<W: WatchReceiver<bool>>(flag: &mut W) {
    while !flag.current() {
        if flag.changed().await.is_err() {
            return;
        }
    }
}

/// An asynchronous mutual-exclusion lock, fair in acquisition order.
pub trait Mutex<T>: Send + Sync {
    /// The guard; the lock is released when it is dropped.
    type Guard<'a>: DerefMut<Target = T> + Send
    where
        Self: 'a;
    /// Waits for the lock.
    fn lock(&self) -> impl Future<Output = Self::Guard<'_>> + Send;
    /// Takes the lock if it is free.
    fn try_lock(&self) -> Option<Self::Guard<'_>>;
}

/// A lock held for no await: the value is reached only inside [`with`](SyncLock::with),
/// whose closure cannot suspend, so a task never waits on it for longer than another
/// task's few instructions, and no wait on it can be part of a wait-for cycle. For state
/// touched briefly and often, where an asynchronous lock's wake-up machinery would cost
/// more than the work it guards.
pub trait SyncLock<T>: Send + Sync {
    /// Runs `apply` with the value, the lock held. `apply` must not take this lock again.
    fn with<U>(&self, apply: impl FnOnce(&mut T) -> U) -> U;
}

/// Wakes waiting tasks without a value, with tokio's `Notify` semantics: `notify_one` stores
/// one permit when nobody waits; `notify_waiters` wakes every waiter present and stores none.
pub trait Notify: Send + Sync + Debug {
    /// Wakes one waiter, or stores a permit for the next.
    fn notify_one(&self);
    /// Wakes every waiter created before this call.
    fn notify_waiters(&self);
    /// Waits for a notification.
    fn notified(&self) -> impl Future<Output = ()> + Send + '_;
}

/// A counting semaphore, fair in request order: a request for `n` permits waits behind
/// every earlier request, collecting permits as they are released, so a large request is
/// never starved by smaller ones.
pub trait Semaphore: Send + Sync + Debug {
    /// Permits held; they are released when it is dropped.
    type Permit<'a>: Send + Debug
    where
        Self: 'a;
    /// Waits for `n` permits. A request for more permits than the semaphore will ever have
    /// waits forever; dropping the future gives back what it had collected.
    fn acquire(&self, n: usize) -> impl Future<Output = Self::Permit<'_>> + Send;
    /// Takes `n` permits if they are free and no earlier request waits.
    fn try_acquire(&self, n: usize) -> Option<Self::Permit<'_>>;
    /// Adds `n` permits, handing them to waiting requests first.
    fn add_permits(&self, n: usize);
    /// How many permits are free now.
    fn available_permits(&self) -> usize;
}
