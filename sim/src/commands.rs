//! What each command of the command line does, over any [`Harness`].

use std::process::ExitCode;

use clap::Parser as _;
use sigrelay::bugs::Bugs;
use sigrelay::check::{ShuttleCheck, Strategy};
use sigrelay::rt::prelude::*;
use sigrelay::rt::Tokio;

use crate::cli::{Cli, CliError, Command, ReplayFlags, RunFlags};
use crate::progress::Progress;
use crate::scenario::Scenario;
use crate::sweep::{self, RunArgs, Sweep};
use crate::{catalogue, panics, regressions, Harness};

/// Parses `args` (the program name first) and runs the command over `harness`.
pub fn main<I, T>(harness: &Harness, args: I) -> ExitCode
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(u8::try_from(e.exit_code()).unwrap_or(2));
        }
    };
    panics::quiet_inside_runs();
    let outcome = match cli.command {
        None => run(harness, &cli.run),
        Some(Command::Run(flags)) => run(harness, &flags),
        Some(Command::List) => Ok(list(harness)),
        Some(Command::Check(flags)) => flags
            .resolve(harness)
            .map(|(scenario, strategy, n, seed)| check(scenario, strategy, n, seed)),
        Some(Command::Replay(flags)) => replay(harness, &flags),
        Some(Command::Bugs { json }) => Ok(bugs(harness, json)),
        Some(Command::Regressions) => Ok(replay_regressions(harness)),
    };
    outcome.unwrap_or_else(|e: CliError| {
        eprintln!("sim: {e}");
        ExitCode::from(2)
    })
}

fn list(harness: &Harness) -> ExitCode {
    for scenario in harness.scenarios() {
        println!("{:<22} {}", scenario.name, scenario.proves);
        for state in scenario.hard_states {
            println!("{:<22}   must reach: {state}", "");
        }
    }
    ExitCode::SUCCESS
}

fn run(harness: &Harness, flags: &RunFlags) -> Result<ExitCode, CliError> {
    let args = flags.resolve(harness)?;
    let sweep = sweep_with_progress(harness, &args);
    if flags.json {
        println!("{}", summary_json(&sweep));
    } else {
        print!("{}", summary_table(&sweep));
    }
    print_timing(&sweep, args.jobs);
    if !sweep.failures.is_empty() {
        match regressions::persist(harness.regressions(), &sweep.failures) {
            Ok(n) => eprintln!(
                "recorded {n} new regression(s) in {}; `{} regressions` replays them",
                harness.regressions().display(),
                harness.command()
            ),
            Err(e) => eprintln!(
                "sim: could not record regressions in {}: {e}",
                harness.regressions().display()
            ),
        }
    }
    Ok(if sweep.passed() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// Sweeps `args` with a progress bar on stderr.
pub fn sweep_with_progress(harness: &Harness, args: &RunArgs) -> Sweep {
    let total = (args.scenarios.iter())
        .map(|s| args.owned_seeds(s).count() as u64)
        .sum();
    let progress = Progress::new(total);
    let sweep = sweep::sweep(harness, args, &mut |tick| progress.tick(tick));
    progress.finish();
    sweep
}

/// The summary: one row per scenario, its hard states, then each failure with its replay
/// command. Nothing in it depends on wall time or the job count.
pub fn summary_table(sweep: &Sweep) -> String {
    let mut out = format!(
        "{:<22} {:<8} {:>7} {:>9} {:>13}\n",
        "scenario", "backend", "seeds", "failures", "virtual time"
    );
    for row in &sweep.rows {
        out += &format!(
            "{:<22} {:<8} {:>7} {:>9} {:>13?}\n",
            row.scenario.name,
            row.scenario.backend(),
            row.seeds,
            row.failures,
            row.virtual_time
        );
        for (state, seeds) in &row.reached {
            let verdict = if *seeds == 0 {
                "NEVER reached"
            } else {
                "reached"
            };
            out += &format!("    {verdict} by {seeds:>6}/{} seeds: {state}\n", row.seeds);
        }
    }
    for failure in &sweep.failures {
        out += &format!(
            "\nFAILED {} seed {}:\n{}\nreplay: {}\n",
            failure.scenario.name, failure.seed, failure.message, failure.replay_command
        );
    }
    for row in &sweep.rows {
        for state in row.unreached() {
            out += &format!(
                "\nUNREACHED {}: no seed reached {state:?}; the sweep did not show the scenario's hard case\n",
                row.scenario.name
            );
        }
    }
    out
}

/// The summary as JSON: rows with their hard states, and every failure in full.
pub fn summary_json(sweep: &Sweep) -> String {
    let rows: Vec<_> = sweep
        .rows
        .iter()
        .map(|row| {
            let reached: serde_json::Map<String, serde_json::Value> = row
                .reached
                .iter()
                .map(|(state, n)| (state.to_string(), (*n).into()))
                .collect();
            serde_json::json!({
                "scenario": row.scenario.name,
                "backend": row.scenario.backend(),
                "seeds": row.seeds,
                "failures": row.failures,
                "virtual_time_ns": row.virtual_time.as_nanos() as u64,
                "hard_states": reached,
            })
        })
        .collect();
    let failures: Vec<_> = sweep.failures.iter().map(|f| f.to_json()).collect();
    let summary = serde_json::json!({
        "passed": sweep.passed(),
        "scenarios": rows,
        "failures": failures,
    });
    serde_json::to_string_pretty(&summary).expect("a summary serialises")
}

fn print_timing(sweep: &Sweep, jobs: usize) {
    let seeds: u64 = sweep.rows.iter().map(|r| r.seeds).sum();
    for row in &sweep.rows {
        eprintln!(
            "{:<22} {:>10.2?} of worker time, {:>8.0} seeds/s per worker",
            row.scenario.name,
            row.busy,
            row.rate()
        );
    }
    eprintln!(
        "swept {seeds} seeds in {:.2?} on {jobs} job(s): {:.0} seeds/s",
        sweep.wall,
        seeds as f64 / sweep.wall.as_secs_f64().max(1e-9)
    );
}

fn check(scenario: &Scenario, strategy: Strategy, iterations: usize, seed: u64) -> ExitCode {
    let crate::scenario::Body::Shuttle(run) = scenario.body else {
        unreachable!("resolved to a shuttle scenario");
    };
    let start = Tokio.now();
    let spinner = Progress::spinner(&format!("{} {strategy:?}", scenario.name));
    let outcome = ShuttleCheck::new(strategy.clone(), iterations)
        .seed(seed)
        .try_run(move |rt| run(rt, Bugs::NONE));
    spinner.finish();
    match outcome {
        Ok(summary) => {
            let wall = start.elapsed();
            println!(
                "{} {strategy:?} seed {seed}: {} schedules, no failure, {wall:.2?} ({:.0} schedules/s)",
                scenario.name,
                summary.iterations,
                summary.iterations as f64 / wall.as_secs_f64().max(1e-9)
            );
            ExitCode::SUCCESS
        }
        Err(failure) => {
            println!("{failure}");
            ExitCode::FAILURE
        }
    }
}

fn replay(harness: &Harness, flags: &ReplayFlags) -> Result<ExitCode, CliError> {
    let (scenario, bugs) = flags.resolve(harness)?;
    let seed = flags.seed;
    let (log, outcome) = sweep::replay_seed(scenario, seed, bugs);
    if let Some(log) = &log {
        if let Some(path) = &flags.trace {
            if let Err(e) = std::fs::write(path, log.chrome_trace()) {
                eprintln!("sim: cannot write the trace to {}: {e}", path.display());
                return Ok(ExitCode::from(2));
            }
            println!(
                "trace written to {} (open it in ui.perfetto.dev)",
                path.display()
            );
        }
        log.lines().iter().for_each(|line| println!("{line}"));
    }
    let hash = log.as_ref().map_or(0, sweep::RunLog::hash);
    Ok(match outcome {
        Ok(virtual_time) => {
            println!(
                "{} seed {seed}: ok at virtual time {virtual_time:?}, log hash {hash:x}",
                scenario.name
            );
            ExitCode::SUCCESS
        }
        Err(failure) => {
            if log.is_none() && flags.trace.is_some() {
                eprintln!("sim: the run left no log to trace");
            }
            println!("{failure}");
            ExitCode::FAILURE
        }
    })
}

fn replay_regressions(harness: &Harness) -> ExitCode {
    let path = harness.regressions();
    match regressions::replay_all(harness) {
        Ok(errors) if errors.is_empty() => {
            println!("every regression in {} replays cleanly", path.display());
            ExitCode::SUCCESS
        }
        Ok(errors) => {
            errors.iter().for_each(|e| println!("{e}\n"));
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("sim: cannot read {}: {e}", path.display());
            ExitCode::from(2)
        }
    }
}

fn bugs(harness: &Harness, json: bool) -> ExitCode {
    let entries = harness.catalogue();
    let progress = Progress::new(entries.len() as u64);
    let hunts: Vec<_> = entries
        .iter()
        .map(|e| {
            let hunt = catalogue::hunt(harness, *e);
            progress.step(&format!("{} hunted", e.bug.id()));
            hunt
        })
        .collect();
    progress.finish();
    if json {
        println!("{}", catalogue::to_json(&hunts));
    } else {
        print!("{}", catalogue::table(&hunts));
    }
    let all_caught = hunts
        .iter()
        .all(|h| h.detected_at.is_some() && h.false_alarms == 0);
    if all_caught {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
