//! Replicated requests: the same request to several replicas, the first success wins.
//!
//! [`first_ok`] (with a [`Replication`]) starts the replicas all at once (the book's pattern) or hedged — the next
//! replica starts after a delay, or at once when one fails. The first success is returned
//! the moment it arrives, with its index. The losers are told to stop through their
//! [`Stop`], aborted if they have not returned after the grace period, and reported by
//! [`Winner::losers`] — a background task does this, so the winner never waits for a
//! loser. If every replica fails, or the request's timeout passes first, [`AllFailed`]
//! carries every cause, the replicas still running stopped the way losers are. Without a
//! timeout a replica that never ends holds the request forever: give one whenever a
//! replica can hang.
//!
//! Only idempotent requests may be replicated: every replica may have acted.

use std::fmt;
use std::future::{poll_fn, Future};
use std::num::NonZeroUsize;
use std::pin::Pin;
use std::task::Poll;
use std::time::Duration;

use crate::bugs::{Bug, Bugs};
use crate::rt::{raised, JoinError, JoinHandle, Runtime, WatchSender};

/// When the replicas start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Launch {
    /// Every replica at once.
    All,
    /// One replica, then the next after this delay, or at once when one fails.
    Hedged(Duration),
}

/// How many replicas, when they start, and how long losers get to stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Replication {
    /// How many replicas.
    pub count: NonZeroUsize,
    /// When they start.
    pub launch: Launch,
    /// How long a loser may take to return once told to stop, before it is aborted.
    pub grace: Duration,
    /// The whole request gives up this long after it started: the replicas still running
    /// are stopped as losers are, and reported as timed out.
    pub timeout: Option<Duration>,
    /// Reintroduced catalogue bugs (P5): the harness's lever; empty by default.
    #[doc(hidden)]
    pub bugs: Bugs,
}

impl Replication {
    /// `count` replicas started at once.
    pub fn all(count: NonZeroUsize, grace: Duration) -> Self {
        Self {
            count,
            launch: Launch::All,
            grace,
            timeout: None,
            bugs: Bugs::NONE,
        }
    }

    /// Gives the whole request up after `timeout`.
    pub fn within(self, timeout: Duration) -> Self {
        Self {
            timeout: Some(timeout),
            ..self
        }
    }

    /// `count` replicas, the next started `delay` after the last or at once when one fails.
    pub fn hedged(count: NonZeroUsize, delay: Duration, grace: Duration) -> Self {
        Self {
            launch: Launch::Hedged(delay),
            ..Self::all(count, grace)
        }
    }
}

/// A replica's stop signal: completes when its result is no longer wanted.
#[derive(Debug, Clone)]
pub struct Stop<R: Runtime>(R::WatchReceiver<bool>);

impl<R: Runtime> Stop<R> {
    /// Completes once the request was won by another replica or given up.
    pub async fn stopped(&mut self) {
        raised(&mut self.0).await;
    }
}

/// How a replica that did not win ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoserEnd<T, E> {
    /// It was never started: the request was won first.
    NotStarted,
    /// It failed before the request was won.
    Failed(ReplicaError<E>),
    /// It returned this after being told to stop, within the grace period.
    Returned(Result<T, E>),
    /// It was aborted after the grace period.
    Aborted,
    /// It panicked.
    Panicked(String),
}

/// Why a replica failed, when every one did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReplicaError<E> {
    /// It returned an error.
    Failed(E),
    /// It panicked.
    Panicked(String),
    /// It was still running when the request timed out.
    TimedOut,
    /// The request timed out before it was started.
    NotStarted,
}

/// Every replica failed; the causes by replica index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AllFailed<E> {
    /// `causes[i]` is why replica `i` failed.
    pub causes: Vec<ReplicaError<E>>,
}

/// The first success.
#[derive(Debug)]
#[must_use = "a winner carries the request's value"]
pub struct Winner<R: Runtime, T: Send + 'static, E: Send + 'static> {
    /// Which replica won.
    pub index: usize,
    /// Its value.
    pub value: T,
    /// How the others ended, by index (`None` at the winner's), once they have: the
    /// background reaper's handle. Dropping it lets the reaper finish on its own; every
    /// loser is stopped within the grace period either way.
    pub losers: R::JoinHandle<Vec<Option<LoserEnd<T, E>>>>,
}

type Running<R, T, E> = Vec<Option<<R as Runtime>::JoinHandle<Result<T, E>>>>;

/// Why each replica failed, if it did, by index.
type Causes<E> = Vec<Option<ReplicaError<E>>>;

/// Runs `replica(i, stop)` for `i` in `0..count` as tasks `name/replica#i`; see the module
/// doc.
pub async fn first_ok<R, T, E, F, Fut>(
    rt: &R,
    name: &str,
    replication: Replication,
    mut replica: F,
) -> Result<Winner<R, T, E>, AllFailed<E>>
where
    R: Runtime,
    T: Send + 'static,
    E: Send + 'static,
    F: FnMut(usize, Stop<R>) -> Fut,
    Fut: Future<Output = Result<T, E>> + Send + 'static,
{
    let Replication {
        count,
        launch,
        grace,
        timeout,
        bugs,
    } = replication;
    let count = count.get();
    let deadline = timeout.map(|t| rt.now() + t);
    let (stop, stop_rx) = rt.watch(&format!("{name}/stop"), false);
    let mut running: Running<R, T, E> = Vec::with_capacity(count);
    let mut causes: Causes<E> = (0..count).map(|_| None).collect();
    let mut failed = 0;
    loop {
        if running.len() < count {
            let i = running.len();
            let work = replica(i, Stop(stop_rx.clone()));
            running.push(Some(rt.spawn(&format!("{name}/replica#{i}"), work)));
        }
        let all_started = running.len() == count;
        let hedge = match launch {
            Launch::All if !all_started => continue,
            Launch::Hedged(delay) if !all_started => Some(rt.now() + delay),
            _ => None,
        };
        let until = hedge.into_iter().chain(deadline).min();
        let next = next_end::<R, T, E>(&mut running);
        let (i, ended) = match until {
            None => next.await,
            Some(until) => match rt.timeout_at(until, next).await {
                Ok(ended) => ended,
                Err(_) if deadline.is_some_and(|d| rt.now() >= d) => {
                    let _told = stop.send(true);
                    return Err(time_out(rt, name, (running, causes), stop, grace));
                }
                Err(_) => continue,
            },
        };
        match ended {
            Ok(Ok(value)) => {
                if bugs.has(Bug::P5LosersNeverCancelled) {
                    return Ok(abandon(rt, name, i, value, running, stop));
                }
                let _told = stop.send(true);
                let losers = reap(rt, name, Some(i), (running, causes), stop, grace);
                return Ok(Winner {
                    index: i,
                    value,
                    losers,
                });
            }
            Ok(Err(error)) => causes[i] = Some(ReplicaError::Failed(error)),
            Err(JoinError::Panicked(message)) => causes[i] = Some(ReplicaError::Panicked(message)),
            Err(JoinError::Aborted) => unreachable!("only the reaper aborts replicas"),
        }
        failed += 1;
        if failed == count {
            let causes = causes.into_iter().flatten().collect();
            return Err(AllFailed { causes });
        }
    }
}

/// Gives the request up: the running replicas are reaped in the background, and reported
/// as timed out with the causes of those that failed.
fn time_out<R: Runtime, T: Send + 'static, E: Send + 'static>(
    rt: &R,
    name: &str,
    (running, causes): (Running<R, T, E>, Causes<E>),
    stop: R::WatchSender<bool>,
    grace: Duration,
) -> AllFailed<E> {
    let started = running.len();
    let causes = causes
        .into_iter()
        .enumerate()
        .map(|(i, cause)| match cause {
            Some(cause) => cause,
            None if i < started => ReplicaError::TimedOut,
            None => ReplicaError::NotStarted,
        })
        .collect();
    let _reaper = reap(rt, name, None, (running, Vec::new()), stop, grace);
    AllFailed { causes }
}

/// The first running replica to end, in index order among those ready: deterministic.
async fn next_end<R: Runtime, T: Send + 'static, E: Send + 'static>(
    running: &mut Running<R, T, E>,
) -> (usize, Result<Result<T, E>, JoinError>) {
    poll_fn(|cx| {
        for (i, slot) in running.iter_mut().enumerate() {
            let Some(task) = slot else { continue };
            if let Poll::Ready(ended) = Pin::new(task).poll(cx) {
                *slot = None;
                return Poll::Ready((i, ended));
            }
        }
        Poll::Pending
    })
    .await
}

/// P5: the winner returned, the losers left running and never told: the stop cell is
/// leaked, so it is neither set nor dropped.
fn abandon<R: Runtime, T: Send + 'static, E: Send + 'static>(
    rt: &R,
    name: &str,
    index: usize,
    value: T,
    running: Running<R, T, E>,
    stop: R::WatchSender<bool>,
) -> Winner<R, T, E> {
    std::mem::forget(stop);
    let losers = rt.spawn(&format!("{name}/reaper"), async move {
        running.into_iter().map(|_detached| None).collect()
    });
    Winner {
        index,
        value,
        losers,
    }
}

/// Stops the losers in the background — the replicas other than `winner`, if one won:
/// each gets until `grace` after the win (or the timeout) to return, then is aborted.
fn reap<R: Runtime, T: Send + 'static, E: Send + 'static>(
    rt: &R,
    name: &str,
    winner: Option<usize>,
    (running, causes): (Running<R, T, E>, Causes<E>),
    stop: R::WatchSender<bool>,
    grace: Duration,
) -> R::JoinHandle<Vec<Option<LoserEnd<T, E>>>> {
    let clock = rt.clone();
    rt.spawn(&format!("{name}/reaper"), async move {
        let _stop_kept_until_reaped = stop;
        let deadline = clock.now() + grace;
        let mut causes = causes.into_iter();
        let mut ends: Vec<Option<LoserEnd<T, E>>> = (0..running.len().max(causes.len()))
            .map(|i| match causes.next().flatten() {
                Some(cause) => Some(LoserEnd::Failed(cause)),
                None => (Some(i) != winner).then_some(LoserEnd::NotStarted),
            })
            .collect();
        for (i, slot) in running.into_iter().enumerate() {
            let Some(mut task) = slot else { continue };
            let end = match clock.timeout_at(deadline, &mut task).await {
                Ok(Ok(returned)) => LoserEnd::Returned(returned),
                Ok(Err(JoinError::Panicked(message))) => LoserEnd::Panicked(message),
                Ok(Err(JoinError::Aborted)) | Err(_) => {
                    task.abort();
                    let _aborted = task.await;
                    LoserEnd::Aborted
                }
            };
            ends[i] = Some(end);
        }
        ends
    })
}

impl<E: fmt::Debug> fmt::Display for AllFailed<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "all {} replicas failed: {:?}",
            self.causes.len(),
            self.causes
        )
    }
}

impl<E: fmt::Debug> std::error::Error for AllFailed<E> {}
