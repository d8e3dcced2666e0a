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

#[cfg(any(feature = "rt-shuttle", feature = "rt-loom", feature = "rt-turmoil"))]
pub(crate) mod chrome;
#[cfg(feature = "rt-loom")]
mod loom;
#[cfg(any(feature = "rt-shuttle", feature = "rt-loom", feature = "rt-turmoil"))]
pub(crate) mod recording;
#[cfg(feature = "rt-shuttle")]
mod shuttle;
#[cfg(feature = "rt-turmoil")]
mod turmoil;

use std::fmt;

#[cfg(feature = "rt-loom")]
pub use self::loom::{loom_model, LoomCheck};
#[cfg(any(feature = "rt-shuttle", feature = "rt-loom", feature = "rt-turmoil"))]
pub use self::recording::Recording;
#[cfg(feature = "rt-shuttle")]
pub use self::shuttle::{
    shuttle_dfs, shuttle_pct, shuttle_random, shuttle_replay, ShuttleCheck, Strategy,
};
#[cfg(feature = "rt-turmoil")]
pub use self::turmoil::{turmoil_run, NetFault, TurmoilCheck};
#[cfg(any(feature = "rt-shuttle", feature = "rt-loom"))]
pub use crate::rt::sim::{EventLog, RunRecord};

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

/// The message of a caught panic.
fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    match crate::rt::JoinError::from_panic(payload) {
        crate::rt::JoinError::Panicked(msg) => msg,
        crate::rt::JoinError::Aborted => unreachable!("from_panic only builds Panicked"),
    }
}
