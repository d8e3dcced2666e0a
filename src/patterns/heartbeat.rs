//! Heartbeats: a worker says it is alive without ever waiting, and an observer learns on
//! the runtime's clock when it stopped saying so.
//!
//! A [`Pulse`] writes a beat counter into a latest-value cell, so a beat never blocks and
//! never queues: an observer that is busy sees the latest count, not a backlog (the book's
//! non-blocking send, without losing the fact that beats happened). The worker beats from
//! its own loop — on an [`Interval`](crate::rt::Interval) tick for an interval heartbeat,
//! or once per unit of work — so a worker stuck anywhere else stops beating: that is what
//! lets a [`Steward`](super::Steward) tell a hang from slowness.
//!
//! A [`Monitor`] yields [`Beat`] or [`Missed`](Signal::Missed) with the deadline that
//! passed; after a miss it waits one more timeout for the next beat before reporting the
//! next miss, so a dead worker is reported once per timeout, never in a burst.

use std::future::Future;
use std::pin::pin;
use std::time::Duration;

use crate::bugs::{Bug, Bugs};
use crate::rt::{Runtime, Sender, WatchReceiver, WatchSender};

/// The worker's half: beats without waiting.
#[derive(Debug)]
pub struct Pulse<R: Runtime> {
    rt: R,
    beats: R::WatchSender<u64>,
    /// P3's heartbeat channel, sent to with a blocking send.
    blocking: Option<R::Sender<u64>>,
}

/// The observer's half: beats, or a missed deadline.
#[derive(Debug)]
#[must_use = "a monitor observes nothing unless polled with `next`"]
pub struct Monitor<R: Runtime> {
    rt: R,
    beats: R::WatchReceiver<u64>,
    timeout: Duration,
    deadline: R::Instant,
    /// P3's heartbeat channel: held, never read.
    _unread: Option<R::Receiver<u64>>,
}

/// The number of beats the worker has made so far.
pub type Beat = u64;

/// What a [`Monitor`] saw.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal<I> {
    /// The worker beat; its beat count so far.
    Beat(Beat),
    /// No beat came before this deadline.
    Missed(I),
    /// The worker's pulse is gone: it ended.
    Stopped,
}

/// A pulse and a monitor that reports a miss when `timeout` passes without a beat.
#[track_caller]
pub fn heartbeat<R: Runtime>(rt: &R, name: &str, timeout: Duration) -> (Pulse<R>, Monitor<R>) {
    heartbeat_with(rt, name, timeout, Bugs::NONE)
}

/// [`heartbeat`] with reintroduced catalogue bugs (P3): the harness's lever.
#[doc(hidden)]
#[track_caller]
pub fn heartbeat_with<R: Runtime>(
    rt: &R,
    name: &str,
    timeout: Duration,
    bugs: Bugs,
) -> (Pulse<R>, Monitor<R>) {
    let (beats, watch) = rt.watch(name, 0);
    let (blocking, unread) = match bugs.has(Bug::P3BlockingHeartbeat) {
        true => {
            let (tx, rx) = rt.channel(name, 1);
            (Some(tx), Some(rx))
        }
        false => (None, None),
    };
    let deadline = rt.now() + timeout;
    let monitor = Monitor {
        rt: rt.clone(),
        beats: watch,
        timeout,
        deadline,
        _unread: unread,
    };
    let pulse = Pulse {
        rt: rt.clone(),
        beats,
        blocking,
    };
    (pulse, monitor)
}

impl<R: Runtime> Pulse<R> {
    /// Records a beat. Never waits, also when nobody observes.
    pub fn beat(&self) {
        let next = self.beats.current().wrapping_add(1);
        let _nobody_listens = self.beats.send(next);
    }

    /// Runs `work`, beating every `period` while it is pending: an interval heartbeat.
    ///
    /// The beats say the task is scheduled and its loop turns, not that `work` makes
    /// progress: a `work` stuck on a wait keeps beating. Beat per unit of work (with
    /// [`beat`](Pulse::beat)) where a hang must be seen.
    pub async fn beating<F: Future>(&self, period: Duration, work: F) -> F::Output {
        let mut work = pin!(work);
        let mut ticks = self.rt.interval(period);
        loop {
            crate::select! {
                done = &mut work => return done,
                _ = ticks.tick() => self.interval_beat().await,
            }
        }
    }

    async fn interval_beat(&self) {
        self.beat();
        if let Some(blocking) = &self.blocking {
            let _ = blocking.send(self.beats.current()).await;
        }
    }
}

impl<R: Runtime> Monitor<R> {
    /// The next beat, or the deadline that passed without one. Cancel-safe: a beat that
    /// arrives while the call is dropped is reported by the next call.
    pub async fn next(&mut self) -> Signal<R::Instant> {
        match self
            .rt
            .timeout_at(self.deadline, self.beats.changed())
            .await
        {
            Ok(Ok(())) => {
                self.deadline = self.rt.now() + self.timeout;
                Signal::Beat(self.beats.current())
            }
            Ok(Err(_)) => Signal::Stopped,
            Err(_) => {
                let missed = self.deadline;
                self.deadline = missed + self.timeout;
                Signal::Missed(missed)
            }
        }
    }

    /// The deadline the next beat must arrive by.
    pub fn deadline(&self) -> R::Instant {
        self.deadline
    }

    /// How long a beat may take.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }
}
