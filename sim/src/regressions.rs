//! Failing seeds persisted in the repository and replayed by every `cargo test`: the
//! simulation counterpart of `proptest-regressions/`.
//!
//! One line per failure: `scenario=S backend=B seed=N harness=V [schedule=HEX]`. The seed is
//! re-run with the current code; a shuttle entry's schedule — the exact interleaving that
//! failed — is replayed too, as long as it still fits the code. A stored entry whose
//! scenario no longer exists, whose schedule no longer fits, whose harness version is not
//! this one (its schedule may mean another interleaving), or whose line cannot be read, is
//! reported as an error — a regression that silently stops replaying protects nothing.

use std::fmt;
use std::fs;
use std::io::{self, Write as _};
use std::path::Path;

use crate::failure::Failure;
use crate::sweep;
use crate::Harness;

/// The version written into entries: schedules are tied to the harness that found them.
pub const HARNESS_VERSION: &str = env!("CARGO_PKG_VERSION");

/// One stored failure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The scenario's name.
    pub scenario: String,
    /// The backend that found it.
    pub backend: String,
    /// The seed that fails.
    pub seed: u64,
    /// The harness version that found it.
    pub harness: String,
    /// The shuttle schedule that failed, if the backend has one.
    pub schedule: Option<String>,
}

/// Why a stored regression did not replay cleanly.
#[derive(Debug)]
pub enum ReplayError {
    /// A line is not `scenario=S backend=B seed=N harness=V`.
    Unreadable {
        /// 1-based line number.
        line: usize,
        /// The line.
        text: String,
    },
    /// The scenario or backend is gone: the entry can no longer replay.
    Stale(Entry),
    /// The stored schedule no longer fits the code (the code's scheduling points moved):
    /// the seed was re-run, but the interleaving that failed can no longer be replayed.
    ScheduleGone(Entry, String),
    /// Written by another harness version, whose schedules may mean other interleavings.
    OtherHarness(Entry),
    /// The seed still fails.
    StillFails(Entry, String),
}

impl Entry {
    fn parse(text: &str) -> Option<Self> {
        let field = |key: &str| {
            text.split_whitespace()
                .find_map(|kv| kv.strip_prefix(key)?.strip_prefix('='))
                .map(str::to_string)
        };
        Some(Self {
            scenario: field("scenario")?,
            backend: field("backend")?,
            seed: field("seed")?.parse().ok()?,
            harness: field("harness")?,
            schedule: field("schedule"),
        })
    }
}

impl fmt::Display for Entry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "scenario={} backend={} seed={} harness={}",
            self.scenario, self.backend, self.seed, self.harness
        )?;
        match &self.schedule {
            Some(schedule) => write!(f, " schedule={schedule}"),
            None => Ok(()),
        }
    }
}

/// Appends the failures to the file at `path`, skipping entries it holds already.
pub fn persist(path: &Path, failures: &[Failure]) -> io::Result<usize> {
    let existing = load(path)?;
    let fresh: Vec<Entry> = failures
        .iter()
        .map(|f| Entry {
            scenario: f.scenario.name.into(),
            backend: f.backend.into(),
            seed: f.seed,
            harness: HARNESS_VERSION.into(),
            schedule: f.schedule.clone(),
        })
        .filter(|e| {
            !existing.iter().any(|old| {
                old.as_ref()
                    .is_ok_and(|o| o.scenario == e.scenario && o.seed == e.seed)
            })
        })
        .collect();
    let mut file = fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)?;
    for entry in &fresh {
        writeln!(file, "{entry}")?;
    }
    Ok(fresh.len())
}

/// The entries of the file (none if it does not exist); unreadable lines as their 1-based
/// number and text.
fn load(path: &Path) -> io::Result<Vec<Result<Entry, (usize, String)>>> {
    let text = match fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    Ok(text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|(i, l)| Entry::parse(l).ok_or_else(|| (i + 1, l.to_string())))
        .collect())
}

/// Replays every entry of the harness's regressions file; the entries that did not replay
/// cleanly.
pub fn replay_all(harness: &Harness) -> io::Result<Vec<ReplayError>> {
    let mut errors = Vec::new();
    for entry in load(harness.regressions())? {
        let entry = match entry {
            Ok(entry) => entry,
            Err((line, text)) => {
                errors.push(ReplayError::Unreadable { line, text });
                continue;
            }
        };
        errors.extend(replay_entry(harness, entry));
    }
    Ok(errors)
}

/// Re-runs one entry's seed, and replays its schedule if it has one.
fn replay_entry(harness: &Harness, entry: Entry) -> Option<ReplayError> {
    if entry.harness != HARNESS_VERSION {
        return Some(ReplayError::OtherHarness(entry));
    }
    let Some(scenario) = harness
        .find(&entry.scenario)
        .filter(|s| s.backend() == entry.backend)
    else {
        return Some(ReplayError::Stale(entry));
    };
    let still_fails = |entry: Entry, message: String| {
        let replay = harness.replay_command(&entry.scenario, entry.seed);
        ReplayError::StillFails(entry, format!("{message}\nreplay: {replay}"))
    };
    if let Err(failure) = sweep::run_seed(scenario, entry.seed, sigrelay::bugs::Bugs::NONE) {
        return Some(still_fails(entry, failure.message));
    }
    let schedule = entry.schedule.as_deref()?;
    match sweep::replay_schedule(scenario, entry.seed, sigrelay::bugs::Bugs::NONE, schedule) {
        Ok(_) => None,
        Err(message) if SCHEDULE_DIVERGED.iter().any(|m| message.contains(m)) => {
            Some(ReplayError::ScheduleGone(entry, message))
        }
        Err(message) => Some(still_fails(entry, message)),
    }
}

/// What shuttle's replay says when a schedule does not fit the code it replays.
const SCHEDULE_DIVERGED: &[&str] = &[
    "schedule ended early",
    "expected context switch",
    "scheduled task is not runnable",
    "expected random choice",
    "invalid schedule",
];

impl fmt::Display for ReplayError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Unreadable { line, text } => write!(f, "line {line} is not a regression entry: {text:?}"),
            Self::Stale(e) => write!(f, "{e}: no such scenario or backend any more; the entry no longer replays"),
            Self::ScheduleGone(e, why) => write!(f, "{e}: the seed passes, but its schedule no longer fits the code ({why}); re-record it with `sim run` or drop the schedule"),
            Self::OtherHarness(e) => write!(f, "{e}: written by harness {}, this is {HARNESS_VERSION}; re-record it", e.harness),
            Self::StillFails(e, message) => write!(
                f,
                "{e} still fails:\n{message}",
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenarios::testing::BROKEN;
    use crate::sweep::RunArgs;

    fn scratch(name: &str) -> std::path::PathBuf {
        let path = std::env::temp_dir().join(format!("sim-{name}-{}.txt", std::process::id()));
        let _ = fs::remove_file(&path);
        path
    }

    #[test]
    fn stored_regressions_replay_cleanly() {
        let errors = replay_all(&Harness::sigrelay()).expect("the regressions file is readable");
        let report: Vec<String> = errors.iter().map(ToString::to_string).collect();
        assert!(
            errors.is_empty(),
            "stored regressions:\n{}",
            report.join("\n")
        );
    }

    #[test]
    fn a_broken_scenario_is_recorded_and_then_fails_its_replay() {
        let path = scratch("regressions-broken");
        let harness = Harness::new(BROKEN).regressions_at(&path);
        let args = RunArgs {
            seeds: 0..2,
            seeds_given: true,
            ..RunArgs::all(&harness)
        };
        let swept = sweep::sweep(&harness, &args, &mut |_| {});
        assert_eq!(persist(&path, &swept.failures).expect("written"), 2);
        let stored = fs::read_to_string(&path).expect("readable");
        assert!(
            stored.lines().all(|l| l.contains(" schedule=91")),
            "each entry keeps its shuttle schedule: {stored}"
        );
        assert_eq!(
            persist(&path, &swept.failures).expect("written"),
            0,
            "entries are not duplicated"
        );
        let errors = replay_all(&harness).expect("readable");
        let _ = fs::remove_file(&path);
        assert_eq!(errors.len(), 2);
        let first = errors[0].to_string();
        assert!(
            first.contains("scenario=broken backend=shuttle seed=0"),
            "{first}"
        );
        assert!(first.contains("deadlock: every task is blocked"), "{first}");
        assert!(
            first.contains("replay: cargo run --release -- replay --scenario broken --seed 0"),
            "{first}"
        );
    }

    #[test]
    fn entries_round_trip_and_bad_lines_are_reported() {
        let entry = Entry {
            scenario: "fan-in".into(),
            backend: "shuttle".into(),
            seed: 9,
            harness: "0.1.0".into(),
            schedule: Some("9101".into()),
        };
        assert_eq!(Entry::parse(&entry.to_string()), Some(entry));
        let path = scratch("regressions-bad");
        fs::write(
            &path,
            "scenario=fan-in seed=x\nscenario=gone backend=shuttle seed=1 harness=0.1.0\n",
        )
        .expect("write");
        let errors = replay_all(&Harness::sigrelay().regressions_at(&path)).expect("readable");
        let _ = fs::remove_file(&path);
        assert!(matches!(errors[0], ReplayError::Unreadable { line: 1, .. }));
        assert!(matches!(&errors[1], ReplayError::Stale(e) if e.scenario == "gone"));
    }

    /// An entry of another harness version, or whose schedule does not fit the scenario
    /// any more (here: the broken scenario's schedule stored for fan-in), is reported; the
    /// same seed without a schedule replays cleanly.
    #[test]
    fn stale_schedules_and_other_harnesses_are_reported() {
        let failure =
            sweep::run_seed(&BROKEN[0], 0, sigrelay::bugs::Bugs::NONE).expect_err("broken");
        let schedule = sweep::schedule_of(&failure).expect("a schedule");
        let entry = |harness: &str, schedule: Option<&str>| Entry {
            scenario: "fan-in".into(),
            backend: "shuttle".into(),
            seed: 9,
            harness: harness.into(),
            schedule: schedule.map(str::to_string),
        };
        let harness = Harness::sigrelay();
        assert!(replay_entry(&harness, entry(HARNESS_VERSION, None)).is_none());
        let gone = replay_entry(&harness, entry(HARNESS_VERSION, Some(&schedule)));
        assert!(
            matches!(gone, Some(ReplayError::ScheduleGone(..))),
            "{gone:?}"
        );
        let other = replay_entry(&harness, entry("0.0.0", None));
        assert!(
            matches!(other, Some(ReplayError::OtherHarness(_))),
            "{other:?}"
        );
    }
}
