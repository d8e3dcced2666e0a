//! Preemptable long computations: a loop that calls [`Preempt::checkpoint`] between units
//! of work yields to other tasks, and stops at its deadline or when asked to — the book's
//! `reallyLongCalculation`, which checks `done` between steps.
//!
//! A checkpoint yields every `yield_every` calls, so a computation that never waits still
//! lets the runtime run others; it fails with [`Preempted`] once the deadline has passed on
//! the runtime's clock or the stop condition holds. On virtual time a computation takes no
//! time unless it waits; its deadline fires when the units it runs between checkpoints
//! wait (I/O, sleeps).

use std::fmt;

use crate::rt::Runtime;

/// Why a checkpoint stopped the computation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Preempted {
    /// The deadline passed.
    Deadline,
    /// The stop condition held.
    Stopped,
}

/// Checkpoints of one computation; see the module doc.
#[must_use = "a computation is only preemptable at its checkpoints"]
pub struct Preempt<R: Runtime> {
    rt: R,
    deadline: Option<R::Instant>,
    stop: Option<Box<dyn Fn() -> bool + Send + Sync>>,
    yield_every: u32,
    since_yield: u32,
    checkpoints: u64,
    yields: u64,
}

impl<R: Runtime> Preempt<R> {
    /// Checkpoints that yield every 64 calls, with no deadline and no stop condition.
    pub fn new(rt: &R) -> Self {
        Self {
            rt: rt.clone(),
            deadline: None,
            stop: None,
            yield_every: 64,
            since_yield: 0,
            checkpoints: 0,
            yields: 0,
        }
    }

    /// Stops the computation at the first checkpoint at or after `deadline`.
    pub fn until(mut self, deadline: R::Instant) -> Self {
        self.deadline = Some(deadline);
        self
    }

    /// Stops the computation at the first checkpoint where `stop` holds, such as
    /// `move || ctx.is_cancelled()` for a signal routine.
    pub fn unless(mut self, stop: impl Fn() -> bool + Send + Sync + 'static) -> Self {
        self.stop = Some(Box::new(stop));
        self
    }

    /// Yields every `n` checkpoints (at least 1).
    pub fn yield_every(mut self, n: u32) -> Self {
        self.yield_every = n.max(1);
        self
    }

    /// A point between two units of work: may yield; fails if the computation must stop.
    pub async fn checkpoint(&mut self) -> Result<(), Preempted> {
        self.checkpoints += 1;
        self.since_yield += 1;
        if self.since_yield >= self.yield_every {
            self.since_yield = 0;
            self.yields += 1;
            self.rt.yield_now().await;
        }
        if self.stop.as_ref().is_some_and(|stop| stop()) {
            return Err(Preempted::Stopped);
        }
        if self.deadline.is_some_and(|d| self.rt.now() >= d) {
            return Err(Preempted::Deadline);
        }
        Ok(())
    }

    /// Checkpoints passed so far.
    pub fn checkpoints(&self) -> u64 {
        self.checkpoints
    }

    /// Times a checkpoint yielded to the runtime so far.
    pub fn yields(&self) -> u64 {
        self.yields
    }
}

impl<R: Runtime> fmt::Debug for Preempt<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Preempt")
            .field("deadline", &self.deadline)
            .field("stoppable", &self.stop.is_some())
            .field("checkpoints", &self.checkpoints)
            .finish()
    }
}

impl fmt::Display for Preempted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Deadline => f.write_str("preempted: the deadline passed"),
            Self::Stopped => f.write_str("preempted: asked to stop"),
        }
    }
}

impl std::error::Error for Preempted {}
