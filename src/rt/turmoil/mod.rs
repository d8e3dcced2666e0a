//! The turmoil backend: tokio inside a turmoil host, on turmoil's simulated clock.
//!
//! Turmoil runs each host on a paused current-thread tokio runtime and moves its clock, so
//! the tokio primitives are the right ones here, with two exceptions: the RNG is seeded
//! from the simulation's seed, and the watch cell wakes its waiters in FIFO order (tokio's
//! picks among its notifiers at random, from an RNG turmoil does not seed).

mod census;
mod watch;

use std::future::Future;
use std::sync::{Arc, Mutex as StdMutex};

pub use self::census::Census;
use super::{Rng, Runtime, Tokio};

/// The runtime handle of a task inside a turmoil simulation.
#[derive(Debug, Clone)]
pub struct Turmoil {
    rng: Arc<StdMutex<Rng>>,
    census: Arc<Census>,
}

impl Turmoil {
    /// A handle whose RNG stream starts from `seed`, with a census of its own.
    pub fn new(seed: u64) -> Self {
        Self {
            rng: Arc::new(StdMutex::new(Rng::new(seed))),
            census: Arc::default(),
        }
    }

    /// The tasks spawned through this handle (and its clones) that are still alive.
    pub fn census(&self) -> &Arc<Census> {
        &self.census
    }
}

impl Runtime for Turmoil {
    type Instant = <Tokio as Runtime>::Instant;
    type JoinHandle<T: Send + 'static> = <Tokio as Runtime>::JoinHandle<T>;
    type Sender<T: Send + 'static> = <Tokio as Runtime>::Sender<T>;
    type Receiver<T: Send + 'static> = <Tokio as Runtime>::Receiver<T>;
    type OneshotSender<T: Send + 'static> = <Tokio as Runtime>::OneshotSender<T>;
    type OneshotReceiver<T: Send + 'static> = <Tokio as Runtime>::OneshotReceiver<T>;
    type WatchReceiver<T: Clone + Send + Sync + 'static> = watch::FifoReceiver<T>;
    type WatchSender<T: Clone + Send + Sync + 'static> = watch::FifoSender<T>;
    type Mutex<T: Send + 'static> = <Tokio as Runtime>::Mutex<T>;
    type SyncLock<T: Send + 'static> = <Tokio as Runtime>::SyncLock<T>;
    type Notify = <Tokio as Runtime>::Notify;
    type Semaphore = <Tokio as Runtime>::Semaphore;
    type Sleep = <Tokio as Runtime>::Sleep;

    fn spawn<F>(&self, name: &str, task: F) -> Self::JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        Tokio.spawn(name, self.census.track(name, task))
    }

    fn yield_now(&self) -> impl Future<Output = ()> + Send {
        Tokio.yield_now()
    }

    fn channel<T: Send + 'static>(
        &self,
        name: &str,
        capacity: usize,
    ) -> (Self::Sender<T>, Self::Receiver<T>) {
        Tokio.channel(name, capacity)
    }

    fn oneshot<T: Send + 'static>(
        &self,
        name: &str,
    ) -> (Self::OneshotSender<T>, Self::OneshotReceiver<T>) {
        Tokio.oneshot(name)
    }

    fn watch<T: Clone + Send + Sync + 'static>(
        &self,
        _name: &str,
        initial: T,
    ) -> (Self::WatchSender<T>, Self::WatchReceiver<T>) {
        watch::channel(initial)
    }

    fn mutex<T: Send + 'static>(&self, name: &str, value: T) -> Self::Mutex<T> {
        Tokio.mutex(name, value)
    }

    fn sync_lock<T: Send + 'static>(&self, name: &str, value: T) -> Self::SyncLock<T> {
        Tokio.sync_lock(name, value)
    }

    fn notify(&self, name: &str) -> Self::Notify {
        Tokio.notify(name)
    }

    fn semaphore(&self, name: &str, permits: usize) -> Self::Semaphore {
        Tokio.semaphore(name, permits)
    }

    fn now(&self) -> Self::Instant {
        Tokio.now()
    }

    fn sleep_until(&self, deadline: Self::Instant) -> Self::Sleep {
        Tokio.sleep_until(deadline)
    }

    fn rng(&self) -> Rng {
        Rng::new(
            self.rng
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .next_u64(),
        )
    }
}
