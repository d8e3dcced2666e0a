//! The sigrelay harness as a library: sweep, replay, persist and determinism-check
//! scenarios — sigrelay's own or a user's — from a `#[test]` or from a small binary.
//!
//! ```ignore
//! use sim::{Harness, Scenario};
//! use sigrelay::rt::prelude::*;
//!
//! async fn two_stages<R: Runtime>(rt: R) {
//!     let (tx, mut rx) = rt.channel::<u32>("values", 1);
//!     let producer = rt.spawn("producer", async move {
//!         for v in 0..4 {
//!             tx.send(v).await.expect("the consumer is alive");
//!         }
//!     });
//!     while rx.recv().await.is_some() {}
//!     producer.await.expect("the producer ends");
//! }
//!
//! static MINE: &[Scenario] = &[Scenario::shuttle(
//!     "two-stages",
//!     "every value reaches the consumer and both stages end",
//!     |rt, _| Box::pin(two_stages(rt)),
//! )];
//!
//! fn main() -> std::process::ExitCode {
//!     Harness::new(MINE).regressions_at("regressions.txt").main()
//! }
//! ```
//!
//! (This is the walk-through crate of the workspace, `walkthrough/`, in brief; its tests
//! run it.)
//!
//! # Map of the code
//! - [`scenario`]: what a scenario is — a body, what it proves, its hard states.
//! - [`sweep`]: seeds run on every core, each a shuttle schedule or a turmoil simulation;
//!   summaries identical whatever the job count.
//! - [`failure`]: a failed seed as data — its kind, the wait-for graph of a deadlock or
//!   leak, the schedule and the event log — serialisable as JSON, with
//!   [`Failure::replay`](failure::Failure::replay).
//! - [`regressions`]: failures persisted in a file and replayed by every `cargo test`.
//! - [`verdict`] and [`catalogue`]: the bugs of the originals, each reintroduced and hunted
//!   until it fails the way it must; the real code over the same seeds.
//! - [`cli`] and [`commands`]: the `sim` command line over any [`Harness`], with progress
//!   bars ([`progress`]).
//! - [`scenarios`]: sigrelay's own scenarios, the table the `sim` binary sweeps.

pub mod catalogue;
pub mod cli;
pub mod commands;
pub mod failure;
pub mod panics;
pub mod progress;
pub mod regressions;
pub mod scenario;
pub mod scenarios;
pub mod sweep;
pub mod verdict;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

pub use failure::Failure;
pub use scenario::{Body, BoxedBody, Scenario};
pub use sweep::{RunArgs, Sweep};

/// A table of scenarios, the file their failures are persisted in, and the command that
/// replays one: everything the sweeps, replays and the command line need.
#[derive(Debug, Clone)]
pub struct Harness {
    scenarios: &'static [Scenario],
    regressions: PathBuf,
    command: String,
    catalogue: &'static [catalogue::Entry],
}

impl Harness {
    /// A harness over `scenarios`, persisting failures in `regressions.txt` of the current
    /// directory, replayed with `cargo run --release --`.
    pub fn new(scenarios: &'static [Scenario]) -> Self {
        Harness {
            scenarios,
            regressions: PathBuf::from("regressions.txt"),
            command: "cargo run --release --".into(),
            catalogue: &[],
        }
    }

    /// sigrelay's own scenarios, persisted in `sim/regressions.txt`: the `sim` binary.
    pub fn sigrelay() -> Self {
        let mut harness = Harness::new(scenarios::ALL);
        harness.catalogue = catalogue::CATALOGUE;
        harness
            .regressions_at(Path::new(env!("CARGO_MANIFEST_DIR")).join("regressions.txt"))
            .replayed_with("cargo run --release -p sim --")
    }

    /// This harness, persisting failures in the file at `path`.
    pub fn regressions_at(mut self, path: impl Into<PathBuf>) -> Self {
        self.regressions = path.into();
        self
    }

    /// This harness, whose replay commands start with `command` (the binary and `--`).
    pub fn replayed_with(mut self, command: &str) -> Self {
        self.command = command.into();
        self
    }

    /// The scenarios.
    pub fn scenarios(&self) -> &'static [Scenario] {
        self.scenarios
    }

    /// The scenario named `name`.
    pub fn find(&self, name: &str) -> Option<&'static Scenario> {
        self.scenarios.iter().find(|s| s.name == name)
    }

    /// The bug catalogue `sim bugs` hunts: sigrelay's own, or none.
    pub fn catalogue(&self) -> &'static [catalogue::Entry] {
        self.catalogue
    }

    /// The regressions file.
    pub fn regressions(&self) -> &Path {
        &self.regressions
    }

    /// The command this harness's binary is run with (the binary and `--`).
    pub fn command(&self) -> &str {
        &self.command
    }

    /// The one command that replays `seed` of `scenario`.
    pub fn replay_command(&self, scenario: &str, seed: u64) -> String {
        format!(
            "{} replay --scenario {scenario} --seed {seed}",
            self.command
        )
    }

    /// Runs the command line of this process over this harness.
    pub fn main(&self) -> ExitCode {
        self.main_from(std::env::args_os())
    }

    /// Runs the command line `args` (the program name first) over this harness.
    pub fn main_from<I, T>(&self, args: I) -> ExitCode
    where
        I: IntoIterator<Item = T>,
        T: Into<std::ffi::OsString> + Clone,
    {
        commands::main(self, args)
    }
}
