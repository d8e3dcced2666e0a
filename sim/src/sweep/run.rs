//! One seed of one scenario: a shuttle schedule with that seed on virtual time, or a
//! turmoil simulation of it; its log, its virtual time or its failure, and the hard states
//! it reached.
//!
//! Even seeds take a random walk (each step picks any runnable task); odd seeds schedule by
//! random task priorities (PCT's first execution: the highest-priority runnable task always
//! runs). Walks mix tasks finely; priorities starve one task for as long as others can run,
//! which is what exposes a narrow window such as an acknowledgement sent before the work it
//! acknowledges (B6).

use std::collections::BTreeSet;
use std::time::Duration;

use sigrelay::bugs::Bugs;
use sigrelay::check::{EventLog, Failure, Recording, ShuttleCheck, Strategy};
use sigrelay::rt::coverage;

use crate::scenario::{Body, Scenario};

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

/// Everything one run of a seed left: its log (if the backend kept one), its virtual time
/// or failure, and the hard states it reached.
#[derive(Debug)]
pub struct Witness {
    /// The run's log, up to its failure if it failed.
    pub log: Option<RunLog>,
    /// The virtual time the run took, or its failure.
    pub outcome: Result<Duration, Failure>,
    /// The hard states the run marked.
    pub reached: BTreeSet<&'static str>,
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
    passed(witness(scenario, seed, bugs, false))
}

/// As [`run_seed`], with what a shuttle run says through `tracing` in its log: for replays
/// and determinism checks, at the cost of recording every event.
pub fn record_seed(
    scenario: &Scenario,
    seed: u64,
    bugs: Bugs,
) -> Result<(RunLog, Duration), Failure> {
    passed(witness(scenario, seed, bugs, true))
}

fn passed(witness: Witness) -> Result<(RunLog, Duration), Failure> {
    let virtual_time = witness.outcome?;
    Ok((
        witness.log.expect("a passing run leaves its log"),
        virtual_time,
    ))
}

/// Runs one seed with every event recorded, as [`record_seed`], and keeps the log even when
/// the seed fails: what the run did up to its failure, for `sim replay`.
pub fn replay_seed(
    scenario: &Scenario,
    seed: u64,
    bugs: Bugs,
) -> (Option<RunLog>, Result<Duration, Failure>) {
    let witness = witness(scenario, seed, bugs, true);
    (witness.log, witness.outcome)
}

/// Runs one seed, recording every event if `record`, and keeps all it left.
pub fn witness(scenario: &Scenario, seed: u64, bugs: Bugs, record: bool) -> Witness {
    let ((log, outcome), reached) = coverage::collect(|| run_once(scenario, seed, bugs, record));
    Witness {
        log,
        outcome,
        reached,
    }
}

fn run_once(
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
                replay: format!("sim replay --scenario {} --seed {seed}", scenario.name),
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

/// The shuttle schedule a failure's reproducer names, on one line.
pub fn schedule_of(failure: &Failure) -> Option<String> {
    let schedule = failure.reproducer.split("schedule ").nth(1)?;
    Some(schedule.replace('\n', ""))
}

/// Replays one stored shuttle `schedule` of `scenario`, with `seed` for the runtime's RNG.
pub fn replay_schedule(
    scenario: &Scenario,
    seed: u64,
    bugs: Bugs,
    schedule: &str,
) -> Result<Duration, String> {
    let Body::Shuttle(run) = scenario.body else {
        return Err(format!("{} has no shuttle schedules", scenario.name));
    };
    let check = ShuttleCheck::new(Strategy::Replay(schedule.into()), 1).seed(seed);
    check
        .try_run(move |rt| run(rt, bugs))
        .map(|summary| summary.last.map_or(Duration::ZERO, |r| r.virtual_time))
        .map_err(|f| f.message)
}
