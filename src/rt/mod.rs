//! The one small trait every part of sigrelay is written against, and its backends.
//!
//! [`Runtime`] gives core code everything it needs from the outside world: named tasks,
//! bounded channels, oneshots, latest-value cells, locks (held across awaits or for none),
//! notifications, time and a seeded
//! RNG. Static dispatch throughout: the [`Tokio`] backend is a zero-sized type whose methods
//! inline to tokio.
//!
//! | backend | tasks | time | explores |
//! |---|---|---|---|
//! | [`Tokio`] | tokio tasks | real (or tokio's paused clock in tests) | nothing: production |
//! | `Shuttle` (`rt-shuttle`) | `shuttle::future` tasks | virtual, synctest rule | random, PCT, DFS schedules |
//! | `Loom` (`rt-loom`) | one loom thread per task | virtual, synctest rule | every interleaving, bounded |
//! | `Turmoil` (`rt-turmoil`) | tokio tasks in a turmoil host | turmoil's simulated clock | seeds, network faults |
//!
//! Shuttle and loom share one implementation of the primitives ([`sim`]) built on the
//! checker's own locks, so every blocking point is a scheduling point the checker sees, and
//! every blocked task is known by name for the wait-for graph of a deadlock report.
//!
//! Core code selects with [`select!`](crate::select), which is always biased: an unbiased
//! select draws from a thread-local RNG that no checker controls.

pub mod coverage;
mod error;
mod handles;
mod rng;
mod slots;
mod time;
pub mod tokio;

#[cfg(feature = "rt-loom")]
pub mod loom;
#[cfg(any(feature = "rt-shuttle", feature = "rt-loom", feature = "rt-turmoil"))]
pub(crate) mod record;
#[cfg(feature = "rt-shuttle")]
pub mod shuttle;
#[cfg(any(feature = "rt-shuttle", feature = "rt-loom"))]
pub mod sim;
#[cfg(feature = "rt-turmoil")]
pub mod turmoil;

use std::fmt::Debug;
use std::future::Future;
use std::time::Duration;

pub(crate) use self::error::panic_message;
pub use self::error::{Elapsed, JoinError, RecvError, SendError, TryRecvError, TrySendError};
pub(crate) use self::handles::raised;
pub use self::handles::{
    Instant, JoinHandle, Mutex, Notify, OneshotReceiver, OneshotSender, Permit, Receiver,
    Semaphore, Sender, SyncLock, WatchReceiver, WatchSender,
};
#[cfg(feature = "rt-loom")]
pub use self::loom::Loom;
pub use self::rng::Rng;
#[cfg(feature = "rt-shuttle")]
pub use self::shuttle::Shuttle;
pub use self::time::{Interval, Timeout};
pub use self::tokio::Tokio;
#[cfg(feature = "rt-turmoil")]
pub use self::turmoil::Turmoil;

/// The handle traits, imported anonymously: `use sigrelay::rt::prelude::*;` makes every
/// method of every backend's handles callable without clashing with tokio's type names.
pub mod prelude {
    pub use super::{
        Instant as _, JoinHandle as _, Mutex as _, Notify as _, OneshotReceiver as _,
        OneshotSender as _, Permit as _, Receiver as _, Runtime, Semaphore as _, Sender as _,
        SyncLock as _, WatchReceiver as _, WatchSender as _,
    };
}

/// Everything core code may use from the outside world.
///
/// Channels and cells are named: the simulation backends put the name and the creation site
/// into deadlock reports and event logs; tokio ignores them.
pub trait Runtime: Clone + Send + Sync + Debug + 'static {
    /// A point on this runtime's clock.
    type Instant: Instant;
    /// The handle of a spawned task.
    type JoinHandle<T: Send + 'static>: JoinHandle<T>;
    /// The sending half of a bounded channel.
    type Sender<T: Send + 'static>: Sender<T>;
    /// The receiving half of a bounded channel.
    type Receiver<T: Send + 'static>: Receiver<T>;
    /// The sending half of a oneshot.
    type OneshotSender<T: Send + 'static>: OneshotSender<T>;
    /// The receiving half of a oneshot.
    type OneshotReceiver<T: Send + 'static>: OneshotReceiver<T>;
    /// The receiving half of a latest-value cell.
    type WatchReceiver<T: Clone + Send + Sync + 'static>: WatchReceiver<T>;
    /// The writing half of a latest-value cell.
    type WatchSender<T: Clone + Send + Sync + 'static>: WatchSender<
        T,
        Receiver = Self::WatchReceiver<T>,
    >;
    /// An asynchronous lock.
    type Mutex<T: Send + 'static>: Mutex<T>;
    /// A lock held for no await.
    type SyncLock<T: Send + 'static>: SyncLock<T>;
    /// A notification primitive.
    type Notify: Notify;
    /// A counting semaphore.
    type Semaphore: Semaphore;
    /// The future of [`sleep`](Runtime::sleep) and [`sleep_until`](Runtime::sleep_until).
    type Sleep: Future<Output = ()> + Send + 'static;

    /// Spawns a named task. The name shows in deadlock reports, leak reports and event logs.
    #[must_use = "dropping the handle detaches the task; bind it to `_task` to say so"]
    fn spawn<F>(&self, name: &str, task: F) -> Self::JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static;

    /// Lets other tasks run before this one continues.
    fn yield_now(&self) -> impl Future<Output = ()> + Send;

    /// A bounded channel holding at most `capacity` values; `send` waits while it is full.
    ///
    /// # Panics
    /// If `capacity` is zero: a rendezvous channel is not a bounded buffer.
    #[track_caller]
    fn channel<T: Send + 'static>(
        &self,
        name: &str,
        capacity: usize,
    ) -> (Self::Sender<T>, Self::Receiver<T>);

    /// A channel carrying exactly one value.
    #[track_caller]
    fn oneshot<T: Send + 'static>(
        &self,
        name: &str,
    ) -> (Self::OneshotSender<T>, Self::OneshotReceiver<T>);

    /// A latest-value cell holding `initial`.
    #[track_caller]
    fn watch<T: Clone + Send + Sync + 'static>(
        &self,
        name: &str,
        initial: T,
    ) -> (Self::WatchSender<T>, Self::WatchReceiver<T>);

    /// An asynchronous lock around `value`.
    #[track_caller]
    fn mutex<T: Send + 'static>(&self, name: &str, value: T) -> Self::Mutex<T>;

    /// A lock around `value` that is held for no await ([`SyncLock::with`]).
    #[track_caller]
    fn sync_lock<T: Send + 'static>(&self, name: &str, value: T) -> Self::SyncLock<T>;

    /// A notification primitive.
    #[track_caller]
    fn notify(&self, name: &str) -> Self::Notify;

    /// A counting semaphore holding `permits` permits.
    #[track_caller]
    fn semaphore(&self, name: &str, permits: usize) -> Self::Semaphore;

    /// The current time on this runtime's clock.
    fn now(&self) -> Self::Instant;

    /// Completes once `duration` has passed on this runtime's clock.
    fn sleep(&self, duration: Duration) -> Self::Sleep {
        self.sleep_until(self.now() + duration)
    }

    /// Completes once this runtime's clock reaches `deadline`.
    fn sleep_until(&self, deadline: Self::Instant) -> Self::Sleep;

    /// Runs `future` for at most `duration`. The future is polled before the deadline is
    /// checked, so one that is ready at the deadline completes.
    fn timeout<F: Future>(&self, duration: Duration, future: F) -> Timeout<F, Self::Sleep> {
        Timeout::new(future, self.sleep(duration))
    }

    /// Runs `future` until this runtime's clock reaches `deadline`, with the precedence of
    /// [`timeout`](Runtime::timeout): a future ready at the deadline completes.
    fn timeout_at<F: Future>(&self, deadline: Self::Instant, future: F) -> Timeout<F, Self::Sleep> {
        Timeout::new(future, self.sleep_until(deadline))
    }

    /// Ticks every `period`, the first tick at once. A consumer that falls behind gets one
    /// late tick at once and then the next on the original grid; the ticks it missed are
    /// skipped and counted, never burst ([`Interval::tick`]).
    ///
    /// # Panics
    /// If `period` is zero.
    fn interval(&self, period: Duration) -> Interval<Self> {
        Interval::new(self.clone(), period)
    }

    /// A new RNG, seeded by the next value of the runtime's own stream: on every backend the
    /// `n`th RNG of a runtime seeded with `s` is `Rng::new` of the `n`th value of
    /// `Rng::new(s)`. The simulation backends seed that stream with the run's seed; tokio
    /// with operating-system entropy unless [`Tokio::seed_thread_rng`] was called.
    fn rng(&self) -> Rng;
}
