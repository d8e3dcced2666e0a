//! Seed sweeps on every core: each seed of a scenario is one run ([`run`]); seeds are
//! handed to `jobs` worker threads one at a time, and their results put back in seed order,
//! so a sweep's rows, failures and regression entries are the same whatever the job count.
//!
//! Each run is a whole simulation on its worker's thread — shuttle and turmoil keep their
//! state per thread — so runs share nothing but the results they send back.

mod run;

use std::collections::BTreeMap;
use std::ops::Range;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::Duration;

use sigrelay::bugs::Bugs;
use sigrelay::rt::prelude::*;
use sigrelay::rt::Tokio;

pub use self::run::{
    record_seed, replay_schedule, replay_seed, run_seed, schedule_of, strategy, witness, RunLog,
    Witness,
};
use crate::failure::Failure;
use crate::scenario::Scenario;
use crate::Harness;

/// The seeds swept when `--seeds` is not given.
pub const DEFAULT_SEEDS: Range<u64> = 0..1000;

/// A worker thread's stack: a turmoil simulation runs its hosts' futures on it.
const WORKER_STACK: usize = 16 << 20;

/// What to sweep.
#[derive(Debug, Clone)]
pub struct RunArgs {
    /// Which scenarios.
    pub scenarios: Vec<&'static Scenario>,
    /// Which seeds, before sharding.
    pub seeds: Range<u64>,
    /// Whether `--seeds` was given: if not, scenarios with their own default run that.
    pub seeds_given: bool,
    /// Which part of the seeds this process runs.
    pub shard: Shard,
    /// Run each seed twice and compare event logs.
    pub check_determinism: bool,
    /// Worker threads.
    pub jobs: usize,
}

/// Shard `index` (1-based) of `count`: the seeds whose offset in the range is
/// `index - 1` modulo `count`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    /// 1-based.
    pub index: u64,
    /// How many shards.
    pub count: u64,
}

/// One scenario's line of the summary.
#[derive(Debug, Clone)]
pub struct Row {
    /// The scenario.
    pub scenario: &'static Scenario,
    /// Seeds run.
    pub seeds: u64,
    /// Seeds that failed.
    pub failures: u64,
    /// The longest virtual time of a run.
    pub virtual_time: Duration,
    /// Each declared hard state and how many seeds reached it.
    pub reached: Vec<(&'static str, u64)>,
    /// Wall time spent in this scenario's seeds, summed over the workers.
    pub busy: Duration,
}

/// What a sweep found.
#[derive(Debug)]
pub struct Sweep {
    /// One row per scenario, in the order asked.
    pub rows: Vec<Row>,
    /// Every failed seed, by scenario then seed.
    pub failures: Vec<Failure>,
    /// Wall time of the whole sweep.
    pub wall: Duration,
}

/// A sweep's progress after each seed.
#[derive(Debug, Clone, Copy)]
pub struct Tick<'a> {
    /// The scenario of the seed just done.
    pub scenario: &'a Scenario,
    /// Its seeds done so far, and in all.
    pub done: u64,
    /// Its seeds in all.
    pub of: u64,
    /// Its seeds failed so far.
    pub failed: u64,
}

impl RunArgs {
    /// Every scenario of `harness` over the default seeds, on every core.
    pub fn all(harness: &Harness) -> Self {
        RunArgs {
            scenarios: harness.scenarios().iter().collect(),
            seeds: DEFAULT_SEEDS,
            seeds_given: false,
            shard: Shard::ALL,
            check_determinism: false,
            jobs: available_jobs(),
        }
    }

    /// The seeds `scenario` is swept over, before sharding: the given range, or without
    /// `--seeds` the scenario's own default if it has one.
    pub fn seeds_of(&self, scenario: &Scenario) -> Range<u64> {
        match (self.seeds_given, scenario.default_seeds) {
            (false, Some(n)) => self.seeds.start..self.seeds.start + n,
            _ => self.seeds.clone(),
        }
    }

    /// The seeds of `scenario` this shard runs.
    pub fn owned_seeds(&self, scenario: &Scenario) -> impl Iterator<Item = u64> + '_ {
        let range = self.seeds_of(scenario);
        range.clone().filter(move |s| self.shard.owns(&range, *s))
    }
}

/// The cores of this machine.
pub fn available_jobs() -> usize {
    std::thread::available_parallelism().map_or(1, usize::from)
}

impl Shard {
    /// The whole range.
    pub const ALL: Shard = Shard { index: 1, count: 1 };

    /// Whether `seed` of `range` belongs to this shard.
    pub fn owns(&self, range: &Range<u64>, seed: u64) -> bool {
        (seed - range.start) % self.count == self.index - 1
    }
}

impl Row {
    /// Seeds run per second of worker time.
    pub fn rate(&self) -> f64 {
        self.seeds as f64 / self.busy.as_secs_f64().max(1e-9)
    }

    /// The declared hard states no seed reached.
    pub fn unreached(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.reached
            .iter()
            .filter(|(_, n)| *n == 0)
            .map(|(s, _)| *s)
    }
}

impl Sweep {
    /// Whether every seed passed and every declared hard state was reached.
    pub fn passed(&self) -> bool {
        self.failures.is_empty() && self.rows.iter().all(|r| r.unreached().next().is_none())
    }
}

/// A seed's virtual time, or its failure's message and shuttle schedule.
type SeedOutcome = Result<Duration, (String, Option<String>)>;

/// What one seed gave back to the sweep.
struct Ran {
    item: usize,
    outcome: SeedOutcome,
    reached: Vec<&'static str>,
    busy: Duration,
}

/// Sweeps every scenario of `args` over its shard of the seeds on `args.jobs` threads,
/// telling `progress` after each seed.
pub fn sweep(harness: &Harness, args: &RunArgs, progress: &mut dyn FnMut(Tick<'_>)) -> Sweep {
    let start = Tokio.now();
    let items: Vec<(usize, u64)> = args
        .scenarios
        .iter()
        .enumerate()
        .flat_map(|(i, scenario)| args.owned_seeds(scenario).map(move |seed| (i, seed)))
        .collect();
    let mut rows: Vec<Row> = args.scenarios.iter().map(|s| empty_row(s)).collect();
    let totals: Vec<u64> = (0..rows.len())
        .map(|i| items.iter().filter(|(s, _)| *s == i).count() as u64)
        .collect();
    let mut failed = BTreeMap::new();
    let next = AtomicUsize::new(0);
    let (done_tx, done_rx) = mpsc::channel::<Ran>();
    std::thread::scope(|scope| {
        for worker in 0..args.jobs.max(1) {
            let (items, next, done_tx) = (&items, &next, done_tx.clone());
            std::thread::Builder::new()
                .name(format!("sim-worker-{worker}"))
                .stack_size(WORKER_STACK)
                .spawn_scoped(scope, move || run_items(args, items, next, &done_tx))
                .expect("a worker thread starts");
        }
        drop(done_tx);
        for ran in done_rx {
            let (scenario, seed) = items[ran.item];
            let row = &mut rows[scenario];
            row.seeds += 1;
            row.busy += ran.busy;
            for (state, count) in &mut row.reached {
                *count += u64::from(ran.reached.contains(state));
            }
            match ran.outcome {
                Ok(virtual_time) => row.virtual_time = row.virtual_time.max(virtual_time),
                Err(why) => {
                    row.failures += 1;
                    failed.insert((scenario, seed), why);
                }
            }
            progress(Tick {
                scenario: row.scenario,
                done: row.seeds,
                of: totals[scenario],
                failed: row.failures,
            });
        }
    });
    let failures = failed
        .into_iter()
        .map(|((scenario, seed), (message, schedule))| {
            failure_of(harness, args.scenarios[scenario], seed, message, schedule)
        })
        .collect();
    Sweep {
        rows,
        failures,
        wall: start.elapsed(),
    }
}

fn empty_row(scenario: &'static Scenario) -> Row {
    Row {
        scenario,
        seeds: 0,
        failures: 0,
        virtual_time: Duration::ZERO,
        reached: scenario.hard_states.iter().map(|s| (*s, 0)).collect(),
        busy: Duration::ZERO,
    }
}

fn run_items(args: &RunArgs, items: &[(usize, u64)], next: &AtomicUsize, done: &mpsc::Sender<Ran>) {
    loop {
        let item = next.fetch_add(1, Ordering::Relaxed);
        let Some((scenario, seed)) = items.get(item) else {
            return;
        };
        let start = Tokio.now();
        let twice = args.check_determinism;
        let (outcome, reached) = check_seed(args.scenarios[*scenario], *seed, twice);
        let ran = Ran {
            item,
            outcome,
            reached,
            busy: start.elapsed(),
        };
        if done.send(ran).is_err() {
            return;
        }
    }
}

/// Runs one seed, twice if `twice`, comparing the event logs; its virtual time or its
/// failure's message and shuttle schedule, and the hard states it reached.
fn check_seed(scenario: &Scenario, seed: u64, twice: bool) -> (SeedOutcome, Vec<&'static str>) {
    let first = witness(scenario, seed, Bugs::NONE, twice);
    let reached = first.reached.iter().copied().collect();
    let failed = |f: sigrelay::check::Failure| {
        let schedule = schedule_of(&f);
        (f.message, schedule)
    };
    let outcome = first.outcome.map_err(failed).and_then(|virtual_time| {
        if !twice {
            return Ok(virtual_time);
        }
        let again = witness(scenario, seed, Bugs::NONE, true);
        let (Some(log), Some(again_log)) = (&first.log, &again.log) else {
            return Ok(virtual_time);
        };
        again.outcome.map_err(failed)?;
        match log.first_difference(again_log) {
            None => Ok(virtual_time),
            Some((line, first, second)) => Err((format!(
                "nondeterminism: event {line} differs between two runs of one seed\n  first:  {first}\n  second: {second}"
            ), None)),
        }
    });
    (outcome, reached)
}

/// The failure of a seed, with the event log of a recorded rerun up to its failure.
fn failure_of(
    harness: &Harness,
    scenario: &'static Scenario,
    seed: u64,
    message: String,
    schedule: Option<String>,
) -> Failure {
    let replay = harness.replay_command(scenario.name, seed);
    let mut failure = Failure::new(scenario, seed, Bugs::NONE, message, schedule, replay);
    let (log, _) = replay_seed(scenario, seed, Bugs::NONE);
    failure.log = log.map(|l| l.lines()).unwrap_or_default();
    failure
}

#[cfg(test)]
mod tests;
