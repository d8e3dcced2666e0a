//! The shuttle backend: tasks are `shuttle::future` tasks, primitives sit on shuttle's locks.
//!
//! Shuttle has no time of its own; [`Shuttle`] runs on the virtual clock of
//! [`sim`](super::sim), which moves only when every task is blocked.

use std::future::Future;

use super::sim::{Model, Sim};

/// The shuttle model: what shuttle lends the shared simulation primitives.
#[derive(Debug)]
pub struct ShuttleModel;

/// The runtime handle of a shuttle run.
pub type Shuttle = Sim<ShuttleModel>;

impl Model for ShuttleModel {
    const NAME: &'static str = "shuttle";
    const MAX_TASKS: Option<usize> = None;
    type Lock<T: Send> = ::shuttle::sync::Mutex<T>;

    fn new_lock<T: Send>(value: T) -> Self::Lock<T> {
        ::shuttle::sync::Mutex::new(value)
    }

    fn with<T: Send, R>(lock: &Self::Lock<T>, f: impl FnOnce(&mut T) -> R) -> R {
        f(&mut lock.lock().unwrap_or_else(|p| p.into_inner()))
    }

    fn spawn(_id: usize, task: impl Future<Output = ()> + Send + 'static) {
        drop(::shuttle::future::spawn(task));
    }

    fn block_on<F: Future>(_id: usize, future: F) -> F::Output {
        ::shuttle::future::block_on(future)
    }

    fn native_id() -> usize {
        usize::from(::shuttle::current::me())
    }

    fn yield_now() -> impl Future<Output = ()> + Send {
        ::shuttle::future::yield_now()
    }
}
