//! What the harness runs: a [`Scenario`] names a body and what a passing run of it shows.
//!
//! A body is written once against `R: Runtime` and instantiated here with the backend that
//! explores it: shuttle (the seed picks the interleaving, time is virtual) or a whole
//! turmoil simulation (the seed picks hosts, faults and every random choice). Its oracle
//! is the body's own assertions: a run fails when the body panics, deadlocks or leaves a
//! task behind. Its hard states are the rare states a sweep must show it reached, each
//! marked where it happens with [`sigrelay::rt::coverage::reached`].

use std::time::Duration;

use sigrelay::bugs::Bugs;

/// The future of one scenario run, boxed so that scenarios fit in one table.
pub type BoxedBody = std::pin::Pin<Box<dyn std::future::Future<Output = ()>>>;

/// How a scenario runs one seed, with the bugs to reintroduce.
#[derive(Debug, Clone, Copy)]
pub enum Body {
    /// An async body run under shuttle: the seed picks the schedule.
    Shuttle(fn(sigrelay::rt::Shuttle, Bugs) -> BoxedBody),
    /// A whole turmoil simulation: the seed picks the cluster, its faults and every random
    /// choice; returns the simulated time, or what went wrong.
    Turmoil(fn(u64, Bugs) -> Result<Duration, String>),
}

/// A named scenario and the body it runs.
#[derive(Debug, Clone, Copy)]
pub struct Scenario {
    /// The name given to `--scenario`.
    pub name: &'static str,
    /// What a passing run shows.
    pub proves: &'static str,
    /// How it runs.
    pub body: Body,
    /// Seeds a sweep runs when `--seeds` is not given, instead of the default range: fewer
    /// for turmoil (a seed simulates seconds of a whole cluster), more where the rarest
    /// interleavings need tens of thousands of seeds.
    pub default_seeds: Option<u64>,
    /// The rare states a sweep of this scenario must reach, by the names the code marks
    /// them with: a sweep that never reached one fails.
    pub hard_states: &'static [&'static str],
}

impl Scenario {
    /// A scenario whose body runs under shuttle, over the default seeds, declaring no
    /// hard state.
    pub const fn shuttle(
        name: &'static str,
        proves: &'static str,
        body: fn(sigrelay::rt::Shuttle, Bugs) -> BoxedBody,
    ) -> Self {
        Scenario {
            name,
            proves,
            body: Body::Shuttle(body),
            default_seeds: None,
            hard_states: &[],
        }
    }

    /// This scenario, declaring the hard states a sweep must reach.
    pub const fn reaching(self, hard_states: &'static [&'static str]) -> Self {
        Scenario {
            hard_states,
            ..self
        }
    }

    /// This scenario, swept over `seeds` seeds when `--seeds` is not given.
    pub const fn seeds(self, seeds: u64) -> Self {
        Scenario {
            default_seeds: Some(seeds),
            ..self
        }
    }

    /// The backend its body runs on.
    pub fn backend(&self) -> &'static str {
        match self.body {
            Body::Shuttle(_) => "shuttle",
            Body::Turmoil(_) => "turmoil",
        }
    }
}
