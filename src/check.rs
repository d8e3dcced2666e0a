//! Checker entry points: run an async test body under shuttle, loom or turmoil.
//!
//! Each entry point hands the body the backend's runtime handle, runs it as the task
//! `main`, and afterwards waits for every task it spawned to exit: a task still blocked then
//! fails the run as a leak, detached tasks included. A run where every task is blocked and
//! no timer is pending fails as a deadlock. Both failures print a wait-for graph. Every
//! failure names what reproduces it: the shuttle schedule (and the one line that replays
//! it), the turmoil seed, or loom's deterministic re-exploration.
//!
//! ```ignore
//! sigrelay::check::shuttle_pct(1_000, 3, |rt| async move {
//!     let (tx, mut rx) = rt.channel("work", 1);
//!     let _producer = rt.spawn("producer", async move { tx.send(1).await.unwrap() });
//!     assert_eq!(rx.recv().await, Some(1));
//! });
//! ```

#[cfg(feature = "rt-shuttle")]
mod checker;
#[cfg(feature = "rt-loom")]
mod loom;
#[cfg(feature = "rt-shuttle")]
mod shuttle;
#[cfg(feature = "rt-turmoil")]
mod turmoil;

use std::cell::Cell;
use std::fmt;

#[cfg(feature = "rt-loom")]
pub use self::loom::{loom_model, LoomCheck};
#[cfg(feature = "rt-shuttle")]
pub use self::shuttle::{
    shuttle_dfs, shuttle_pct, shuttle_random, shuttle_replay, ShuttleCheck, Strategy,
};
#[cfg(feature = "rt-turmoil")]
pub use self::turmoil::{turmoil_run, NetFault, TurmoilCheck};
#[cfg(any(feature = "rt-shuttle", feature = "rt-loom", feature = "rt-turmoil"))]
pub use crate::rt::record::Recording;
#[cfg(any(feature = "rt-shuttle", feature = "rt-loom"))]
pub use crate::rt::sim::{EventLog, RunRecord};

/// The run-limit builders every model-checked check shares: `seed` and `max_virtual_time`,
/// on a `settings: RunSettings` field.
#[cfg(any(feature = "rt-shuttle", feature = "rt-loom"))]
macro_rules! run_settings_builders {
    ($seeds:literal) => {
        #[doc = $seeds]
        pub fn seed(mut self, seed: u64) -> Self {
            self.settings.seed = seed;
            self
        }

        /// Fails a run whose next timer lies beyond `limit` of virtual time.
        pub fn max_virtual_time(mut self, limit: std::time::Duration) -> Self {
            self.settings.max_virtual_time = limit;
            self
        }
    };
}
#[cfg(any(feature = "rt-shuttle", feature = "rt-loom"))]
use run_settings_builders;

thread_local! {
    static CHECKING: Cell<bool> = const { Cell::new(false) };
}

/// Whether this thread is running a check's simulation. A panic raised there is the
/// check's to report (as a failure, with its reproducer), so a panic hook may stay silent.
pub fn checking() -> bool {
    CHECKING.with(Cell::get)
}

/// Runs `run` as a check's simulation (see [`checking`]).
#[cfg(any(feature = "rt-shuttle", feature = "rt-loom", feature = "rt-turmoil"))]
fn as_check<T>(run: impl FnOnce() -> T) -> T {
    struct Restore(bool);
    impl Drop for Restore {
        fn drop(&mut self) {
            CHECKING.with(|c| c.set(self.0));
        }
    }
    let _restore = Restore(CHECKING.with(|c| c.replace(true)));
    run()
}

/// A failed check: what went wrong and how to reproduce it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// The backend that found it.
    pub backend: &'static str,
    /// The panic message: a deadlock or leak report, or the body's own assertion.
    pub message: String,
    /// What reproduces the failure: a shuttle schedule, a seed.
    pub reproducer: String,
    /// One line that replays the failure.
    pub replay: String,
    /// What the failed run recorded up to its failure (shuttle runs): its event log and
    /// virtual time.
    #[cfg(any(feature = "rt-shuttle", feature = "rt-loom"))]
    pub record: Option<Box<RunRecord>>,
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{} check failed: {}", self.backend, self.message)?;
        writeln!(f, "reproducer: {}", self.reproducer)?;
        write!(f, "replay: {}", self.replay)
    }
}

impl std::error::Error for Failure {}
