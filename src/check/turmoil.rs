//! Turmoil entry point: the body as a client of a turmoil simulation.

use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::Duration;

use super::{panic_message, Failure};
use crate::rt::Turmoil;

/// A turmoil run: seed and simulated duration.
#[derive(Debug, Clone)]
#[must_use = "a check does nothing until it is run"]
pub struct TurmoilCheck {
    seed: u64,
    duration: Duration,
}

impl TurmoilCheck {
    /// A run with `seed`, simulating at most 60 s.
    pub fn new(seed: u64) -> Self {
        Self {
            seed,
            duration: Duration::from_secs(60),
        }
    }

    /// Fails the run if the body has not finished after `duration` of simulated time.
    pub fn duration(mut self, duration: Duration) -> Self {
        self.duration = duration;
        self
    }

    /// Runs `body` as the client "main"; returns the failure instead of panicking.
    pub fn try_run<F, Fut>(&self, body: F) -> Result<(), Failure>
    where
        F: FnOnce(Turmoil) -> Fut + 'static,
        Fut: Future<Output = ()> + 'static,
    {
        let mut sim = ::turmoil::Builder::new()
            .rng_seed(self.seed)
            .simulation_duration(self.duration)
            .build();
        let rt = Turmoil::new(self.seed);
        sim.client("main", async move {
            body(rt).await;
            Ok(())
        });
        let outcome = catch_unwind(AssertUnwindSafe(|| sim.run()));
        let message = match outcome {
            Ok(Ok(())) => return Ok(()),
            Ok(Err(e)) => e.to_string(),
            Err(payload) => panic_message(payload.as_ref()),
        };
        Err(Failure {
            backend: "turmoil",
            message,
            reproducer: format!("seed {}", self.seed),
            replay: format!(
                "sigrelay::check::TurmoilCheck::new({}).try_run(body)",
                self.seed
            ),
        })
    }
}

/// Runs `body` in a turmoil simulation with `seed`; panics on failure.
pub fn turmoil_run<F, Fut>(seed: u64, body: F)
where
    F: FnOnce(Turmoil) -> Fut + 'static,
    Fut: Future<Output = ()> + 'static,
{
    if let Err(failure) = TurmoilCheck::new(seed).try_run(body) {
        panic!("{failure}");
    }
}
