//! The loom backend: one loom thread per task, each running `loom::future::block_on`, and
//! primitives on loom's locks, so loom explores every interleaving of their operations.
//!
//! # Limits
//! Loom runs at most 5 threads, the body's included: a model may spawn at most 4 tasks, and
//! a 5th panics with a message saying so (instead of loom's own internal assertion). Loom's
//! state space grows fast, so loom models are small protocol kernels; larger runs belong to
//! shuttle.
//!
//! # Timers
//! Loom has no clock. [`Loom`] runs on the virtual clock of [`sim`](super::sim): sleeps and
//! timeouts work, and time moves only when every task is blocked, jumping to the earliest
//! timer. The clock is bookkeeping loom does not see, so loom explores the orders of the
//! tasks' operations, not the orders of timers with equal deadlines.

use std::cell::Cell;
use std::future::Future;

use super::sim::{Model, Sim};

/// The loom model: what loom lends the shared simulation primitives.
#[derive(Debug)]
pub struct LoomModel;

/// The runtime handle of a loom model.
pub type Loom = Sim<LoomModel>;

::loom::thread_local! {
    static TASK: Cell<usize> = Cell::new(0);
}

impl Model for LoomModel {
    const NAME: &'static str = "loom";
    const MAX_TASKS: Option<usize> = Some(4);
    type Lock<T: Send> = ::loom::sync::Mutex<T>;

    fn new_lock<T: Send>(value: T) -> Self::Lock<T> {
        ::loom::sync::Mutex::new(value)
    }

    fn with<T: Send, R>(lock: &Self::Lock<T>, f: impl FnOnce(&mut T) -> R) -> R {
        f(&mut lock.lock().unwrap_or_else(|p| p.into_inner()))
    }

    type Blocking<T: Send> = ::loom::sync::Mutex<T>;

    fn new_blocking<T: Send>(value: T) -> Self::Blocking<T> {
        ::loom::sync::Mutex::new(value)
    }

    fn with_blocking<T: Send, R>(lock: &Self::Blocking<T>, f: impl FnOnce(&mut T) -> R) -> R {
        Self::with(lock, f)
    }

    fn spawn(id: usize, task: impl Future<Output = ()> + Send + 'static) {
        drop(::loom::thread::spawn(move || Self::block_on(id, task)));
    }

    fn block_on<F: Future>(id: usize, future: F) -> F::Output {
        TASK.with(|t| t.set(id));
        ::loom::future::block_on(future)
    }

    fn native_id() -> usize {
        TASK.with(Cell::get)
    }

    async fn yield_now() {
        ::loom::thread::yield_now()
    }
}
