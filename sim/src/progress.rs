//! Progress on long commands: an indicatif bar with rate and ETA when stderr is a
//! terminal, plain lines otherwise (a CI log gets one line per finished part, not a bar
//! redrawn in place).

use std::io::IsTerminal as _;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};

use crate::sweep::Tick;

/// A progress display over a known number of steps.
#[derive(Debug)]
pub struct Progress {
    bar: Option<ProgressBar>,
}

const TEMPLATE: &str =
    "{msg:24} [{elapsed_precise}] {wide_bar} {pos}/{len} {per_sec:>11} ETA {eta}";

impl Progress {
    /// A display of `total` steps: a bar on a terminal, plain lines elsewhere.
    pub fn new(total: u64) -> Self {
        let bar = std::io::stderr().is_terminal().then(|| {
            let style = ProgressStyle::with_template(TEMPLATE).expect("a valid template");
            ProgressBar::new(total).with_style(style)
        });
        Progress { bar }
    }

    /// A spinner for work of unknown length, on a terminal.
    pub fn spinner(what: &str) -> Self {
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = ProgressBar::new_spinner().with_message(what.to_string());
            bar.enable_steady_tick(Duration::from_millis(120));
            bar
        });
        Progress { bar }
    }

    /// One seed of a sweep done: the bar moves; a finished scenario gets its plain line.
    pub fn tick(&self, tick: Tick<'_>) {
        match &self.bar {
            Some(bar) => {
                bar.set_message(tick.scenario.name.to_string());
                bar.inc(1);
            }
            None if tick.done == tick.of => eprintln!(
                "{}: {} seeds, {} failed",
                tick.scenario.name, tick.of, tick.failed
            ),
            None => {}
        }
    }

    /// One step done, said in `line` (shown beside the bar, or printed).
    pub fn step(&self, line: &str) {
        match &self.bar {
            Some(bar) => {
                bar.set_message(line.to_string());
                bar.inc(1);
            }
            None => eprintln!("{line}"),
        }
    }

    /// Clears the bar.
    pub fn finish(self) {
        if let Some(bar) = self.bar {
            bar.finish_and_clear();
        }
    }
}
