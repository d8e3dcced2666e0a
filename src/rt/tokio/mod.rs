//! The production backend: a zero-sized [`Tokio`] whose methods forward to tokio.
//!
//! Names given to tasks and channels are dropped here (tokio's task names need
//! `tokio_unstable`); everything inlines to the tokio call it wraps, but for the bounded
//! channel, which is the backend's own (`chan.rs`): its buffer is allocated once, when the
//! channel is made.

use std::cell::RefCell;
use std::future::Future;
use std::hash::{BuildHasher, RandomState};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use ::tokio::sync::{oneshot, watch};

mod chan;

pub use chan::{ChanPermit, ChanReceiver, ChanSender};

use super::{handles, JoinError, RecvError, Rng, Runtime, SendError, TryRecvError};

/// The tokio backend. Spawning needs a tokio runtime context, as `tokio::spawn` does.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tokio;

thread_local! {
    static THREAD_RNG: RefCell<Rng> = RefCell::new(Rng::new(RandomState::new().hash_one(0u8)));
}

impl Tokio {
    /// Seeds the RNG stream of the calling thread, so that a current-thread runtime hands out
    /// reproducible RNGs. Without it every thread starts from operating-system entropy.
    pub fn seed_thread_rng(seed: u64) {
        THREAD_RNG.with(|r| *r.borrow_mut() = Rng::new(seed));
    }
}

/// The handle of a tokio task.
#[must_use = "dropping the handle detaches the task"]
pub struct TaskHandle<T>(::tokio::task::JoinHandle<T>);

/// The sending half of a tokio oneshot.
pub struct OnceSender<T>(oneshot::Sender<T>);

/// The receiving half of a tokio oneshot.
#[must_use = "futures do nothing unless awaited"]
pub struct OnceReceiver<T>(oneshot::Receiver<T>);

/// The writing half of a tokio watch cell.
pub struct CellSender<T>(watch::Sender<T>);

/// The reading half of a tokio watch cell.
pub struct CellReceiver<T>(watch::Receiver<T>);

impl<T> Clone for CellReceiver<T> {
    fn clone(&self) -> Self {
        Self(self.0.clone())
    }
}

macro_rules! debug_as_inner {
    ($($ty:ident),*) => {$(
        impl<T> std::fmt::Debug for $ty<T> {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(stringify!($ty))
            }
        }
    )*};
}

debug_as_inner!(
    TaskHandle,
    ChanSender,
    ChanReceiver,
    OnceSender,
    OnceReceiver,
    CellSender,
    CellReceiver
);

impl Runtime for Tokio {
    type Instant = ::tokio::time::Instant;
    type JoinHandle<T: Send + 'static> = TaskHandle<T>;
    type Sender<T: Send + 'static> = ChanSender<T>;
    type Receiver<T: Send + 'static> = ChanReceiver<T>;
    type OneshotSender<T: Send + 'static> = OnceSender<T>;
    type OneshotReceiver<T: Send + 'static> = OnceReceiver<T>;
    type WatchReceiver<T: Clone + Send + Sync + 'static> = CellReceiver<T>;
    type WatchSender<T: Clone + Send + Sync + 'static> = CellSender<T>;
    type Mutex<T: Send + 'static> = ::tokio::sync::Mutex<T>;
    type SyncLock<T: Send + 'static> = std::sync::Mutex<T>;
    type Notify = ::tokio::sync::Notify;
    type Semaphore = ::tokio::sync::Semaphore;
    type Sleep = ::tokio::time::Sleep;

    #[inline]
    fn spawn<F>(&self, _name: &str, task: F) -> TaskHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        TaskHandle(::tokio::task::spawn(task))
    }

    #[inline]
    fn yield_now(&self) -> impl Future<Output = ()> + Send {
        ::tokio::task::yield_now()
    }

    #[inline]
    fn channel<T: Send + 'static>(
        &self,
        _name: &str,
        capacity: usize,
    ) -> (ChanSender<T>, ChanReceiver<T>) {
        assert!(capacity > 0, "channel capacity must be positive");
        chan::channel(capacity)
    }

    #[inline]
    fn oneshot<T: Send + 'static>(&self, _name: &str) -> (OnceSender<T>, OnceReceiver<T>) {
        let (tx, rx) = oneshot::channel();
        (OnceSender(tx), OnceReceiver(rx))
    }

    #[inline]
    fn watch<T: Clone + Send + Sync + 'static>(
        &self,
        _name: &str,
        initial: T,
    ) -> (CellSender<T>, CellReceiver<T>) {
        let (tx, rx) = watch::channel(initial);
        (CellSender(tx), CellReceiver(rx))
    }

    #[inline]
    fn mutex<T: Send + 'static>(&self, _name: &str, value: T) -> Self::Mutex<T> {
        ::tokio::sync::Mutex::new(value)
    }

    #[inline]
    fn sync_lock<T: Send + 'static>(&self, _name: &str, value: T) -> Self::SyncLock<T> {
        std::sync::Mutex::new(value)
    }

    #[inline]
    fn notify(&self, _name: &str) -> Self::Notify {
        ::tokio::sync::Notify::new()
    }

    #[inline]
    fn semaphore(&self, _name: &str, permits: usize) -> Self::Semaphore {
        ::tokio::sync::Semaphore::new(permits)
    }

    #[inline]
    fn now(&self) -> Self::Instant {
        ::tokio::time::Instant::now()
    }

    #[inline]
    fn sleep(&self, duration: Duration) -> Self::Sleep {
        ::tokio::time::sleep(duration)
    }

    #[inline]
    fn sleep_until(&self, deadline: Self::Instant) -> Self::Sleep {
        ::tokio::time::sleep_until(deadline)
    }

    fn rng(&self) -> Rng {
        THREAD_RNG.with(|r| Rng::new(r.borrow_mut().next_u64()))
    }
}

impl handles::Instant for ::tokio::time::Instant {
    #[inline]
    fn saturating_duration_since(&self, earlier: Self) -> Duration {
        ::tokio::time::Instant::saturating_duration_since(self, earlier)
    }
}

impl<T> Future for TaskHandle<T> {
    type Output = Result<T, JoinError>;

    #[inline]
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        Pin::new(&mut self.0).poll(cx).map(|r| {
            r.map_err(|e| match e.try_into_panic() {
                Ok(payload) => JoinError::from_panic(payload.as_ref()),
                Err(_) => JoinError::Aborted,
            })
        })
    }
}

impl<T: Send> handles::JoinHandle<T> for TaskHandle<T> {
    #[inline]
    fn abort(&self) {
        self.0.abort();
    }

    #[inline]
    fn is_finished(&self) -> bool {
        self.0.is_finished()
    }
}

impl<T: Send> handles::OneshotSender<T> for OnceSender<T> {
    #[inline]
    fn send(self, value: T) -> Result<(), T> {
        self.0.send(value)
    }

    #[inline]
    fn is_closed(&self) -> bool {
        self.0.is_closed()
    }
}

impl<T> Future for OnceReceiver<T> {
    type Output = Result<T, RecvError>;

    #[inline]
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        Pin::new(&mut self.0).poll(cx).map_err(|_| RecvError)
    }
}

impl<T: Send> handles::OneshotReceiver<T> for OnceReceiver<T> {
    #[inline]
    fn try_recv(&mut self) -> Result<T, TryRecvError> {
        self.0.try_recv().map_err(|e| match e {
            oneshot::error::TryRecvError::Empty => TryRecvError::Empty,
            oneshot::error::TryRecvError::Closed => TryRecvError::Closed,
        })
    }
}

impl<T: Clone + Send + Sync> handles::WatchSender<T> for CellSender<T> {
    type Receiver = CellReceiver<T>;

    #[inline]
    fn send(&self, value: T) -> Result<(), SendError<T>> {
        self.0.send(value).map_err(|e| SendError(e.0))
    }

    #[inline]
    fn subscribe(&self) -> CellReceiver<T> {
        CellReceiver(self.0.subscribe())
    }

    #[inline]
    fn current(&self) -> T {
        self.0.borrow().clone()
    }
}

impl<T: Clone + Send + Sync> handles::WatchReceiver<T> for CellReceiver<T> {
    #[inline]
    fn current(&mut self) -> T {
        self.0.borrow_and_update().clone()
    }

    #[inline]
    async fn changed(&mut self) -> Result<(), RecvError> {
        self.0.changed().await.map_err(|_| RecvError)
    }
}

impl<T: Send> handles::Mutex<T> for ::tokio::sync::Mutex<T> {
    type Guard<'a>
        = ::tokio::sync::MutexGuard<'a, T>
    where
        T: 'a;

    #[inline]
    fn lock(&self) -> impl Future<Output = Self::Guard<'_>> + Send {
        ::tokio::sync::Mutex::lock(self)
    }

    #[inline]
    fn try_lock(&self) -> Option<Self::Guard<'_>> {
        ::tokio::sync::Mutex::try_lock(self).ok()
    }
}

impl<T: Send> handles::SyncLock<T> for std::sync::Mutex<T> {
    #[inline]
    fn with<U>(&self, apply: impl FnOnce(&mut T) -> U) -> U {
        apply(
            &mut self
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        )
    }
}

impl handles::Notify for ::tokio::sync::Notify {
    #[inline]
    fn notify_one(&self) {
        ::tokio::sync::Notify::notify_one(self);
    }

    #[inline]
    fn notify_waiters(&self) {
        ::tokio::sync::Notify::notify_waiters(self);
    }

    #[inline]
    fn notified(&self) -> impl Future<Output = ()> + Send + '_ {
        ::tokio::sync::Notify::notified(self)
    }
}

impl handles::Semaphore for ::tokio::sync::Semaphore {
    type Permit<'a> = ::tokio::sync::SemaphorePermit<'a>;

    #[inline]
    async fn acquire(&self, n: usize) -> Self::Permit<'_> {
        let n = u32::try_from(n).unwrap_or(u32::MAX);
        match self.acquire_many(n).await {
            Ok(permit) => permit,
            Err(_) => unreachable!("a runtime semaphore is never closed"),
        }
    }

    #[inline]
    fn try_acquire(&self, n: usize) -> Option<Self::Permit<'_>> {
        self.try_acquire_many(u32::try_from(n).ok()?).ok()
    }

    #[inline]
    fn add_permits(&self, n: usize) {
        ::tokio::sync::Semaphore::add_permits(self, n);
    }

    #[inline]
    fn available_permits(&self) -> usize {
        ::tokio::sync::Semaphore::available_permits(self)
    }
}
