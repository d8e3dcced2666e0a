//! Tasks under a checker: the wrapper that keeps the world's books, and join handles.
//!
//! [`Tracked`] wraps every task's future, the body's included. Around each poll it marks the
//! task polling, hands the inner future a waker that marks the task runnable before waking
//! it, and on `Pending` tells the world the task blocked — which is where the synctest rule
//! fires timers or reports a deadlock. Panics are caught here and become
//! [`JoinError::Panicked`]; abort is checked before each poll.

use std::any::Any;
use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex as StdMutex, Weak};
use std::task::{Context, Poll, Wake, Waker};

use super::model::Model;
use super::report::TaskId;
use super::report::{Wait, WaitOp};
use super::world::{Quiescence, World};
use crate::rt::{handles, JoinError};

/// How a tracked task ended without a value.
pub(crate) enum TaskEnd {
    Panicked(Box<dyn Any + Send>),
    Aborted,
}

/// A task's future with the world's bookkeeping around each poll.
pub(crate) struct Tracked<M, F: Future> {
    world: Arc<World>,
    id: TaskId,
    future: Option<Pin<Box<F>>>,
    waker: Option<(Waker, Waker)>,
    shared: Option<Arc<JoinShared<F::Output>>>,
    bound: bool,
    _model: PhantomData<fn() -> M>,
}

/// What a task and its join handle share. Guarded by a std mutex for the reason the world is.
pub(crate) struct JoinShared<T> {
    state: StdMutex<JoinState<T>>,
    /// Read before every poll, so kept out of the lock.
    aborted: AtomicBool,
}

struct JoinState<T> {
    result: Option<Result<T, JoinError>>,
    finished: bool,
    joiner: Option<Waker>,
    task: Option<Waker>,
}

/// The handle of a task on a simulation backend.
#[must_use = "dropping the handle detaches the task"]
pub struct SimJoinHandle<M, T> {
    shared: Arc<JoinShared<T>>,
    world: Arc<World>,
    target: TaskId,
    _model: PhantomData<fn() -> M>,
}

struct TaskWaker {
    world: Weak<World>,
    id: TaskId,
    inner: Waker,
}

impl Wake for TaskWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        if let Some(world) = self.world.upgrade() {
            world.wake(self.id);
        }
        self.inner.wake_by_ref();
    }
}

impl<M: Model, F: Future> Tracked<M, F> {
    pub(crate) fn new(
        world: Arc<World>,
        id: TaskId,
        future: F,
        shared: Option<Arc<JoinShared<F::Output>>>,
    ) -> Self {
        let future = Some(Box::pin(future));
        Self {
            world,
            id,
            future,
            waker: None,
            shared,
            bound: false,
            _model: PhantomData,
        }
    }

    fn task_waker(&mut self, outer: &Waker) -> Waker {
        match &self.waker {
            Some((o, ours)) if o.will_wake(outer) => ours.clone(),
            _ => {
                let world = Arc::downgrade(&self.world);
                let ours = Waker::from(Arc::new(TaskWaker {
                    world,
                    id: self.id,
                    inner: outer.clone(),
                }));
                if let Some(shared) = &self.shared {
                    let replaced = shared.lock().task.replace(ours.clone());
                    drop(replaced);
                }
                self.waker = Some((outer.clone(), ours.clone()));
                ours
            }
        }
    }

    /// Ends the task: hands its end to the join handle, if any (waking the joiner first, so
    /// the world never sees the joiner blocked on a finished task), then leaves the world.
    fn finish(&mut self, end: Result<F::Output, TaskEnd>) -> Option<Result<F::Output, TaskEnd>> {
        self.future = None;
        let outcome = match &end {
            Ok(_) => "ok",
            Err(TaskEnd::Panicked(_)) => "panicked",
            Err(TaskEnd::Aborted) => "aborted",
        };
        let body_panicked = self.shared.is_none() && outcome == "panicked";
        let end = match &self.shared {
            Some(shared) => {
                shared.complete(end);
                None
            }
            None => Some(end),
        };
        if let Some(drained) = self.world.exited(self.id, outcome) {
            drained.wake();
        }
        // A panic of the run's body is the failure to report, not the tasks it left blocked.
        if !body_panicked {
            self.settle();
        }
        end
    }

    fn settle(&self) {
        Self::act_on(self.world.settle());
    }

    fn act_on(quiescence: Quiescence) {
        match quiescence {
            Quiescence::Busy => {}
            Quiescence::Fire(wakers) => wakers.into_iter().for_each(Waker::wake),
            Quiescence::Stuck(report) => panic!("{} {report}", M::NAME),
        }
    }
}

/// The output is the task's end, or `None` once that was handed to its join handle.
impl<M: Model, F: Future> Future for Tracked<M, F> {
    type Output = Option<Result<F::Output, TaskEnd>>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        M::resumed();
        let this = self.get_mut();
        if !this.bound {
            this.world.bind_native(M::native_id(), this.id);
            this.bound = true;
        }
        if this
            .shared
            .as_ref()
            .is_some_and(|s| s.aborted.load(Ordering::Relaxed))
        {
            return Poll::Ready(this.finish(Err(TaskEnd::Aborted)));
        }
        this.world.begin_poll(this.id);
        let waker = this.task_waker(cx.waker());
        let future = this
            .future
            .as_mut()
            .expect("a tracked task is polled after it ended");
        let polled = catch_unwind(AssertUnwindSafe(|| {
            future.as_mut().poll(&mut Context::from_waker(&waker))
        }));
        match polled {
            Ok(Poll::Pending) => {
                Self::act_on(this.world.blocked(this.id));
                Poll::Pending
            }
            Ok(Poll::Ready(v)) => Poll::Ready(this.finish(Ok(v))),
            Err(payload) => Poll::Ready(this.finish(Err(TaskEnd::Panicked(payload)))),
        }
    }
}

impl<T> JoinShared<T> {
    pub(crate) fn new() -> Arc<Self> {
        let state = JoinState {
            result: None,
            finished: false,
            joiner: None,
            task: None,
        };
        Arc::new(Self {
            state: StdMutex::new(state),
            aborted: AtomicBool::new(false),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, JoinState<T>> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Stores how the task ended and wakes its joiner.
    pub(crate) fn complete(&self, end: Result<T, TaskEnd>) {
        let result = end.map_err(|e| match e {
            TaskEnd::Aborted => JoinError::Aborted,
            TaskEnd::Panicked(payload) => JoinError::from_panic(payload.as_ref()),
        });
        let (joiner, task) = {
            let mut s = self.lock();
            s.result = Some(result);
            s.finished = true;
            (s.joiner.take(), s.task.take())
        };
        drop(task);
        if let Some(w) = joiner {
            w.wake();
        }
    }
}

impl<M: Model, T> SimJoinHandle<M, T> {
    pub(crate) fn new(shared: Arc<JoinShared<T>>, world: Arc<World>, target: TaskId) -> Self {
        Self {
            shared,
            world,
            target,
            _model: PhantomData,
        }
    }
}

impl<M: Model, T> Future for SimJoinHandle<M, T> {
    type Output = Result<T, JoinError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut s = self.shared.lock();
        if let Some(result) = s.result.take() {
            return Poll::Ready(result);
        }
        assert!(!s.finished, "a join handle is polled after it returned");
        let replaced = s.joiner.replace(cx.waker().clone());
        drop(s);
        drop(replaced);
        let me = self.world.current(M::native_id());
        self.world.wait_on(
            me,
            Wait {
                resource: None,
                op: WaitOp::Join(self.target),
            },
        );
        Poll::Pending
    }
}

impl<M: Model, T: Send> handles::JoinHandle<T> for SimJoinHandle<M, T> {
    fn abort(&self) {
        self.shared.aborted.store(true, Ordering::Relaxed);
        let task = self.shared.lock().task.take();
        if let Some(w) = task {
            w.wake();
        }
    }

    fn is_finished(&self) -> bool {
        self.shared.lock().finished
    }
}

impl<M, T> fmt::Debug for SimJoinHandle<M, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SimJoinHandle")
            .field("task", &self.world.task_name(self.target))
            .finish()
    }
}
