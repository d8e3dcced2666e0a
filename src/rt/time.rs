//! Time helpers shared by every backend: the timeout future and the interval, both built
//! on the backend's own sleep so they run on real and virtual time alike.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use pin_project_lite::pin_project;

use super::{Elapsed, Instant, Runtime};

pin_project! {
    /// The future of [`Runtime::timeout`](super::Runtime::timeout): the inner future, unless
    /// the sleep completes first.
    ///
    /// The inner future is polled first, so a future that is ready at the deadline wins.
    #[must_use = "futures do nothing unless awaited"]
    #[derive(Debug)]
    pub struct Timeout<F, S> {
        #[pin]
        future: F,
        #[pin]
        sleep: S,
    }
}

impl<F, S> Timeout<F, S> {
    pub(crate) fn new(future: F, sleep: S) -> Self {
        Self { future, sleep }
    }

    /// The inner future, giving up the deadline.
    pub fn into_inner(self) -> F {
        self.future
    }
}

impl<F: Future, S: Future<Output = ()>> Future for Timeout<F, S> {
    type Output = Result<F::Output, Elapsed>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        if let Poll::Ready(v) = this.future.poll(cx) {
            return Poll::Ready(Ok(v));
        }
        this.sleep.poll(cx).map(|()| Err(Elapsed))
    }
}

/// Ticks on a fixed grid of `period` from its creation ([`Runtime::interval`]).
///
/// A tick that is late — the consumer was busy past one or more grid points — fires at once
/// and the grid points it passed are skipped, as a Go ticker drops ticks for a slow reader:
/// after a stall the consumer sees one tick, not a burst. Dropping a pending
/// [`tick`](Interval::tick) loses nothing: the next call fires for the same grid point.
#[derive(Debug)]
pub struct Interval<R: Runtime> {
    rt: R,
    period: Duration,
    next: R::Instant,
    skipped: u64,
}

impl<R: Runtime> Interval<R> {
    pub(crate) fn new(rt: R, period: Duration) -> Self {
        assert!(!period.is_zero(), "an interval's period must be positive");
        let next = rt.now();
        Self {
            rt,
            period,
            next,
            skipped: 0,
        }
    }

    /// Waits for the next grid point and returns it (not the time it was reached).
    pub async fn tick(&mut self) -> R::Instant {
        self.rt.sleep_until(self.next).await;
        let fired = self.next;
        let late = self.rt.now().saturating_duration_since(fired);
        let passed = (late.as_nanos() / self.period.as_nanos()) as u64;
        self.skipped += passed;
        let steps = u32::try_from(passed + 1).unwrap_or(u32::MAX);
        self.next = fired + self.period.saturating_mul(steps);
        fired
    }

    /// The grid point the next tick fires for.
    pub fn next_tick(&self) -> R::Instant {
        self.next
    }

    /// The period between grid points.
    pub fn period(&self) -> Duration {
        self.period
    }

    /// How many grid points were skipped because the consumer was late.
    pub fn skipped(&self) -> u64 {
        self.skipped
    }
}
