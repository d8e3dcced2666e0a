//! Retries on the runtime's clock and RNG: exponential backoff with seeded jitter, an
//! attempt cap, a total deadline, a budget shared by every caller, and a classifier that
//! decides what may be retried at all.
//!
//! The classifier is the point: an error says whether the request was
//! [`NotDelivered`](Delivery::NotDelivered) (always safe to retry),
//! [`MaybeDelivered`](Delivery::MaybeDelivered) (retried only when the policy says the
//! operation is idempotent) or answered with an [`Application`](Delivery::Application)
//! error (never retried: the handler ran and said no). The Go grid retried its handlers'
//! own errors and processed requests twice; backon and tower leave the distinction to
//! every caller.

use std::fmt;
use std::future::Future;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use crate::rt::{Mutex, Rng, Runtime};

/// What an error says about the request it ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    /// The request never reached the handler.
    NotDelivered,
    /// The request may have reached the handler; its effect is unknown.
    MaybeDelivered,
    /// The handler ran and answered with an error.
    Application,
}

/// Classifies an error for [`retry`].
pub trait Classify {
    /// What the error says about delivery.
    fn delivery(&self) -> Delivery;
}

/// How the backoff before a retry is randomised.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Jitter {
    /// Exactly the exponential backoff.
    None,
    /// Uniform in `[0, backoff]`.
    Full,
    /// Uniform in `[backoff / 2, backoff]`.
    Equal,
}

/// When and how often to retry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included.
    pub attempts: NonZeroU32,
    /// The backoff before the first retry; doubled for each further one.
    pub initial: Duration,
    /// The longest backoff.
    pub max: Duration,
    /// How the backoff is randomised (from the runtime's RNG: a seed replays it).
    pub jitter: Jitter,
    /// No attempt starts, and every attempt is cut, at this long after the first started.
    pub deadline: Option<Duration>,
    /// Whether a request that may have been delivered may be sent again.
    pub idempotent: bool,
}

/// Why [`retry`] gave up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GiveUp {
    /// The attempt cap was reached.
    Exhausted,
    /// The total deadline passed, or the next backoff would pass it.
    Deadline,
    /// The shared retry budget was empty.
    Budget,
    /// The error may not be retried.
    NotRetryable(Delivery),
}

/// The last error, how many attempts were made, and why no more were.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryError<E> {
    /// The last attempt's error; `None` if the deadline cut the last attempt.
    pub last: Option<E>,
    /// Attempts made.
    pub attempts: u32,
    /// Why there was no further attempt.
    pub reason: GiveUp,
}

/// Retries shared by many callers, as a ratio of their requests: each first attempt
/// deposits `ratio` tokens (up to `capacity`), each retry takes one. A failing backend
/// then sees at most `1 + ratio` times its normal load, not `attempts` times.
#[derive(Debug)]
pub struct RetryBudget<R: Runtime> {
    ratio: f64,
    capacity: f64,
    tokens: Arc<R::Mutex<f64>>,
}

impl<R: Runtime> Clone for RetryBudget<R> {
    fn clone(&self) -> Self {
        Self {
            ratio: self.ratio,
            capacity: self.capacity,
            tokens: self.tokens.clone(),
        }
    }
}

impl<R: Runtime> RetryBudget<R> {
    /// A full budget of `capacity` retries, refilled by `ratio` per request.
    #[track_caller]
    pub fn new(rt: &R, name: &str, ratio: f64, capacity: u32) -> Self {
        let capacity = f64::from(capacity);
        let tokens = Arc::new(rt.mutex(name, capacity));
        Self {
            ratio: ratio.max(0.0),
            capacity,
            tokens,
        }
    }

    async fn deposit(&self) {
        let mut tokens = self.tokens.lock().await;
        *tokens = (*tokens + self.ratio).min(self.capacity);
    }

    async fn withdraw(&self) -> bool {
        let mut tokens = self.tokens.lock().await;
        let granted = *tokens >= 1.0;
        *tokens -= if granted { 1.0 } else { 0.0 };
        granted
    }

    /// Retries left in the budget.
    pub async fn remaining(&self) -> u32 {
        *self.tokens.lock().await as u32
    }
}

impl RetryPolicy {
    /// The backoff before retry number `retry` (1 for the first).
    fn backoff(&self, retry: u32, rng: &mut Rng) -> Duration {
        let doubling = 2u32.saturating_pow(retry.saturating_sub(1));
        let base = self.initial.saturating_mul(doubling).min(self.max);
        let nanos = u64::try_from(base.as_nanos()).unwrap_or(u64::MAX);
        let jittered = match self.jitter {
            Jitter::None => nanos,
            Jitter::Full => rng.below(nanos.saturating_add(1)),
            Jitter::Equal => nanos / 2 + rng.below(nanos - nanos / 2 + 1),
        };
        Duration::from_nanos(jittered)
    }

    fn retryable(&self, delivery: Delivery) -> bool {
        match delivery {
            Delivery::NotDelivered => true,
            Delivery::MaybeDelivered => self.idempotent,
            Delivery::Application => false,
        }
    }
}

/// Runs `op(attempt)` (attempt 1, 2, …) until it succeeds or `policy` says stop.
pub async fn retry<R, T, E, F, Fut>(
    rt: &R,
    policy: &RetryPolicy,
    budget: Option<&RetryBudget<R>>,
    mut op: F,
) -> Result<T, RetryError<E>>
where
    R: Runtime,
    E: Classify,
    F: FnMut(u32) -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    let mut rng = rt.rng();
    let deadline = policy.deadline.map(|d| rt.now() + d);
    if let Some(budget) = budget {
        budget.deposit().await;
    }
    let give_up = |last, attempts, reason| {
        Err(RetryError {
            last,
            attempts,
            reason,
        })
    };
    for attempt in 1..=policy.attempts.get() {
        let outcome = match deadline {
            Some(deadline) => match rt.timeout_at(deadline, op(attempt)).await {
                Ok(outcome) => outcome,
                Err(_) => return give_up(None, attempt, GiveUp::Deadline),
            },
            None => op(attempt).await,
        };
        let error = match outcome {
            Ok(value) => return Ok(value),
            Err(error) => error,
        };
        let delivery = error.delivery();
        if !policy.retryable(delivery) {
            return give_up(Some(error), attempt, GiveUp::NotRetryable(delivery));
        }
        if attempt == policy.attempts.get() {
            return give_up(Some(error), attempt, GiveUp::Exhausted);
        }
        let wake = rt.now() + policy.backoff(attempt, &mut rng);
        if deadline.is_some_and(|deadline| wake >= deadline) {
            return give_up(Some(error), attempt, GiveUp::Deadline);
        }
        if let Some(budget) = budget {
            if !budget.withdraw().await {
                return give_up(Some(error), attempt, GiveUp::Budget);
            }
        }
        rt.sleep_until(wake).await;
    }
    unreachable!("the last attempt returns")
}

impl fmt::Display for GiveUp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Exhausted => f.write_str("every attempt failed"),
            Self::Deadline => f.write_str("the deadline passed"),
            Self::Budget => f.write_str("the retry budget is spent"),
            Self::NotRetryable(delivery) => write!(f, "not retryable ({delivery:?})"),
        }
    }
}

impl<E: fmt::Debug> fmt::Display for RetryError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "gave up after {} attempt(s): {}",
            self.attempts, self.reason
        )?;
        match &self.last {
            Some(last) => write!(f, "; last error: {last:?}"),
            None => Ok(()),
        }
    }
}

impl<E: fmt::Debug> std::error::Error for RetryError<E> {}
