//! A rate limiter: GCRA on the runtime's clock, so it runs on virtual time as well as real.
//!
//! No crate fits: governor's waiting API sleeps on wall time, tower's `RateLimit` is a
//! fixed window (twice the rate at a window's edge) and tokio-only. Here a limiter holds
//! one or more [`Quota`]s (the book's multi-limiter: per second *and* per minute), and a
//! request is admitted when every quota admits it. Clones share one state.
//!
//! Each quota keeps a theoretical arrival time (TAT). A request for `n` is admitted at
//! `t = max(now, tat − (burst − n)·T)` where `T = period / count`, and moves the TAT to
//! `max(tat, t) + n·T`. Waiting requests reserve their slot before they sleep, so they are
//! admitted in the order they asked (FIFO), and a request that gives up (its future
//! dropped) or an [`Admission`] refunded gives its slot back when no later request reserved
//! behind it; otherwise the slot is left unused — the limiter may run below its rate after
//! a cancel, never above.

use std::fmt;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use crate::rt::{Instant, Mutex, Runtime};

/// `count` requests per `period`, at most `burst` at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quota {
    count: NonZeroU32,
    period: Duration,
    burst: NonZeroU32,
}

impl Quota {
    /// `count` per `period`, with a burst of one. `None` if `period` is zero.
    pub fn new(count: NonZeroU32, period: Duration) -> Option<Self> {
        let burst = NonZeroU32::MIN;
        (!period.is_zero()).then_some(Self {
            count,
            period,
            burst,
        })
    }

    /// `count` per second.
    pub fn per_second(count: NonZeroU32) -> Self {
        Self::new(count, Duration::from_secs(1)).expect("a second is not zero")
    }

    /// `count` per minute.
    pub fn per_minute(count: NonZeroU32) -> Self {
        Self::new(count, Duration::from_secs(60)).expect("a minute is not zero")
    }

    /// Allows up to `burst` requests at once.
    pub fn allow_burst(self, burst: NonZeroU32) -> Self {
        Self { burst, ..self }
    }

    fn emission(&self) -> Duration {
        self.period / self.count.get()
    }
}

/// Why a request was not admitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RateError<I> {
    /// More permits than a quota's burst: it could never be admitted.
    TooLarge {
        /// The permits asked for.
        asked: u32,
        /// The smallest burst among the quotas.
        burst: u32,
    },
    /// Not admissible before this instant; nothing was reserved.
    RetryAt(I),
}

/// Permits admitted by a limiter; [`refund`](Admission::refund) them if they were not used.
#[derive(Debug)]
pub struct Admission<R: Runtime> {
    limiter: RateLimiter<R>,
    reservation: Reservation,
}

/// A GCRA limiter; see the module doc.
pub struct RateLimiter<R: Runtime> {
    rt: R,
    quotas: Arc<[Quota]>,
    burst: u32,
    origin: R::Instant,
    tats: Arc<R::Mutex<Vec<Duration>>>,
}

/// What a reservation changed: each quota's TAT before and after.
#[derive(Debug, Clone)]
struct Reservation {
    before: Vec<Duration>,
    after: Vec<Duration>,
    at: Duration,
}

impl<R: Runtime> Clone for RateLimiter<R> {
    fn clone(&self) -> Self {
        Self {
            rt: self.rt.clone(),
            quotas: self.quotas.clone(),
            burst: self.burst,
            origin: self.origin,
            tats: self.tats.clone(),
        }
    }
}

impl<R: Runtime> RateLimiter<R> {
    /// A limiter admitting what every quota of `quotas` admits.
    ///
    /// # Panics
    /// If `quotas` is empty.
    #[track_caller]
    pub fn new(rt: &R, name: &str, quotas: &[Quota]) -> Self {
        assert!(!quotas.is_empty(), "a rate limiter needs a quota");
        let tats = Arc::new(rt.mutex(name, vec![Duration::ZERO; quotas.len()]));
        let burst = quotas.iter().map(|q| q.burst.get()).min();
        Self {
            rt: rt.clone(),
            quotas: quotas.into(),
            burst: burst.expect("a limiter has a quota"),
            origin: rt.now(),
            tats,
        }
    }

    /// Waits until `n` permits are admitted.
    pub async fn acquire(&self, n: u32) -> Result<Admission<R>, RateError<R::Instant>> {
        self.acquire_by_offset(n, None).await
    }

    /// Waits until `n` permits are admitted, or fails at once — reserving nothing — if that
    /// would be after `deadline`.
    pub async fn acquire_by(
        &self,
        n: u32,
        deadline: R::Instant,
    ) -> Result<Admission<R>, RateError<R::Instant>> {
        let limit = deadline.saturating_duration_since(self.origin);
        self.acquire_by_offset(n, Some(limit)).await
    }

    /// Admits `n` permits now, or says when they would be.
    pub async fn try_acquire(&self, n: u32) -> Result<Admission<R>, RateError<R::Instant>> {
        let now = self.offset();
        self.reserve(n, Some(now))
            .await
            .map(|reservation| Admission {
                limiter: self.clone(),
                reservation,
            })
    }

    async fn acquire_by_offset(
        &self,
        n: u32,
        limit: Option<Duration>,
    ) -> Result<Admission<R>, RateError<R::Instant>> {
        let reservation = self.reserve(n, limit).await?;
        let admission = Admission {
            limiter: self.clone(),
            reservation,
        };
        let pending = Pending(Some(admission));
        self.rt
            .sleep_until(self.origin + pending.reservation().at)
            .await;
        Ok(pending.admitted())
    }

    fn offset(&self) -> Duration {
        self.rt.now().saturating_duration_since(self.origin)
    }

    /// Reserves `n` permits at the earliest admissible time, unless it is after `limit`.
    async fn reserve(
        &self,
        n: u32,
        limit: Option<Duration>,
    ) -> Result<Reservation, RateError<R::Instant>> {
        if n > self.burst {
            let burst = self.burst;
            return Err(RateError::TooLarge { asked: n, burst });
        }
        let mut tats = self.tats.lock().await;
        let now = self.offset();
        let at = self
            .quotas
            .iter()
            .zip(tats.iter())
            .map(|(q, tat)| tat.saturating_sub(q.emission() * (q.burst.get() - n)))
            .fold(now, Duration::max);
        if limit.is_some_and(|limit| at > limit) {
            return Err(RateError::RetryAt(self.origin + at));
        }
        let before = tats.clone();
        for (q, tat) in self.quotas.iter().zip(tats.iter_mut()) {
            *tat = (*tat).max(at) + q.emission() * n;
        }
        let after = tats.clone();
        Ok(Reservation { before, after, at })
    }

    /// Gives a reservation back where no later one was made behind it.
    async fn refund(&self, reservation: &Reservation) {
        reservation.undo(&mut self.tats.lock().await);
    }
}

impl Reservation {
    /// Restores each quota's TAT that no later reservation moved.
    fn undo(&self, tats: &mut [Duration]) {
        for (i, tat) in tats.iter_mut().enumerate() {
            if *tat == self.after[i] {
                *tat = self.before[i];
            }
        }
    }
}

impl<R: Runtime> Admission<R> {
    /// The instant the permits were admitted at.
    pub fn admitted_at(&self) -> R::Instant {
        self.limiter.origin + self.reservation.at
    }

    /// Gives the permits back: a later request may use their slot.
    pub async fn refund(self) {
        self.limiter.refund(&self.reservation).await;
    }
}

/// An admission not yet reached; refunded if dropped while waiting. The limiter's lock is
/// only ever held for a computation, never across a wait, so it is almost always free; if
/// another request holds it at that instant, the slot is left unused.
struct Pending<R: Runtime>(Option<Admission<R>>);

impl<R: Runtime> Pending<R> {
    fn reservation(&self) -> &Reservation {
        &self.0.as_ref().expect("pending until admitted").reservation
    }

    fn admitted(mut self) -> Admission<R> {
        self.0.take().expect("admitted once")
    }
}

impl<R: Runtime> Drop for Pending<R> {
    fn drop(&mut self) {
        let Some(admission) = self.0.take() else {
            return;
        };
        let Admission {
            limiter,
            reservation,
        } = admission;
        if let Some(mut tats) = limiter.tats.try_lock() {
            reservation.undo(&mut tats);
        };
    }
}

impl<R: Runtime> fmt::Debug for RateLimiter<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RateLimiter")
            .field("quotas", &self.quotas)
            .finish_non_exhaustive()
    }
}

impl<I: fmt::Debug> fmt::Display for RateError<I> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TooLarge { asked, burst } => {
                write!(f, "{asked} permits asked, but the burst is {burst}")
            }
            Self::RetryAt(at) => write!(f, "not admissible before {at:?}"),
        }
    }
}

impl<I: fmt::Debug> std::error::Error for RateError<I> {}
