//! Virtual time of the simulation backends: instants, sleeps, and the end-of-run drain.
//!
//! A sleep arms a timer in the world and blocks; the world fires it when every task is
//! blocked and it is the earliest (the synctest rule, see [`world`](super::world)).

use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::ops::Add;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use super::report::{Wait, WaitOp};
use super::world::World;
use super::Model;
use crate::rt::handles;

/// A point in virtual time: the time since the run started.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct SimInstant(Duration);

impl SimInstant {
    pub(super) fn from_start(since_start: Duration) -> Self {
        Self(since_start)
    }

    /// The virtual time since the run started.
    pub fn since_start(&self) -> Duration {
        self.0
    }
}

impl Add<Duration> for SimInstant {
    type Output = Self;

    fn add(self, rhs: Duration) -> Self {
        Self(self.0.saturating_add(rhs))
    }
}

impl handles::Instant for SimInstant {
    fn saturating_duration_since(&self, earlier: Self) -> Duration {
        self.0.saturating_sub(earlier.0)
    }
}

/// The future of a virtual sleep.
#[must_use = "futures do nothing unless awaited"]
pub struct SimSleep<M> {
    world: Arc<World>,
    deadline: Duration,
    timer: Option<(Duration, u64)>,
    _model: PhantomData<fn() -> M>,
}

impl<M> SimSleep<M> {
    pub(super) fn new(world: Arc<World>, deadline: Duration) -> Self {
        Self {
            world,
            deadline,
            timer: None,
            _model: PhantomData,
        }
    }
}

impl<M: Model> Future for SimSleep<M> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        if this.world.now() >= this.deadline {
            if let Some(timer) = this.timer.take() {
                this.world.disarm_timer(timer);
            }
            return Poll::Ready(());
        }
        let me = this.world.current(M::native_id());
        let timer = this
            .world
            .arm_timer(this.timer, this.deadline, cx.waker(), me);
        this.timer = Some(timer);
        this.world.wait_on(
            me,
            Wait {
                resource: None,
                op: WaitOp::Sleep(this.deadline),
            },
        );
        Poll::Pending
    }
}

impl<M> Drop for SimSleep<M> {
    fn drop(&mut self) {
        if let Some(timer) = self.timer.take() {
            self.world.disarm_timer(timer);
        }
    }
}

impl<M> fmt::Debug for SimSleep<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SimSleep")
            .field("deadline", &self.deadline)
            .finish()
    }
}

/// Completes once every task but the body has exited: the leak check at the end of a run.
pub(super) struct Drain<M> {
    world: Arc<World>,
    _model: PhantomData<fn() -> M>,
}

impl<M> Drain<M> {
    pub(super) fn new(world: Arc<World>) -> Self {
        Self {
            world,
            _model: PhantomData,
        }
    }
}

impl<M: Model> Future for Drain<M> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.world.poll_drained(cx.waker()) {
            return Poll::Ready(());
        }
        let me = self.world.current(M::native_id());
        self.world.wait_on(
            me,
            Wait {
                resource: None,
                op: WaitOp::Drain,
            },
        );
        Poll::Pending
    }
}
