//! Shuttle entry points: random, PCT and DFS exploration, and replay of a schedule.

use std::future::Future;
use std::sync::Arc;

use ::shuttle::scheduler::{
    DfsScheduler, PctScheduler, RandomScheduler, ReplayScheduler, Scheduler,
};

use super::checker::{self, Check, Failed};
use super::Failure;
use crate::rt::coverage;
use crate::rt::sim::{self, RunRecord, RunSettings};
use crate::rt::Shuttle;

/// The panic of shuttle's PCT scheduler for a body with one task.
const PCT_NEEDS_TASKS: &str = "did not exercise any concurrency";

/// How shuttle picks the schedules to run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Strategy {
    /// Uniformly random choices at every scheduling point.
    Random,
    /// Probabilistic concurrency testing: finds bugs of depth `depth` with a known
    /// probability per run.
    Pct {
        /// The bug depth PCT targets.
        depth: usize,
    },
    /// Every schedule, depth-first, up to the iteration budget.
    Dfs,
    /// Exactly one schedule, as printed by a failure.
    Replay(String),
}

/// A shuttle check: strategy, budget, seed and run limits.
#[derive(Debug, Clone)]
#[must_use = "a check does nothing until it is run"]
pub struct ShuttleCheck {
    strategy: Strategy,
    iterations: usize,
    settings: RunSettings,
}

/// What a passing shuttle check leaves behind.
#[derive(Debug, Clone)]
pub struct Summary {
    /// How many schedules ran.
    pub iterations: usize,
    /// The record of the last run.
    pub last: Option<RunRecord>,
}

impl ShuttleCheck {
    /// A check with `strategy` over at most `iterations` schedules, seed 0.
    #[track_caller]
    pub fn new(strategy: Strategy, iterations: usize) -> Self {
        Self {
            strategy,
            iterations,
            settings: RunSettings::default(),
        }
    }

    super::run_settings_builders!("Seeds the scheduler and the runtime's RNG stream.");

    /// Runs `body` once per schedule; panics with the failure report on the first failure.
    /// Reports say the body was spawned where this is called.
    #[track_caller]
    pub fn run<F, Fut>(&self, body: F) -> Summary
    where
        F: Fn(Shuttle) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()>,
    {
        self.try_run(body)
            .unwrap_or_else(|failure| panic!("{failure}"))
    }

    /// Runs `body` once per schedule; returns the first failure instead of panicking.
    ///
    /// PCT needs at least two tasks; a body that never spawns runs under random schedules.
    /// Reports say the body was spawned where this is called.
    #[track_caller]
    pub fn try_run<F, Fut>(&self, body: F) -> Result<Summary, Failure>
    where
        F: Fn(Shuttle) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()>,
    {
        let mut check = self.clone();
        check.settings.body_site = std::panic::Location::caller();
        check.try_run_shared(Arc::new(body))
    }

    fn try_run_shared<F, Fut>(&self, body: Arc<F>) -> Result<Summary, Failure>
    where
        F: Fn(Shuttle) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()>,
    {
        let witness = sim::Witness::default();
        let settings = self.settings;
        let shared = body.clone();
        let watching = witness.clone();
        let test = move || sim::run_witnessed(settings, &watching, &*shared);
        match self.isolated(test) {
            Ok(iterations) => Ok(Summary {
                iterations,
                last: witness.record(),
            }),
            Err(failure) => {
                if matches!(self.strategy, Strategy::Pct { .. })
                    && failure.message.contains(PCT_NEEDS_TASKS)
                {
                    return Self {
                        strategy: Strategy::Random,
                        ..self.clone()
                    }
                    .try_run_shared(body);
                }
                Err(Failure {
                    record: witness.record().map(Box::new),
                    ..failure
                })
            }
        }
    }

    /// Runs the schedules on the checker thread (see [`checker`](super::checker)). The
    /// caller's `tracing` subscriber goes along, and the hard states the schedules reached
    /// come back (see [`coverage`]).
    fn isolated(&self, test: impl Fn() + Send + Sync + 'static) -> Result<usize, Failure> {
        let (strategy, seed, n) = (self.strategy.clone(), self.settings.seed, self.iterations);
        let picked = strategy.clone();
        let verdict = checker::run(Check {
            scheduler: Box::new(move || scheduler(&picked, seed, n)),
            test: Arc::new(test),
            dispatch: tracing::dispatcher::get_default(Clone::clone),
        });
        coverage::reached_all(verdict.reached);
        verdict
            .outcome
            .map_err(|failed| failure(&strategy, seed, failed))
    }
}

fn scheduler(strategy: &Strategy, seed: u64, n: usize) -> Box<dyn Scheduler> {
    match strategy {
        Strategy::Random => Box::new(RandomScheduler::new_from_seed(seed, n)),
        Strategy::Pct { depth } => Box::new(PctScheduler::new_from_seed(seed, *depth, n)),
        Strategy::Dfs => Box::new(DfsScheduler::new(Some(n), false)),
        Strategy::Replay(schedule) => Box::new(ReplayScheduler::new_from_encoded(schedule)),
    }
}

/// The failure of a check: the message, and the schedule the checker thread just ran.
fn failure(strategy: &Strategy, seed: u64, failed: Failed) -> Failure {
    let Failed { message, schedule } = failed;
    let replay = format!(
        "sigrelay::check::ShuttleCheck::new(Strategy::Replay({schedule:?}.into()), 1).seed({seed}).run(body)"
    );
    let reproducer = format!("{strategy:?}, seed {seed}, schedule {schedule}");
    Failure {
        backend: "shuttle",
        message,
        reproducer,
        replay,
        record: None,
    }
}

/// Runs `body` under `iterations` random schedules (seed 0); panics on the first failure.
#[track_caller]
pub fn shuttle_random<F, Fut>(iterations: usize, body: F) -> Summary
where
    F: Fn(Shuttle) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()>,
{
    ShuttleCheck::new(Strategy::Random, iterations).run(body)
}

/// Runs `body` under `iterations` PCT schedules of bug depth `depth` (seed 0).
#[track_caller]
pub fn shuttle_pct<F, Fut>(iterations: usize, depth: usize, body: F) -> Summary
where
    F: Fn(Shuttle) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()>,
{
    ShuttleCheck::new(Strategy::Pct { depth }, iterations).run(body)
}

/// Runs `body` under every schedule, depth-first, up to `max_iterations`.
#[track_caller]
pub fn shuttle_dfs<F, Fut>(max_iterations: usize, body: F) -> Summary
where
    F: Fn(Shuttle) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()>,
{
    ShuttleCheck::new(Strategy::Dfs, max_iterations).run(body)
}

/// Replays the one schedule a failure printed (run with seed 0; use [`ShuttleCheck`] to give
/// the failure's seed).
#[track_caller]
pub fn shuttle_replay<F, Fut>(schedule: &str, body: F) -> Summary
where
    F: Fn(Shuttle) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()>,
{
    ShuttleCheck::new(Strategy::Replay(schedule.to_string()), 1).run(body)
}
