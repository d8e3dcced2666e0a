//! Structured task groups: named routines, drain vs cancel vs abort, transient vs fatal
//! errors, panics as errors, restarts, and a live census.
//!
//! ```ignore
//! let group: Group<MyError> = Group::new(Tokio, "relay");
//! group.go("tapper", |ctx| async move {
//!     loop {
//!         sigrelay::select! {
//!             () = ctx.drained() => return Ok(()),
//!             demand = ctx.recv(&mut demands) => apply(demand?)?,
//!         }
//!     }
//! }).await?;
//! let report = group.shutdown(ShutdownPlan::new(secs(5), secs(1))).await;
//! ```
//!
//! # Routines and their signals
//! A routine is a named task in a [`Group`]; its path (`relay/tapper`) is unique among the
//! live routines of the tree. Its [`Context`] carries the two signals of the RFC: **drain**
//! (finish the work in hand, then return `Ok`) and **cancel** (abandon it, return
//! [`Fault::Cancelled`]); a cancel implies a drain. Fatal errors end the routine; transient
//! ones go to [`Context::report`], which never waits. A panic is caught and becomes the
//! routine's error, with its path and start site. A routine may start children in its own
//! nested group ([`Context::scope`]); they receive every signal their parent's group
//! receives, and the parent is not recorded as ended before they are.
//!
//! # Failure policy
//! By default ([`FailurePolicy::CancelGroup`]) a real failure — an error or a panic —
//! cancels the failing routine's group: a group is one unit of work, and a failure nobody
//! acts on is a hang waiting to happen. Long-lived groups of independent routines choose
//! [`FailurePolicy::Isolate`] for the group or per routine. [`Group::wait`] returns the
//! first real failure; a sibling that ended because of the cancel never masks it (the Go
//! original's bug B7), and [`Group::failures`] lists them all.
//!
//! # Shutdown order, and why no routine is left running
//! [`Group::shutdown`] first closes the group, so nothing new starts behind it, and signals
//! drain to the whole subtree; a routine that finished its work returns. At the drain
//! deadline it signals cancel and marks every routine still alive as one that had to be
//! cancelled. At the cancel deadline it takes, in the same lock hold that closes every nested
//! group, the join handle of every routine still alive, aborts each, awaits each, and records
//! it as aborted. It returns when the tree's live set is empty. A routine cannot be left
//! running because:
//! - every routine is admitted and its handle stored in one atomic step, and a routine can
//!   only be admitted into an open group: the abort step sees every routine that exists;
//! - a routine leaves the live set only when its wrapper records its end — after its
//!   cleanups and after its nested group emptied — or when the aborter has awaited its
//!   aborted task;
//! - the shutdown waits on that live set, not on a latch: "stopped" means closed and empty.
//!
//! Nothing in the bookkeeping can deadlock: all of it happens under one lock of the
//! runtime, and no code awaits while holding it; waiters re-check the state after every
//! routine exit, announced on a latest-value cell they subscribed to before checking.
//!
//! # Restarts
//! [`Routine::go_restartable`] runs the body again after a panic, with exponential backoff,
//! never after it returns (the original's bug B9). A routine cancelled while backing off, or
//! whose later attempt returns cancelled, ends with its last panic: its result does not
//! depend on when the cancel arrived (the original's bug B8).

mod census;
mod context;
mod endings;
mod error;
mod group;
mod loops;
mod routine;
mod shutdown;
mod tree;
pub(crate) mod unwind;

use std::fmt;
use std::sync::Arc;

pub use self::census::{Census, RoutineInfo, RoutineState};
pub use self::context::Context;
pub use self::endings::EndingCounts;
pub use self::error::{Cancelled, Cause, Fault, GoError, RoutineError, SendStop};
pub use self::group::{Group, GroupBuilder};
pub use self::routine::{Restart, Routine};
pub use self::shutdown::{ShutdownPlan, ShutdownReport, Stage};
pub use self::tree::FailurePolicy;

/// What a routine's fatal and transient errors must be: printable, and shareable across
/// tasks.
pub trait Error: fmt::Display + fmt::Debug + Send + Sync + 'static {}

impl<T: fmt::Display + fmt::Debug + Send + Sync + 'static> Error for T {}

/// A transient error: reported by the routine at `path`, which went on running.
#[derive(Debug)]
pub struct Transient<E> {
    /// The path of the routine that reported it.
    pub path: Arc<str>,
    /// The error.
    pub error: E,
}
