//! The command line: `sim [run|list|replay] [flags]`, parsed into a typed [`Command`].

use std::fmt;
use std::ops::Range;
use std::path::PathBuf;

use sigrelay::bugs::{Bug, Bugs};
use sigrelay::check::Strategy;

use crate::scenarios::{self, Scenario};

/// The iterations of `check` when `--iterations` is not given.
pub const DEFAULT_ITERATIONS: usize = 10_000;

/// What the user asked for.
#[derive(Debug)]
pub enum Command {
    /// Sweep seeds over scenarios.
    Run(RunArgs),
    /// Print the scenarios.
    List,
    /// Replay every stored regression.
    Regressions,
    /// Explore one scenario's schedules with a shuttle strategy.
    Check {
        /// The scenario.
        scenario: &'static Scenario,
        /// How schedules are picked.
        strategy: Strategy,
        /// How many schedules at most.
        iterations: usize,
        /// The scheduler's seed.
        seed: u64,
    },
    /// Run the bug catalogue: each bug reintroduced, then the real code.
    Bugs {
        /// Print JSON instead of a table.
        json: bool,
    },
    /// Run one seed of one scenario and print its event log.
    Replay {
        /// The scenario.
        scenario: &'static Scenario,
        /// The seed.
        seed: u64,
        /// The bugs reintroduced for the run (`--bug`).
        bugs: Bugs,
        /// Where to write the run as a Chrome trace-event file.
        trace: Option<PathBuf>,
    },
}

/// The flags of `run`.
#[derive(Debug)]
pub struct RunArgs {
    /// Which scenarios.
    pub scenarios: Vec<&'static Scenario>,
    /// Which seeds, before sharding.
    pub seeds: Range<u64>,
    /// Whether `--seeds` was given: if not, turmoil scenarios run only their first few.
    pub seeds_given: bool,
    /// Which part of the seeds this process runs.
    pub shard: Shard,
    /// Run each seed twice and compare event logs.
    pub check_determinism: bool,
}

/// Shard `index` (1-based) of `count`: the seeds whose offset in the range is
/// `index - 1` modulo `count`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    index: u64,
    count: u64,
}

/// Why the command line was refused.
#[derive(Debug, PartialEq, Eq)]
pub enum CliError {
    /// Not `run`, `list` or `replay`.
    UnknownCommand(String),
    /// A flag the command does not take.
    UnknownFlag(String),
    /// A flag given without its value.
    MissingValue(&'static str),
    /// `--seeds` is not `A..B` with `A < B`.
    BadSeeds(String),
    /// `--seed` is not a whole number.
    BadSeed(String),
    /// `--shard` is not `I/N` with `1 <= I <= N`.
    BadShard(String),
    /// No scenario has this name.
    UnknownScenario(String),
    /// `replay` needs `--scenario` and `--seed`; `check` needs `--scenario`.
    MissingFlag(&'static str),
    /// `--strategy` is not `random`, `pct` or `dfs`.
    BadStrategy(String),
    /// `--iterations` is not a positive whole number.
    BadIterations(String),
    /// `--bug` names no catalogued bug.
    UnknownBug(String),
    /// `check` explores shuttle schedules; this scenario runs on another backend.
    NotShuttle(&'static str),
}

/// The seeds swept when `--seeds` is not given.
pub const DEFAULT_SEEDS: Range<u64> = 0..1000;

impl Shard {
    /// The whole range.
    pub const ALL: Shard = Shard { index: 1, count: 1 };

    /// Whether `seed` of `range` belongs to this shard.
    pub fn owns(&self, range: &Range<u64>, seed: u64) -> bool {
        (seed - range.start) % self.count == self.index - 1
    }
}

/// Parses the arguments after the program name.
pub fn parse(args: &[String]) -> Result<Command, CliError> {
    let (command, flags) = match args.first().map(String::as_str) {
        None => return Ok(Command::Run(run_args(&[])?)),
        Some(flag) if flag.starts_with("--") => ("run", args),
        Some(command) => (command, &args[1..]),
    };
    match command {
        "run" => Ok(Command::Run(run_args(flags)?)),
        "list" if flags.is_empty() => Ok(Command::List),
        "regressions" if flags.is_empty() => Ok(Command::Regressions),
        "list" | "regressions" => Err(CliError::UnknownFlag(flags[0].clone())),
        "replay" => replay_args(flags),
        "bugs" => match flags {
            [] => Ok(Command::Bugs { json: false }),
            [flag] if flag == "--json" => Ok(Command::Bugs { json: true }),
            [flag, ..] => Err(CliError::UnknownFlag(flag.clone())),
        },
        "check" => check_args(flags),
        other => Err(CliError::UnknownCommand(other.to_string())),
    }
}

fn run_args(flags: &[String]) -> Result<RunArgs, CliError> {
    let mut args = RunArgs {
        scenarios: scenarios::ALL.iter().collect(),
        seeds: DEFAULT_SEEDS,
        seeds_given: false,
        shard: Shard::ALL,
        check_determinism: false,
    };
    let mut it = flags.iter();
    while let Some(flag) = it.next() {
        match flag.as_str() {
            "--scenario" => args.scenarios = vec![scenario(value(&mut it, "--scenario")?)?],
            "--seeds" => {
                args.seeds = seeds(value(&mut it, "--seeds")?)?;
                args.seeds_given = true;
            }
            "--shard" => args.shard = shard(value(&mut it, "--shard")?)?,
            "--check-determinism" => args.check_determinism = true,
            other => return Err(CliError::UnknownFlag(other.to_string())),
        }
    }
    Ok(args)
}

fn replay_args(flags: &[String]) -> Result<Command, CliError> {
    let (mut found, mut seed, mut trace, mut bugs) = (None, None, None, Bugs::NONE);
    let mut it = flags.iter();
    while let Some(flag) = it.next() {
        match flag.as_str() {
            "--scenario" => found = Some(scenario(value(&mut it, "--scenario")?)?),
            "--trace" => trace = Some(PathBuf::from(value(&mut it, "--trace")?)),
            "--bug" => {
                let id = value(&mut it, "--bug")?;
                let bug = Bug::from_id(id).ok_or_else(|| CliError::UnknownBug(id.to_string()))?;
                bugs = Bugs::only(bug);
            }
            "--seed" => {
                seed = Some(seed_value(&mut it)?);
            }
            other => return Err(CliError::UnknownFlag(other.to_string())),
        }
    }
    let scenario = found.ok_or(CliError::MissingFlag("--scenario"))?;
    let seed = seed.ok_or(CliError::MissingFlag("--seed"))?;
    Ok(Command::Replay {
        scenario,
        seed,
        bugs,
        trace,
    })
}

fn check_args(flags: &[String]) -> Result<Command, CliError> {
    let (mut found, mut strategy, mut iterations, mut seed) =
        (None, Strategy::Pct { depth: 3 }, DEFAULT_ITERATIONS, 0);
    let mut it = flags.iter();
    while let Some(flag) = it.next() {
        match flag.as_str() {
            "--scenario" => found = Some(scenario(value(&mut it, "--scenario")?)?),
            "--strategy" => {
                strategy = match value(&mut it, "--strategy")? {
                    "random" => Strategy::Random,
                    "pct" => Strategy::Pct { depth: 3 },
                    "dfs" => Strategy::Dfs,
                    other => return Err(CliError::BadStrategy(other.to_string())),
                }
            }
            "--iterations" => {
                let text = value(&mut it, "--iterations")?;
                iterations = text
                    .parse()
                    .ok()
                    .filter(|n| *n > 0)
                    .ok_or_else(|| CliError::BadIterations(text.to_string()))?;
            }
            "--seed" => {
                seed = seed_value(&mut it)?;
            }
            other => return Err(CliError::UnknownFlag(other.to_string())),
        }
    }
    let scenario = found.ok_or(CliError::MissingFlag("--scenario"))?;
    if scenario.backend() != "shuttle" {
        return Err(CliError::NotShuttle(scenario.name));
    }
    Ok(Command::Check {
        scenario,
        strategy,
        iterations,
        seed,
    })
}

fn seed_value<'a>(it: &mut impl Iterator<Item = &'a String>) -> Result<u64, CliError> {
    let text = value(it, "--seed")?;
    text.parse()
        .map_err(|_| CliError::BadSeed(text.to_string()))
}

fn value<'a>(
    it: &mut impl Iterator<Item = &'a String>,
    flag: &'static str,
) -> Result<&'a str, CliError> {
    it.next()
        .map(String::as_str)
        .ok_or(CliError::MissingValue(flag))
}

fn scenario(name: &str) -> Result<&'static Scenario, CliError> {
    scenarios::find(name).ok_or_else(|| CliError::UnknownScenario(name.to_string()))
}

fn seeds(text: &str) -> Result<Range<u64>, CliError> {
    let bad = || CliError::BadSeeds(text.to_string());
    let (a, b) = text.split_once("..").ok_or_else(bad)?;
    let (a, b): (u64, u64) = (a.parse().map_err(|_| bad())?, b.parse().map_err(|_| bad())?);
    if a < b {
        Ok(a..b)
    } else {
        Err(bad())
    }
}

fn shard(text: &str) -> Result<Shard, CliError> {
    let bad = || CliError::BadShard(text.to_string());
    let (i, n) = text.split_once('/').ok_or_else(bad)?;
    let (index, count): (u64, u64) = (i.parse().map_err(|_| bad())?, n.parse().map_err(|_| bad())?);
    if 1 <= index && index <= count {
        Ok(Shard { index, count })
    } else {
        Err(bad())
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::UnknownCommand(c) => write!(
                f,
                "unknown command {c:?}: use run, list, check, replay, bugs or regressions"
            ),
            Self::UnknownFlag(flag) => write!(f, "unknown flag {flag:?}"),
            Self::MissingValue(flag) => write!(f, "{flag} needs a value"),
            Self::BadSeeds(s) => write!(f, "--seeds {s:?}: expected A..B with A < B, e.g. 0..1000"),
            Self::BadSeed(s) => write!(f, "--seed {s:?}: expected a whole number"),
            Self::BadShard(s) => {
                write!(f, "--shard {s:?}: expected I/N with 1 <= I <= N, e.g. 2/4")
            }
            Self::UnknownScenario(s) => write!(f, "no scenario named {s:?}; `sim list` shows them"),
            Self::MissingFlag(flag) => write!(f, "this command needs {flag}"),
            Self::BadStrategy(s) => write!(f, "--strategy {s:?}: expected random, pct or dfs"),
            Self::BadIterations(s) => {
                write!(f, "--iterations {s:?}: expected a positive whole number")
            }
            Self::UnknownBug(s) => write!(f, "--bug {s:?}: no such bug; `sim bugs` lists them"),
            Self::NotShuttle(s) => write!(
                f,
                "{s} runs on turmoil: `check` explores shuttle schedules; sweep its seeds with `run --scenario {s}`"
            ),
        }
    }
}

impl std::error::Error for CliError {}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_str(line: &str) -> Result<Command, CliError> {
        parse(
            &line
                .split_whitespace()
                .map(String::from)
                .collect::<Vec<_>>(),
        )
    }

    #[test]
    fn shards_partition_the_seeds_exactly() {
        let range = 3..40;
        let owners = |seed| {
            (1..=3)
                .filter(|i| {
                    Shard {
                        index: *i,
                        count: 3,
                    }
                    .owns(&range, seed)
                })
                .count()
        };
        assert!(range.clone().all(|seed| owners(seed) == 1));
        let Command::Run(args) = parse_str("run --seeds 3..40 --shard 2/3").expect("valid") else {
            panic!()
        };
        assert_eq!(
            (args.seeds, args.shard),
            (3..40, Shard { index: 2, count: 3 })
        );
    }

    #[test]
    fn bad_input_gets_a_typed_error() {
        assert_eq!(
            parse_str("run --seeds 9..2").unwrap_err(),
            CliError::BadSeeds("9..2".into())
        );
        assert_eq!(
            parse_str("run --shard 0/2").unwrap_err(),
            CliError::BadShard("0/2".into())
        );
        assert_eq!(
            parse_str("run --shard 3/2").unwrap_err(),
            CliError::BadShard("3/2".into())
        );
        assert_eq!(
            parse_str("run --seeds").unwrap_err(),
            CliError::MissingValue("--seeds")
        );
        assert_eq!(
            parse_str("run --scenario nope").unwrap_err(),
            CliError::UnknownScenario("nope".into())
        );
        assert_eq!(
            parse_str("replay --scenario pipeline").unwrap_err(),
            CliError::MissingFlag("--seed")
        );
        assert_eq!(
            parse_str("fly").unwrap_err(),
            CliError::UnknownCommand("fly".into())
        );
        assert_eq!(
            parse_str("check --scenario pipeline --strategy bfs").unwrap_err(),
            CliError::BadStrategy("bfs".into())
        );
        assert_eq!(
            parse_str("check --scenario pipeline --iterations 0").unwrap_err(),
            CliError::BadIterations("0".into())
        );
        assert_eq!(
            parse_str("check --strategy dfs").unwrap_err(),
            CliError::MissingFlag("--scenario")
        );
        assert_eq!(
            parse_str("replay --scenario pipeline --seed 1 --bug B99").unwrap_err(),
            CliError::UnknownBug("B99".into())
        );
        assert_eq!(
            parse_str("bugs --yaml").unwrap_err(),
            CliError::UnknownFlag("--yaml".into())
        );
        assert_eq!(
            parse_str("run --fast").unwrap_err(),
            CliError::UnknownFlag("--fast".into())
        );
    }

    #[test]
    fn no_arguments_run_every_scenario_over_the_default_seeds() {
        let Command::Run(args) = parse_str("").expect("valid") else {
            panic!()
        };
        assert_eq!(args.scenarios.len(), scenarios::ALL.len());
        assert_eq!(
            (args.seeds, args.shard, args.check_determinism),
            (DEFAULT_SEEDS, Shard::ALL, false)
        );
    }
}
