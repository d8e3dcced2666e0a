//! The shuttle backend: tasks are `shuttle::future` tasks; the primitives' state sits behind
//! plain locks, with one shuttle scheduling point before each operation.
//!
//! Shuttle has no time of its own; [`Shuttle`] runs on the virtual clock of
//! [`sim`](super::sim), which moves only when every task is blocked.
//!
//! # Why one scheduling point per operation is enough
//!
//! Shuttle runs one task at a time, so a primitive's state needs no checker lock, only a
//! point where shuttle may switch tasks *before* each operation that another task can see
//! (shuttle's own rule: then every order of two tasks' operations is one that some schedule
//! runs). A shuttle mutex would add a second point on release, which no other operation can
//! tell from the point before the next one, and would double every step of the search.
//!
//! The point is left out when the task was scheduled and has done nothing visible since: the
//! scheduler's choice to resume it was a scheduling point right before this operation. The
//! count of shuttle's scheduling points (`current::context_switches`) tells: any switch in
//! between, by any primitive of shuttle's or ours, moves it. A task woken from a blocked
//! operation thus retries it in the step the scheduler gave it, as a thread that shuttle
//! unblocks does. Cloning an end has no point at all, nor has dropping a sender that is not
//! the last ([`Model::with_commuting`]): no other task can see either, as the count of ends
//! cannot reach zero while the task holds one.
//!
//! A woken task is polled once per wake: each poll starts by forgetting the wakes it
//! answers, where shuttle's executor would remember the one that made the task runnable
//! and poll it once more, in a step of its own, after its next `Pending`.

use std::cell::Cell;
use std::future::Future;
use std::sync::Mutex;

use shuttle_engine::runtime::execution::ExecutionState;

use super::sim::{Model, Sim};

/// The shuttle model: what shuttle lends the shared simulation primitives.
#[derive(Debug)]
pub struct ShuttleModel;

/// The runtime handle of a shuttle run.
pub type Shuttle = Sim<ShuttleModel>;

thread_local! {
    /// The count of scheduling points when shuttle resumed the running task, if it has done
    /// nothing visible since. Shuttle's tasks share the checker's thread, and while the count
    /// stays no other task can have run.
    static QUIET: Cell<Option<usize>> = const { Cell::new(None) };
}

/// The count of shuttle's scheduling points so far in this execution.
fn now() -> usize {
    ::shuttle::current::context_switches()
}

/// Forgets the wakes of the running task so far: the poll starting now answers them.
///
/// Shuttle's executor remembers a wake even when it was what made a sleeping task
/// runnable, so the first `Pending` after every wake would not put the task to sleep: it
/// would be polled once more, in a step of its own, finding nothing new. A wake during the
/// poll is remembered as before. (`sleep_unless_woken` clears the flag and, if it was not
/// set, marks the task sleeping; `unblock` marks it runnable again.)
fn forget_wakes() {
    ExecutionState::with(|state| {
        let task = state.current_mut();
        task.sleep_unless_woken();
        task.unblock();
    });
}

impl Model for ShuttleModel {
    const NAME: &'static str = "shuttle";
    const MAX_TASKS: Option<usize> = None;
    type Lock<T: Send> = Mutex<T>;

    fn new_lock<T: Send>(value: T) -> Self::Lock<T> {
        Mutex::new(value)
    }

    fn with<T: Send, R>(lock: &Self::Lock<T>, f: impl FnOnce(&mut T) -> R) -> R {
        if QUIET.replace(None) != Some(now()) {
            shuttle_engine::runtime::thread::switch();
        }
        f(&mut lock.lock().unwrap_or_else(|p| p.into_inner()))
    }

    fn with_commuting<T: Send, R>(lock: &Self::Lock<T>, f: impl FnOnce(&mut T) -> R) -> R {
        f(&mut lock.lock().unwrap_or_else(|p| p.into_inner()))
    }

    type Blocking<T: Send> = ::shuttle::sync::Mutex<T>;

    fn new_blocking<T: Send>(value: T) -> Self::Blocking<T> {
        ::shuttle::sync::Mutex::new(value)
    }

    fn with_blocking<T: Send, R>(lock: &Self::Blocking<T>, f: impl FnOnce(&mut T) -> R) -> R {
        QUIET.set(None);
        f(&mut lock.lock().unwrap_or_else(|p| p.into_inner()))
    }

    fn resumed() {
        forget_wakes();
        QUIET.set(Some(now()));
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
