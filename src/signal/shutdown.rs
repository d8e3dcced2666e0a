//! Shutdown in three stages: drain with a deadline, then cancel with a deadline, then abort.

use std::fmt;
use std::time::Duration;

use super::error::RoutineError;
use super::tree::{Level, Outcome};
use super::{Error, Group};
use crate::rt::prelude::*;

/// How long each stage of a shutdown may take before the next begins.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShutdownPlan {
    /// How long routines may take to finish their work after the drain signal.
    pub drain: Duration,
    /// How long routines may take to abandon their work after the cancel signal, before
    /// the survivors are aborted.
    pub cancel: Duration,
}

impl ShutdownPlan {
    /// A plan with these deadlines.
    pub fn new(drain: Duration, cancel: Duration) -> Self {
        ShutdownPlan { drain, cancel }
    }
}

/// The stage at which every routine had ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Stage {
    /// Every routine finished its work within the drain deadline.
    Drained,
    /// Some routine had to be cancelled; all ended within the cancel deadline.
    Cancelled,
    /// Some routine outlived the cancel deadline and was aborted.
    Aborted,
}

/// What a shutdown did, and every routine of the group that did not end cleanly.
#[derive(Debug, Clone)]
#[must_use = "a shutdown report names the routines that failed or had to be stopped"]
pub struct ShutdownReport<E> {
    /// The stage at which every routine had ended.
    pub stage: Stage,
    /// Every routine of the group, over its whole life, that failed, panicked, was still
    /// running when the cancel signal went out, or was aborted — in the order they ended,
    /// each with its path and start site.
    pub routines: Vec<RoutineError<E>>,
}

impl<E> ShutdownReport<E> {
    /// Whether every routine finished cleanly.
    pub fn is_clean(&self) -> bool {
        self.routines.is_empty()
    }
}

impl<E: Error> fmt::Display for ShutdownReport<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "shutdown ended at stage {:?}", self.stage)?;
        for routine in &self.routines {
            write!(f, "\n  {routine}")?;
        }
        Ok(())
    }
}

impl<E: Error, R: Runtime> Group<E, R> {
    /// Closes the group and stops every routine in it, nested ones included: drain, and if
    /// routines are still running at `plan.drain`, cancel; if some still run `plan.cancel`
    /// later, abort them. Returns once nothing of the group is running.
    pub async fn shutdown(&self, plan: ShutdownPlan) -> ShutdownReport<E> {
        {
            let mut s = self.tree.state.lock().await;
            if s.close(self.id) {
                self.tree.announce();
            }
            s.signal(&self.path, Level::Drain);
        }
        let stage = if self.settles_within(plan.drain).await {
            Stage::Drained
        } else {
            self.cancel().await;
            if self.settles_within(plan.cancel).await {
                Stage::Cancelled
            } else {
                self.abort_all().await;
                Stage::Aborted
            }
        };
        let routines = self.tree.state.lock().await.endings_under(&self.path);
        ShutdownReport { stage, routines }
    }

    async fn settles_within(&self, deadline: Duration) -> bool {
        let rt = &self.tree.rt;
        rt.timeout(deadline, self.until_empty()).await.is_ok()
    }

    /// Aborts every routine still running under the group and records each as aborted.
    /// The group and every group nested in it are closed in the same step, so no routine
    /// can start behind the abort.
    async fn abort_all(&self) {
        let handles = {
            let mut s = self.tree.state.lock().await;
            let handles = s.close_for_abort(&self.path);
            self.tree.announce();
            handles
        };
        handles.iter().for_each(|(_, handle)| handle.abort());
        for (id, handle) in handles {
            if handle.await.is_ok() {
                continue;
            }
            let mut s = self.tree.state.lock().await;
            if s.finish(id, Outcome::Aborted) {
                self.tree.announce();
            }
        }
        drop(self.until_empty().await);
    }
}
