//! A latest-value cell whose wake-ups follow the order receivers started waiting.
//!
//! tokio's `watch` spreads its waiters over eight notifiers picked at random from the
//! runtime's RNG, which turmoil does not seed: two runs of one seed then wake the routines
//! of a group in different orders, and their logs differ. This cell keeps one FIFO
//! `Notify`, so a turmoil run is as deterministic as its seed.

use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use tokio::sync::Notify;

use crate::rt::error::{RecvError, SendError};
use crate::rt::handles;

struct State<T> {
    value: T,
    version: u64,
    receivers: usize,
    sender_alive: bool,
}

struct Shared<T> {
    state: Mutex<State<T>>,
    changed: Notify,
}

impl<T> Shared<T> {
    fn lock(&self) -> MutexGuard<'_, State<T>> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The writing half.
pub struct FifoSender<T>(Arc<Shared<T>>);

/// The reading half.
pub struct FifoReceiver<T> {
    shared: Arc<Shared<T>>,
    seen: u64,
}

/// A cell holding `initial`.
pub(crate) fn channel<T>(initial: T) -> (FifoSender<T>, FifoReceiver<T>) {
    let state = State {
        value: initial,
        version: 0,
        receivers: 1,
        sender_alive: true,
    };
    let shared = Arc::new(Shared {
        state: Mutex::new(state),
        changed: Notify::new(),
    });
    let receiver = FifoReceiver {
        shared: shared.clone(),
        seen: 0,
    };
    (FifoSender(shared), receiver)
}

impl<T: Clone + Send + Sync> handles::WatchSender<T> for FifoSender<T> {
    type Receiver = FifoReceiver<T>;

    fn send(&self, value: T) -> Result<(), SendError<T>> {
        let mut state = self.0.lock();
        if state.receivers == 0 {
            return Err(SendError(value));
        }
        state.value = value;
        state.version += 1;
        drop(state);
        self.0.changed.notify_waiters();
        Ok(())
    }

    fn subscribe(&self) -> FifoReceiver<T> {
        let mut state = self.0.lock();
        state.receivers += 1;
        let seen = state.version;
        drop(state);
        FifoReceiver {
            shared: self.0.clone(),
            seen,
        }
    }

    fn current(&self) -> T {
        self.0.lock().value.clone()
    }
}

impl<T: Clone + Send + Sync> handles::WatchReceiver<T> for FifoReceiver<T> {
    fn current(&mut self) -> T {
        let state = self.shared.lock();
        self.seen = state.version;
        state.value.clone()
    }

    async fn changed(&mut self) -> Result<(), RecvError> {
        loop {
            let notified = self.shared.changed.notified();
            let mut notified = std::pin::pin!(notified);
            notified.as_mut().enable();
            {
                let state = self.shared.lock();
                if state.version != self.seen {
                    self.seen = state.version;
                    return Ok(());
                }
                if !state.sender_alive {
                    return Err(RecvError);
                }
            }
            notified.await;
        }
    }
}

impl<T> Drop for FifoSender<T> {
    fn drop(&mut self) {
        self.0.lock().sender_alive = false;
        self.0.changed.notify_waiters();
    }
}

impl<T> Clone for FifoReceiver<T> {
    fn clone(&self) -> Self {
        self.shared.lock().receivers += 1;
        FifoReceiver {
            shared: self.shared.clone(),
            seen: self.seen,
        }
    }
}

impl<T> Drop for FifoReceiver<T> {
    fn drop(&mut self) {
        self.shared.lock().receivers -= 1;
    }
}

impl<T> fmt::Debug for FifoSender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("FifoSender")
    }
}

impl<T> fmt::Debug for FifoReceiver<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FifoReceiver")
            .field("seen", &self.seen)
            .finish()
    }
}
