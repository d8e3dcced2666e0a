//! A steward: keeps one ward running, restarting it when it hangs (missed heartbeats),
//! panics or is aborted — the book's steward, with the guarantees it lacks.
//!
//! - **A hang is a failure.** The ward beats through its [`Ward`]; when a heartbeat
//!   deadline passes, the steward stops it as it would stop a failed one.
//! - **Never two wards at once.** Stopping is cancel, then abort after a grace period,
//!   then await the ward's task; only once the task has ended does the backoff start, and
//!   only after the backoff does the next ward start. There is no path that spawns a ward
//!   while the previous task may still run, because the only spawn is at the top of the
//!   loop and every way out of the loop body passes through that await.
//! - **Bounded restarts, OTP-style.** More than [`Intensity::restarts`] restarts within a
//!   sliding window of [`Intensity::within`] ends the steward with
//!   [`StewardError::Intensity`]: run it as a signal routine and its group's failure
//!   policy escalates, as a supervisor exits in OTP.
//! - **One stable stream.** Every ward sends into the same output sender, so the consumer
//!   holds one receiver across restarts (the book's bridge channel, without the channel of
//!   channels).
//! - **A ward that returns has finished**: it is not restarted; the steward returns.

use std::collections::VecDeque;
use std::fmt;
use std::future::Future;
use std::time::Duration;

use super::heartbeat::{heartbeat, Monitor, Pulse, Signal};
use crate::bugs::{Bug, Bugs};
use crate::rt::{raised, Instant, JoinError, JoinHandle, Runtime, WatchSender};

/// The OTP restart intensity: at most `restarts` restarts within any window of `within`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Intensity {
    /// Restarts allowed within the window.
    pub restarts: u32,
    /// The sliding window.
    pub within: Duration,
}

/// How a steward watches and restarts its ward.
#[derive(Debug, Clone)]
pub struct StewardConfig {
    /// How long the ward may go without a beat.
    pub timeout: Duration,
    /// How long a stopped ward may take to return before it is aborted.
    pub grace: Duration,
    /// The wait before the first restart in a window; doubled for each further restart
    /// within the window, up to `max_backoff`.
    pub backoff: Duration,
    /// The longest wait before a restart.
    pub max_backoff: Duration,
    /// The restart intensity; exceeding it ends the steward with an error.
    pub intensity: Intensity,
    /// Reintroduced catalogue bugs (P4): the harness's lever; empty by default.
    #[doc(hidden)]
    pub bugs: Bugs,
}

impl Default for StewardConfig {
    /// A beat a second, a second's grace, backoff from 100 ms to 10 s, and OTP's default
    /// intensity of one restart in five seconds.
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(1),
            grace: Duration::from_secs(1),
            backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(10),
            intensity: Intensity {
                restarts: 1,
                within: Duration::from_secs(5),
            },
            bugs: Bugs::NONE,
        }
    }
}

/// What a ward is given: its pulse, the shared output, and the stop signal.
#[derive(Debug)]
pub struct Ward<R: Runtime, T: Send + 'static> {
    pulse: Pulse<R>,
    output: R::Sender<T>,
    stop: R::WatchReceiver<bool>,
    incarnation: u32,
}

/// How one ward ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WardEnd<I> {
    /// Its body returned.
    Returned,
    /// It panicked, with this message.
    Panicked(String),
    /// It missed the heartbeat deadline `missed` and was stopped.
    Hung {
        /// The deadline that passed without a beat.
        missed: I,
        /// Whether it had to be aborted after the grace period.
        aborted: bool,
    },
    /// Its task was aborted from outside.
    Aborted,
}

/// What a steward did, when it ends without error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StewardReport<I> {
    /// How many wards were started after the first.
    pub restarts: u32,
    /// How each ward ended, in order; the last entry is the ward running when the steward
    /// was stopped, if it was.
    pub ends: Vec<WardEnd<I>>,
}

/// Why a steward gave up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StewardError<I> {
    /// More restarts than the intensity allows within its window.
    Intensity {
        /// The intensity exceeded.
        intensity: Intensity,
        /// How each ward ended, in order.
        ends: Vec<WardEnd<I>>,
    },
}

impl<R: Runtime, T: Send + 'static> Ward<R, T> {
    /// Says the ward is alive; never waits.
    pub fn beat(&self) {
        self.pulse.beat();
    }

    /// Where the ward's output goes; the same sender for every ward of a steward.
    pub fn output(&self) -> &R::Sender<T> {
        &self.output
    }

    /// Completes once the steward asks this ward to stop.
    pub async fn stopped(&mut self) {
        raised(&mut self.stop).await;
    }

    /// 0 for the first ward, 1 for the first restart, …
    pub fn incarnation(&self) -> u32 {
        self.incarnation
    }
}

/// Watches one ward at a time; see the module doc.
#[derive(Debug)]
pub struct Steward<R: Runtime> {
    rt: R,
    name: String,
    config: StewardConfig,
}

impl<R: Runtime> Steward<R> {
    /// A steward named `name`: its wards run as tasks `name/ward#N`.
    pub fn new(rt: R, name: &str, config: StewardConfig) -> Self {
        let name = name.to_string();
        Self { rt, name, config }
    }

    /// Starts wards with `start` until one returns, `until` completes (the current ward is
    /// stopped first) or the intensity is exceeded.
    pub async fn run<T, F, Fut>(
        self,
        output: R::Sender<T>,
        until: impl Future<Output = ()>,
        mut start: F,
    ) -> Result<StewardReport<R::Instant>, StewardError<R::Instant>>
    where
        T: Send + 'static,
        F: FnMut(Ward<R, T>) -> Fut,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let mut until = std::pin::pin!(until);
        let mut ends = Vec::new();
        let mut window = VecDeque::new();
        for incarnation in 0.. {
            let (pulse, monitor) =
                heartbeat(&self.rt, &self.label("heartbeat"), self.config.timeout);
            let (stop, stop_rx) = self.rt.watch(&self.label("stop"), false);
            let ward = Ward {
                pulse,
                output: output.clone(),
                stop: stop_rx,
                incarnation,
            };
            let task = self
                .rt
                .spawn(&format!("{}/ward#{incarnation}", self.name), start(ward));
            let (end, stopped) = self.watch(task, monitor, &stop, until.as_mut()).await;
            tracing::info!(steward = %self.name, incarnation, ?end, "ward ended");
            ends.push(end.clone());
            if stopped || end == WardEnd::Returned {
                return Ok(StewardReport {
                    restarts: incarnation,
                    ends,
                });
            }
            let Some(backoff) = self.admit_restart(&mut window) else {
                tracing::warn!(steward = %self.name, "restart intensity exceeded");
                let intensity = self.config.intensity;
                return Err(StewardError::Intensity { intensity, ends });
            };
            crate::select! {
                () = until.as_mut() => return Ok(StewardReport { restarts: incarnation, ends }),
                () = self.rt.sleep(backoff) => {}
            }
        }
        unreachable!("incarnations are counted in u32")
    }

    fn label(&self, what: &str) -> String {
        format!("{}/{what}", self.name)
    }

    /// Runs until the ward ends, hangs or `until` completes; returns how it ended and
    /// whether the steward was told to stop. The ward's task has ended when this returns.
    async fn watch<Fut: Future<Output = ()>>(
        &self,
        mut task: R::JoinHandle<()>,
        mut monitor: Monitor<R>,
        stop: &R::WatchSender<bool>,
        mut until: std::pin::Pin<&mut Fut>,
    ) -> (WardEnd<R::Instant>, bool) {
        let mut beating = true;
        loop {
            crate::select! {
                () = until.as_mut() => {
                    let (end, _) = self.stop(task, stop).await;
                    return (end, true);
                }
                ended = &mut task => return (ended_as(ended), false),
                signal = monitor.next(), if beating => match signal {
                    Signal::Beat(_) => {}
                    Signal::Stopped => beating = false,
                    Signal::Missed(missed) => {
                        tracing::warn!(steward = %self.name, ?missed, "ward missed its heartbeat");
                        if self.config.bugs.has(Bug::P4StewardStartsBeforeStopping) {
                            return (WardEnd::Hung { missed, aborted: false }, false);
                        }
                        let (_, aborted) = self.stop(task, stop).await;
                        return (WardEnd::Hung { missed, aborted }, false);
                    }
                },
            }
        }
    }

    /// Cancel, then abort after the grace period; returns once the task has ended.
    async fn stop(
        &self,
        mut task: R::JoinHandle<()>,
        stop: &R::WatchSender<bool>,
    ) -> (WardEnd<R::Instant>, bool) {
        let _ward_gone = stop.send(true);
        match self.rt.timeout(self.config.grace, &mut task).await {
            Ok(ended) => (ended_as(ended), false),
            Err(_) => {
                task.abort();
                let _aborted = task.await;
                (WardEnd::Aborted, true)
            }
        }
    }

    /// Records a restart in the sliding window; its backoff, or `None` if the intensity is
    /// exceeded.
    fn admit_restart(&self, window: &mut VecDeque<R::Instant>) -> Option<Duration> {
        let now = self.rt.now();
        let within = self.config.intensity.within;
        while window
            .front()
            .is_some_and(|at| now.saturating_duration_since(*at) >= within)
        {
            window.pop_front();
        }
        window.push_back(now);
        let in_window = u32::try_from(window.len()).unwrap_or(u32::MAX);
        if in_window > self.config.intensity.restarts {
            return None;
        }
        let doubling = 2u32.saturating_pow(in_window - 1);
        Some(
            self.config
                .backoff
                .saturating_mul(doubling)
                .min(self.config.max_backoff),
        )
    }
}

fn ended_as<I>(ended: Result<(), JoinError>) -> WardEnd<I> {
    match ended {
        Ok(()) => WardEnd::Returned,
        Err(JoinError::Panicked(message)) => WardEnd::Panicked(message),
        Err(JoinError::Aborted) => WardEnd::Aborted,
    }
}

impl<I: fmt::Debug> fmt::Display for StewardError<I> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Intensity { intensity, ends } => write!(
                f,
                "more than {} restarts within {:?}; the wards ended: {ends:?}",
                intensity.restarts, intensity.within
            ),
        }
    }
}

impl<I: fmt::Debug> std::error::Error for StewardError<I> {}
