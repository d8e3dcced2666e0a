//! Seed sweeps: each seed of a scenario is one shuttle schedule with that seed, on virtual
//! time; a failure is reported with the command that replays it.
//!
//! Even seeds take a random walk (each step picks any runnable task); odd seeds schedule by
//! random task priorities (PCT's first execution: the highest-priority runnable task always
//! runs). Walks mix tasks finely; priorities starve one task for as long as others can run,
//! which is what exposes a narrow window such as an acknowledgement sent before the work it
//! acknowledges (B6).

use std::time::Duration;

use sigrelay::bugs::Bugs;
use sigrelay::check::{EventLog, Failure, Recording, ShuttleCheck, Strategy};
use sigrelay::rt::prelude::*;
use sigrelay::rt::Tokio;

use crate::cli::RunArgs;
use crate::scenarios::{Body, Scenario};

/// One row of the summary table.
#[derive(Debug, Clone)]
pub struct Row {
    /// The scenario's name.
    pub scenario: &'static str,
    /// The backend it ran on.
    pub backend: &'static str,
    /// Seeds run.
    pub seeds: u64,
    /// Seeds that failed.
    pub failures: u64,
    /// The longest virtual time of a run.
    pub virtual_time: Duration,
    /// Wall time of the whole sweep of this scenario.
    pub wall: Duration,
}

/// What went wrong with one seed.
#[derive(Debug)]
pub struct SeedFailure {
    /// The scenario.
    pub scenario: &'static str,
    /// The seed.
    pub seed: u64,
    /// What the check said.
    pub message: String,
    /// The shuttle schedule that failed, if the backend has one.
    pub schedule: Option<String>,
}

/// What a run left to look at: shuttle's event log of tasks and messages, or what a turmoil
/// run said through `tracing`.
#[derive(Debug)]
pub enum RunLog {
    /// From a shuttle scenario: the runtime's log of tasks and messages, and what the run
    /// said through `tracing`.
    Shuttle(EventLog, Recording),
    /// From a turmoil scenario.
    Turmoil(Recording),
}

impl RunLog {
    /// The log, one event per line.
    pub fn lines(&self) -> Vec<String> {
        match self {
            RunLog::Shuttle(log, said) => [log.lines().to_vec(), said.lines()].concat(),
            RunLog::Turmoil(recording) => recording.lines(),
        }
    }

    /// A hash of the whole log.
    pub fn hash(&self) -> u64 {
        match self {
            RunLog::Shuttle(log, said) => log.hash() ^ said.hash().rotate_left(1),
            RunLog::Turmoil(recording) => recording.hash(),
        }
    }

    /// The run as a Chrome trace-event file.
    pub fn chrome_trace(&self) -> String {
        match self {
            RunLog::Shuttle(log, said) => log.chrome_trace_with(said),
            RunLog::Turmoil(recording) => recording.chrome_trace(),
        }
    }

    /// The first line where two logs differ (1-based), and each side's line there.
    pub fn first_difference(&self, other: &RunLog) -> Option<(usize, String, String)> {
        let (a, b) = (self.lines(), other.lines());
        let end = "<end of log>".to_string();
        (0..a.len().max(b.len()))
            .find(|&i| a.get(i) != b.get(i))
            .map(|i| {
                let side = |lines: &[String]| lines.get(i).unwrap_or(&end).clone();
                (i + 1, side(&a), side(&b))
            })
    }
}

/// Runs one seed once; the log and virtual time of the run, or the failure. What a shuttle
/// run says through `tracing` is left out: [`record_seed`] keeps it.
pub fn run_seed(scenario: &Scenario, seed: u64, bugs: Bugs) -> Result<(RunLog, Duration), Failure> {
    run_with(scenario, seed, bugs, false)
}

/// As [`run_seed`], with what a shuttle run says through `tracing` in its log: for replays
/// and determinism checks, at the cost of recording every event.
pub fn record_seed(
    scenario: &Scenario,
    seed: u64,
    bugs: Bugs,
) -> Result<(RunLog, Duration), Failure> {
    run_with(scenario, seed, bugs, true)
}

fn run_with(
    scenario: &Scenario,
    seed: u64,
    bugs: Bugs,
    record: bool,
) -> Result<(RunLog, Duration), Failure> {
    let (log, outcome) = witness_seed(scenario, seed, bugs, record);
    let virtual_time = outcome?;
    Ok((log.expect("a passing run leaves its log"), virtual_time))
}

/// Runs one seed with every event recorded, as [`record_seed`], and keeps the log even when
/// the seed fails: what the run did up to its failure, for `sim replay`.
pub fn replay_seed(
    scenario: &Scenario,
    seed: u64,
    bugs: Bugs,
) -> (Option<RunLog>, Result<Duration, Failure>) {
    witness_seed(scenario, seed, bugs, true)
}

fn witness_seed(
    scenario: &Scenario,
    seed: u64,
    bugs: Bugs,
    record: bool,
) -> (Option<RunLog>, Result<Duration, Failure>) {
    match scenario.body {
        Body::Shuttle(run) => {
            let check = ShuttleCheck::new(strategy(seed), schedules(seed)).seed(seed);
            let run = || check.try_run(move |rt| run(rt, bugs));
            let (summary, said) = match record {
                true => Recording::capture(run),
                false => (run(), Recording::default()),
            };
            let last = match &summary {
                Ok(summary) => summary.last.clone(),
                Err(failure) => failure.record.as_deref().cloned(),
            };
            let virtual_time = last.as_ref().map(|r| r.virtual_time);
            let log = last.map(|r| RunLog::Shuttle(r.log, said));
            (log, summary.map(|_| virtual_time.unwrap_or_default()))
        }
        Body::Turmoil(run) => {
            let (ran, recording) = Recording::capture(|| run(seed, bugs));
            let failed = |message| Failure {
                backend: "turmoil",
                message,
                reproducer: format!("seed {seed}"),
                replay: replay_command(scenario.name, seed),
                record: None,
            };
            (Some(RunLog::Turmoil(recording)), ran.map_err(failed))
        }
    }
}

/// The schedule family of `seed`: random walks for even seeds, random priorities for odd.
pub fn strategy(seed: u64) -> Strategy {
    match seed % 2 {
        0 => Strategy::Random,
        _ => Strategy::Pct { depth: 3 },
    }
}

/// Schedules per seed: one random walk; or, for priorities, a first execution that measures
/// the run's length and a second that changes priorities at points drawn within it.
fn schedules(seed: u64) -> usize {
    match seed % 2 {
        0 => 1,
        _ => 2,
    }
}

/// Runs one seed, twice if `twice`, comparing the event logs; a failure's message and, for
/// shuttle, its schedule.
fn check_seed(
    scenario: &Scenario,
    seed: u64,
    twice: bool,
) -> Result<Duration, (String, Option<String>)> {
    let run = if twice { record_seed } else { run_seed };
    let failed = |f: Failure| {
        let schedule = schedule_of(&f);
        (f.message, schedule)
    };
    let (log, virtual_time) = run(scenario, seed, Bugs::NONE).map_err(failed)?;
    if twice {
        let (again, _) = run(scenario, seed, Bugs::NONE).map_err(failed)?;
        if let Some((line, first, second)) = log.first_difference(&again) {
            return Err((format!(
                "nondeterminism: event {line} differs between two runs of one seed\n  first:  {first}\n  second: {second}"
            ), None));
        }
    }
    Ok(virtual_time)
}

/// The shuttle schedule a failure's reproducer names, on one line.
pub fn schedule_of(failure: &Failure) -> Option<String> {
    let schedule = failure.reproducer.split("schedule ").nth(1)?;
    Some(schedule.replace('\n', ""))
}

/// Replays one stored shuttle `schedule` of `scenario`, with `seed` for the runtime's RNG.
pub fn replay_schedule(scenario: &Scenario, seed: u64, schedule: &str) -> Result<(), String> {
    let Body::Shuttle(run) = scenario.body else {
        return Err(format!("{} has no shuttle schedules", scenario.name));
    };
    let check = ShuttleCheck::new(Strategy::Replay(schedule.into()), 1).seed(seed);
    check
        .try_run(move |rt| run(rt, Bugs::NONE))
        .map(drop)
        .map_err(|f| f.message)
}

/// The seeds `args` sweep `scenario` over, before sharding: the given range, or without
/// `--seeds` the scenario's own default if it has one.
pub fn seeds_of(args: &RunArgs, scenario: &Scenario) -> std::ops::Range<u64> {
    match (args.seeds_given, scenario.default_seeds) {
        (false, Some(n)) => args.seeds.start..args.seeds.start + n,
        _ => args.seeds.clone(),
    }
}

/// Sweeps every scenario of `args` over its shard of the seeds.
pub fn sweep(
    args: &RunArgs,
    mut progress: impl FnMut(&str, u64, u64),
) -> (Vec<Row>, Vec<SeedFailure>) {
    let mut rows = Vec::new();
    let mut failures = Vec::new();
    for scenario in &args.scenarios {
        let range = seeds_of(args, scenario);
        let seeds: Vec<u64> = range
            .clone()
            .filter(|s| args.shard.owns(&range, *s))
            .collect();
        let start = Tokio.now();
        let mut row = Row {
            scenario: scenario.name,
            backend: scenario.backend(),
            seeds: 0,
            failures: 0,
            virtual_time: Duration::ZERO,
            wall: Duration::ZERO,
        };
        for (done, seed) in seeds.iter().enumerate() {
            progress(scenario.name, done as u64, seeds.len() as u64);
            row.seeds += 1;
            match check_seed(scenario, *seed, args.check_determinism) {
                Ok(virtual_time) => row.virtual_time = row.virtual_time.max(virtual_time),
                Err((message, schedule)) => {
                    row.failures += 1;
                    failures.push(SeedFailure {
                        scenario: scenario.name,
                        seed: *seed,
                        message,
                        schedule,
                    });
                }
            }
        }
        row.wall = start.elapsed();
        rows.push(row);
    }
    (rows, failures)
}

impl Row {
    /// Schedules run per second of wall time.
    pub fn rate(&self) -> f64 {
        self.seeds as f64 / self.wall.as_secs_f64().max(1e-9)
    }
}

impl SeedFailure {
    /// The one command that replays this failure.
    pub fn replay_command(&self) -> String {
        replay_command(self.scenario, self.seed)
    }
}

/// The one command that replays `seed` of `scenario`.
pub fn replay_command(scenario: &str, seed: u64) -> String {
    format!("cargo run --release -p sim -- replay --scenario {scenario} --seed {seed}")
}

#[cfg(test)]
mod tests;
