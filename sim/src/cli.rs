//! The command line: `sim [run|list|check|replay|bugs|regressions] [flags]`, parsed by clap
//! and resolved against a [`Harness`] into typed commands.

use std::fmt;
use std::ops::Range;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use sigrelay::bugs::{Bug, Bugs};
use sigrelay::check::Strategy;

use crate::scenario::Scenario;
use crate::sweep::{available_jobs, RunArgs, Shard, DEFAULT_SEEDS};
use crate::Harness;

/// The iterations of `check` when `--iterations` is not given.
pub const DEFAULT_ITERATIONS: usize = 10_000;

/// Deterministic simulation of concurrent code: sweep seeds, replay failures, hunt the bug
/// catalogue. Without a command, `run` over the default seeds.
#[derive(Debug, Parser)]
#[command(name = "sim", version, args_conflicts_with_subcommands = true)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Option<Command>,
    /// The flags of `run`, for `sim` without a command.
    #[command(flatten)]
    pub run: RunFlags,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Sweep scenarios over seeds on every core: a summary with each declared hard state
    /// and how many seeds reached it; exits non-zero if a seed failed or a hard state was
    /// never reached, and records each failure in the regressions file.
    Run(RunFlags),
    /// The scenarios and what each proves.
    List,
    /// Explore one shuttle scenario's schedules with a shuttle strategy.
    Check(CheckFlags),
    /// Run one seed of one scenario and print its event log (failing or not).
    Replay(ReplayFlags),
    /// The bug catalogue: each known bug reintroduced and hunted until it fails the way it
    /// must, then the real code over the same seeds.
    Bugs {
        /// Print JSON: per bug `expected`, `observed` and `matched`.
        #[arg(long)]
        json: bool,
    },
    /// Replay every failure stored in the regressions file.
    Regressions,
}

/// The flags of `run`.
#[derive(Debug, Args, Default)]
pub struct RunFlags {
    /// Only this scenario (repeatable); default all.
    #[arg(long, value_name = "NAME")]
    pub scenario: Vec<String>,
    /// The seeds, as A..B; default 0..1000, or a scenario's own default size.
    #[arg(long, value_name = "A..B", value_parser = parse_seeds)]
    pub seeds: Option<Range<u64>>,
    /// Run shard I of N of the seeds (shards 1/N … N/N cover them exactly once).
    #[arg(long, value_name = "I/N", value_parser = parse_shard)]
    pub shard: Option<Shard>,
    /// Run every seed twice and fail if the two event logs differ.
    #[arg(long)]
    pub check_determinism: bool,
    /// Worker threads; default one per core. The summary and regressions do not depend on it.
    #[arg(long, short = 'j', value_name = "N", value_parser = parse_jobs)]
    pub jobs: Option<usize>,
    /// Print the summary and failures as JSON.
    #[arg(long)]
    pub json: bool,
}

/// The flags of `check`.
#[derive(Debug, Args)]
pub struct CheckFlags {
    /// The scenario (a shuttle one).
    #[arg(long, value_name = "NAME")]
    pub scenario: String,
    /// How schedules are picked.
    #[arg(long, value_parser = ["pct", "random", "dfs"], default_value = "pct")]
    pub strategy: String,
    /// Schedules to explore at most.
    #[arg(long, default_value_t = DEFAULT_ITERATIONS, value_parser = parse_iterations)]
    pub iterations: usize,
    /// The scheduler's seed.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
}

/// The flags of `replay`.
#[derive(Debug, Args)]
pub struct ReplayFlags {
    /// The scenario.
    #[arg(long, value_name = "NAME")]
    pub scenario: String,
    /// The seed.
    #[arg(long)]
    pub seed: u64,
    /// Reintroduce this catalogued bug (an id such as B1).
    #[arg(long, value_name = "ID")]
    pub bug: Option<String>,
    /// Also write the run as a Chrome trace-event file (Perfetto opens it).
    #[arg(long, value_name = "FILE")]
    pub trace: Option<PathBuf>,
}

/// Why a parsed command line names something the harness does not have.
#[derive(Debug, PartialEq, Eq)]
pub enum CliError {
    /// No scenario has this name.
    UnknownScenario(String),
    /// `--bug` names no catalogued bug.
    UnknownBug(String),
    /// `check` explores shuttle schedules; this scenario runs on another backend.
    NotShuttle(&'static str),
}

impl RunFlags {
    /// The sweep these flags ask of `harness`.
    pub fn resolve(&self, harness: &Harness) -> Result<RunArgs, CliError> {
        let mut args = RunArgs::all(harness);
        if !self.scenario.is_empty() {
            args.scenarios = self
                .scenario
                .iter()
                .map(|name| scenario(harness, name))
                .collect::<Result<_, _>>()?;
        }
        args.seeds_given = self.seeds.is_some();
        args.seeds = self.seeds.clone().unwrap_or(DEFAULT_SEEDS);
        args.shard = self.shard.unwrap_or(Shard::ALL);
        args.check_determinism = self.check_determinism;
        args.jobs = self.jobs.unwrap_or_else(available_jobs);
        Ok(args)
    }
}

impl CheckFlags {
    /// The scenario, strategy, iterations and seed.
    pub fn resolve(
        &self,
        harness: &Harness,
    ) -> Result<(&'static Scenario, Strategy, usize, u64), CliError> {
        let scenario = scenario(harness, &self.scenario)?;
        if scenario.backend() != "shuttle" {
            return Err(CliError::NotShuttle(scenario.name));
        }
        let strategy = match self.strategy.as_str() {
            "random" => Strategy::Random,
            "dfs" => Strategy::Dfs,
            _ => Strategy::Pct { depth: 3 },
        };
        Ok((scenario, strategy, self.iterations, self.seed))
    }
}

impl ReplayFlags {
    /// The scenario and the bugs to reintroduce.
    pub fn resolve(&self, harness: &Harness) -> Result<(&'static Scenario, Bugs), CliError> {
        let bugs = match &self.bug {
            None => Bugs::NONE,
            Some(id) => {
                Bugs::only(Bug::from_id(id).ok_or_else(|| CliError::UnknownBug(id.clone()))?)
            }
        };
        Ok((scenario(harness, &self.scenario)?, bugs))
    }
}

fn scenario(harness: &Harness, name: &str) -> Result<&'static Scenario, CliError> {
    harness
        .find(name)
        .ok_or_else(|| CliError::UnknownScenario(name.to_string()))
}

fn parse_seeds(text: &str) -> Result<Range<u64>, String> {
    let bad = || format!("expected A..B with A < B, e.g. 0..1000, not {text:?}");
    let (a, b) = text.split_once("..").ok_or_else(bad)?;
    let (a, b): (u64, u64) = (a.parse().map_err(|_| bad())?, b.parse().map_err(|_| bad())?);
    (a < b).then_some(a..b).ok_or_else(bad)
}

fn parse_shard(text: &str) -> Result<Shard, String> {
    let bad = || format!("expected I/N with 1 <= I <= N, e.g. 2/4, not {text:?}");
    let (i, n) = text.split_once('/').ok_or_else(bad)?;
    let (index, count): (u64, u64) = (i.parse().map_err(|_| bad())?, n.parse().map_err(|_| bad())?);
    (1 <= index && index <= count)
        .then_some(Shard { index, count })
        .ok_or_else(bad)
}

fn parse_jobs(text: &str) -> Result<usize, String> {
    text.parse()
        .ok()
        .filter(|n| *n > 0)
        .ok_or_else(|| format!("expected a positive whole number, not {text:?}"))
}

fn parse_iterations(text: &str) -> Result<usize, String> {
    parse_jobs(text)
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::UnknownScenario(s) => write!(f, "no scenario named {s:?}; `sim list` shows them"),
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
mod tests;
