//! What a model checker lends the shared primitives: its lock, its tasks and the id of the
//! task that runs.

use std::fmt;
use std::future::Future;

/// What a model checker lends the shared primitives. Implemented by the shuttle and loom
/// backends only.
pub trait Model: fmt::Debug + Send + Sync + 'static {
    /// The backend's name in reports.
    const NAME: &'static str;
    /// How many tasks besides the body the checker can run at once, if it is limited.
    const MAX_TASKS: Option<usize>;
    /// The lock around a primitive's state.
    type Lock<T: Send>: Send + Sync;
    /// A new lock around `value`.
    fn new_lock<T: Send>(value: T) -> Self::Lock<T>;
    /// Runs `f` with the lock held, after a point where the checker may switch tasks. `f`
    /// never blocks.
    fn with<T: Send, R>(lock: &Self::Lock<T>, f: impl FnOnce(&mut T) -> R) -> R;
    /// As [`with`](Self::with), for an operation that commutes with every other on the same
    /// state, so that no schedule needs a switch before it: cloning an end while holding one.
    fn with_commuting<T: Send, R>(lock: &Self::Lock<T>, f: impl FnOnce(&mut T) -> R) -> R {
        Self::with(lock, f)
    }
    /// The checker's own blocking lock, for [`SyncLock`](crate::rt::SyncLock): unlike
    /// [`Lock`](Self::Lock), it may be held across the checker's switch points (what a
    /// closure under it does may switch tasks), and a task that finds it held waits.
    type Blocking<T: Send>: Send + Sync;
    /// A new blocking lock around `value`.
    fn new_blocking<T: Send>(value: T) -> Self::Blocking<T>;
    /// Runs `f` with the blocking lock held, after a point where the checker may switch.
    fn with_blocking<T: Send, R>(lock: &Self::Blocking<T>, f: impl FnOnce(&mut T) -> R) -> R;
    /// The checker resumed the running task: called at the start of each poll of a task.
    fn resumed() {}
    /// Starts a task that the checker schedules; `id` is its id in the run.
    fn spawn(id: usize, task: impl Future<Output = ()> + Send + 'static);
    /// Drives the body of a run to completion on the checker's main thread.
    fn block_on<F: Future>(id: usize, future: F) -> F::Output;
    /// The checker's id of the running task.
    fn native_id() -> usize;
    /// A checker-visible yield.
    fn yield_now() -> impl Future<Output = ()> + Send;
}
