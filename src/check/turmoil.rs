//! Turmoil entry point: the body as a client of a turmoil simulation.

use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::rc::Rc;
use std::time::Duration;

use super::{panic_message, Failure};
use crate::rt::Turmoil;

/// A turmoil run: seed, simulated duration, and hosts beside the body.
#[derive(Clone)]
#[must_use = "a check does nothing until it is run"]
pub struct TurmoilCheck {
    seed: u64,
    duration: Duration,
    hosts: Vec<(String, HostBody)>,
}

/// A host's software: started once per (re)start of the host.
type HostBody = Rc<dyn Fn(Turmoil) -> Pin<Box<dyn Future<Output = ()>>>>;

impl std::fmt::Debug for TurmoilCheck {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let hosts: Vec<&str> = self.hosts.iter().map(|(name, _)| name.as_str()).collect();
        f.debug_struct("TurmoilCheck")
            .field("seed", &self.seed)
            .field("duration", &self.duration)
            .field("hosts", &hosts)
            .finish()
    }
}

impl TurmoilCheck {
    /// A run with `seed`, simulating at most 60 s.
    pub fn new(seed: u64) -> Self {
        Self {
            seed,
            duration: Duration::from_secs(60),
            hosts: Vec::new(),
        }
    }

    /// Adds host `name` running `software` beside the body (again after each restart); the
    /// run ends when the body does.
    pub fn host<F, Fut>(mut self, name: &str, software: F) -> Self
    where
        F: Fn(Turmoil) -> Fut + 'static,
        Fut: Future<Output = ()> + 'static,
    {
        let body: HostBody = Rc::new(move |rt| Box::pin(software(rt)));
        self.hosts.push((name.to_string(), body));
        self
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
        for (i, (name, software)) in self.hosts.iter().enumerate() {
            let (software, seed) = (software.clone(), self.seed.wrapping_add(i as u64 + 1));
            sim.host(name.as_str(), move || {
                let run = software(Turmoil::new(seed));
                async move {
                    run.await;
                    Ok(())
                }
            });
        }
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
