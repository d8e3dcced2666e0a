//! `sim`: the sigrelay harness command.
//!
//! - `sim` (or `sim run`) sweeps every scenario over the default seeds — shuttle scenarios on
//!   virtual time over 0..1000 (the relay's churn over 0..20000), turmoil scenarios (whole
//!   simulated clusters) over their first 40 — and
//!   prints a summary table; it exits non-zero if any seed failed, and
//!   prints the one command that replays each failure.
//! - `sim run [--scenario S] [--seeds A..B] [--shard I/N] [--check-determinism]`
//! - `sim list`: the scenarios and what each proves.
//! - `sim check --scenario S [--strategy pct|random|dfs] [--iterations N] [--seed N]`:
//!   explores one scenario's schedules with a shuttle strategy.
//! - `sim replay --scenario S --seed N [--trace FILE]`: one seed, with its event log, and
//!   optionally a Chrome trace-event file of it that Perfetto opens (shuttle: tasks and
//!   messages from the runtime's log; turmoil: one track per host, from `tracing`).
//! - `sim bugs [--json]`: the bug catalogue — each known bug reintroduced and hunted, then
//!   the real code over the same seeds.
//! - `sim regressions`: replays every failure stored in `sim/regressions.txt` (which
//!   `sim run` appends to); `cargo test -p sim` does the same.

mod catalogue;
mod cli;
mod regressions;
mod scenarios;
mod sweep;
mod verdict;

use std::io::{IsTerminal as _, Write as _};
use std::process::ExitCode;

use cli::{Command, RunArgs};
use sigrelay::bugs::Bugs;
use sigrelay::check::{ShuttleCheck, Strategy};
use sigrelay::rt::prelude::*;
use sigrelay::rt::Tokio;

fn main() -> ExitCode {
    silence_caught_panics();
    let args: Vec<String> = std::env::args().skip(1).collect();
    match cli::parse(&args) {
        Ok(Command::List) => list(),
        Ok(Command::Regressions) => replay_regressions(),
        Ok(Command::Check {
            scenario,
            strategy,
            iterations,
            seed,
        }) => check(scenario, strategy, iterations, seed),
        Ok(Command::Run(run)) => sweep_and_report(&run),
        Ok(Command::Replay {
            scenario,
            seed,
            bugs,
            trace,
        }) => replay(scenario, seed, bugs, trace.as_deref()),
        Ok(Command::Bugs { json }) => bugs(json),
        Err(e) => {
            eprintln!("sim: {e}");
            ExitCode::from(2)
        }
    }
}

/// Every failure is reported by the harness itself, with its reproducer; the panic output
/// of shuttle's hook and the default hook would only repeat it, once for every panic a
/// routine's wrapper catches. Shuttle installs its hook on its first run, so an empty check
/// runs first and the silent hook replaces both.
fn silence_caught_panics() {
    let _ = ShuttleCheck::new(Strategy::Random, 1).try_run(|_| async {});
    std::panic::set_hook(Box::new(|_| {}));
}

fn list() -> ExitCode {
    for scenario in scenarios::ALL {
        println!("{:<22} {}", scenario.name, scenario.proves);
    }
    ExitCode::SUCCESS
}

fn sweep_and_report(args: &RunArgs) -> ExitCode {
    let live = std::io::stderr().is_terminal();
    let (rows, failures) = sweep::sweep(args, |name, done, total| {
        if live && done % 64 == 0 {
            eprint!("\r{name:<22} seed {done:>7}/{total}");
            let _ = std::io::stderr().flush();
        }
    });
    if live {
        eprintln!();
    }
    println!(
        "{:<22} {:<8} {:>7} {:>9} {:>13} {:>11} {:>12}",
        "scenario", "backend", "seeds", "failures", "virtual time", "wall", "schedules/s"
    );
    for row in &rows {
        println!(
            "{:<22} {:<8} {:>7} {:>9} {:>13?} {:>11.2?} {:>12.0}",
            row.scenario,
            row.backend,
            row.seeds,
            row.failures,
            row.virtual_time,
            row.wall,
            row.rate()
        );
    }
    for failure in &failures {
        println!(
            "\nFAILED {} seed {}:\n{}\nreplay: {}",
            failure.scenario,
            failure.seed,
            failure.message,
            failure.replay_command()
        );
    }
    if failures.is_empty() {
        return ExitCode::SUCCESS;
    }
    let path = regressions::default_path();
    match regressions::persist(&path, &failures) {
        Ok(n) => println!(
            "\nrecorded {n} new regression(s) in {}; `cargo test -p sim` replays them",
            path.display()
        ),
        Err(e) => eprintln!(
            "sim: could not record regressions in {}: {e}",
            path.display()
        ),
    }
    ExitCode::FAILURE
}

fn check(
    scenario: &scenarios::Scenario,
    strategy: Strategy,
    iterations: usize,
    seed: u64,
) -> ExitCode {
    let start = Tokio.now();
    let scenarios::Body::Shuttle(run) = scenario.body else {
        eprintln!("sim: {}", cli::CliError::NotShuttle(scenario.name));
        return ExitCode::from(2);
    };
    match ShuttleCheck::new(strategy.clone(), iterations)
        .seed(seed)
        .try_run(move |rt| run(rt, Bugs::NONE))
    {
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

fn replay_regressions() -> ExitCode {
    let path = regressions::default_path();
    match regressions::replay_all(&path) {
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

fn replay(
    scenario: &scenarios::Scenario,
    seed: u64,
    bugs: Bugs,
    trace: Option<&std::path::Path>,
) -> ExitCode {
    let (log, outcome) = sweep::replay_seed(scenario, seed, bugs);
    if let Some(log) = &log {
        if let Some(path) = trace {
            if let Err(e) = std::fs::write(path, log.chrome_trace()) {
                eprintln!("sim: cannot write the trace to {}: {e}", path.display());
                return ExitCode::from(2);
            }
            println!(
                "trace written to {} (open it in ui.perfetto.dev)",
                path.display()
            );
        }
        log.lines().iter().for_each(|line| println!("{line}"));
    }
    let hash = log.as_ref().map_or(0, sweep::RunLog::hash);
    match outcome {
        Ok(virtual_time) => {
            println!(
                "{} seed {seed}: ok at virtual time {virtual_time:?}, log hash {hash:x}",
                scenario.name
            );
            ExitCode::SUCCESS
        }
        Err(failure) => {
            if log.is_none() && trace.is_some() {
                eprintln!("sim: the run left no log to trace");
            }
            println!("{failure}");
            ExitCode::FAILURE
        }
    }
}

fn bugs(json: bool) -> ExitCode {
    let hunts: Vec<_> = catalogue::CATALOGUE
        .iter()
        .map(|e| catalogue::hunt(*e))
        .collect();
    if json {
        println!("{}", catalogue::to_json(&hunts));
    } else {
        println!(
            "{:<4} {:<22} {:>9} {:>7} {:>10} {:>12} {:>10}",
            "bug", "scenario", "detected", "seeds", "wall", "false alarms", "real wall"
        );
        for h in &hunts {
            let detected = if h.detected_at.is_some() { "yes" } else { "NO" };
            println!(
                "{:<4} {:<22} {:>9} {:>7} {:>10.2?} {:>6}/{:<5} {:>10.2?}",
                h.entry.bug.id(),
                h.entry.scenario,
                detected,
                h.seeds_until_detection,
                h.wall,
                h.false_alarms,
                h.entry.budget,
                h.clean_wall
            );
        }
        for h in &hunts {
            if let Some(replay) = h.replay_command() {
                println!(
                    "\n{} ({}):\n  expected: {}\n  observed: {}\n  replay: {replay}",
                    h.entry.bug,
                    h.entry.symptom,
                    h.entry.expected,
                    h.message()
                );
            }
        }
        for h in hunts.iter().filter(|h| h.detected_at.is_none()) {
            println!(
                "\n{} MISSED: expected {}; {} seed(s) failed another way, first: {}",
                h.entry.bug,
                h.entry.expected,
                h.unmatched,
                h.message()
            );
        }
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
