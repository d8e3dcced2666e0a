//! Loom entry point: every interleaving of a small model, up to a preemption bound.

use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};

use super::Failure;
use crate::rt::panic_message;
use crate::rt::sim::{self, RunSettings};
use crate::rt::Loom;

/// A loom check: preemption bound and run limits.
#[derive(Debug, Clone)]
#[must_use = "a check does nothing until it is run"]
pub struct LoomCheck {
    preemption_bound: Option<usize>,
    max_branches: usize,
    settings: RunSettings,
}

impl Default for LoomCheck {
    #[track_caller]
    fn default() -> Self {
        Self {
            preemption_bound: Some(2),
            max_branches: 10_000,
            settings: RunSettings::default(),
        }
    }
}

impl LoomCheck {
    /// Explores schedules with at most `bound` preemptions (default 2); `None` is exhaustive.
    pub fn preemption_bound(mut self, bound: Option<usize>) -> Self {
        self.preemption_bound = bound;
        self
    }

    super::run_settings_builders!("Seeds the runtime's RNG stream.");

    /// Explores `body`; panics with the failure report on the first failure.
    #[track_caller]
    pub fn run<F, Fut>(&self, body: F)
    where
        F: Fn(Loom) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()>,
    {
        if let Err(failure) = self.try_run(body) {
            panic!("{failure}");
        }
    }

    /// Explores `body`; returns the first failure instead of panicking. Reports say the
    /// body was spawned where this is called.
    #[track_caller]
    pub fn try_run<F, Fut>(&self, body: F) -> Result<(), Failure>
    where
        F: Fn(Loom) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()>,
    {
        let body_site = std::panic::Location::caller();
        let mut builder = ::loom::model::Builder::new();
        builder.preemption_bound = self.preemption_bound;
        builder.max_branches = self.max_branches;
        let settings = RunSettings {
            body_site,
            ..self.settings
        };
        let explored = super::as_check(|| {
            catch_unwind(AssertUnwindSafe(|| {
                builder.check(move || sim::run(settings, &body))
            }))
        });
        explored.map_err(|payload| Failure {
            backend: "loom",
            message: panic_message(payload.as_ref()),
            reproducer: format!("preemption bound {:?}, seed {}", self.preemption_bound, self.settings.seed),
            replay: "rerun the same test: loom explores in a fixed order and stops at the same execution".into(),
            record: None,
        })
    }
}

/// Explores `body` under loom with a preemption bound of 2; panics on the first failure.
#[track_caller]
pub fn loom_model<F, Fut>(body: F)
where
    F: Fn(Loom) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()>,
{
    LoomCheck::default().run(body)
}
