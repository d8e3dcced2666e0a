//! The census: what a group is running now, and how its recent routines ended.

use std::collections::VecDeque;
use std::fmt;
use std::panic::Location;
use std::sync::Arc;

/// Where a routine is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RoutineState {
    /// Started, not yet polled.
    Starting,
    /// Running its body.
    Running,
    /// Told to drain or cancel, or running its cleanups and waiting for its children.
    Stopping,
    /// Finished cleanly.
    Exited,
    /// Ended with a fatal error.
    Failed,
    /// Ended by a cancel, or aborted at shutdown.
    Cancelled,
    /// Ended by a panic.
    Panicked,
}

impl RoutineState {
    /// Whether the routine has ended.
    pub fn is_finished(self) -> bool {
        !matches!(self, Self::Starting | Self::Running | Self::Stopping)
    }
}

/// One routine as the census sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoutineInfo {
    /// The routine's path, `group/routine/child`.
    pub path: Arc<str>,
    /// Its state.
    pub state: RoutineState,
    /// Why it failed, panicked or was cancelled.
    pub reason: Option<String>,
    /// Where it was started.
    pub location: &'static Location<'static>,
}

/// A snapshot of a group and its nested groups.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Census {
    /// Routines that have not ended, in start order, parents before their children.
    pub live: Vec<RoutineInfo>,
    /// The most recently ended routines, oldest first; bounded by the group's
    /// `finished_capacity`.
    pub finished: Vec<RoutineInfo>,
}

impl Census {
    /// The live routine at `path`, or else the most recent finished one.
    pub fn get(&self, path: &str) -> Option<&RoutineInfo> {
        let live = self.live.iter().find(|r| &*r.path == path);
        live.or_else(|| self.finished.iter().rev().find(|r| &*r.path == path))
    }
}

impl fmt::Display for Census {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for r in self.live.iter().chain(&self.finished) {
            write!(f, "{:<32} {:?}", r.path, r.state)?;
            if let Some(reason) = &r.reason {
                write!(f, ": {reason}")?;
            }
            writeln!(f, "  ({})", r.location)?;
        }
        Ok(())
    }
}

/// Finished routines, oldest first, at most `capacity` of them.
#[derive(Debug)]
pub(crate) struct Ring {
    capacity: usize,
    items: VecDeque<RoutineInfo>,
}

impl Ring {
    pub(crate) fn new(capacity: usize) -> Self {
        Ring {
            capacity,
            items: VecDeque::with_capacity(capacity.min(64)),
        }
    }

    pub(crate) fn push(&mut self, info: RoutineInfo) {
        if self.capacity == 0 {
            return;
        }
        if self.items.len() == self.capacity {
            self.items.pop_front();
        }
        self.items.push_back(info);
    }

    pub(crate) fn under<'a>(&'a self, prefix: &'a str) -> impl Iterator<Item = &'a RoutineInfo> {
        self.items.iter().filter(move |r| is_under(&r.path, prefix))
    }
}

/// Whether `path` names a routine inside the group at `prefix`.
pub(crate) fn is_under(path: &str, prefix: &str) -> bool {
    path.len() > prefix.len() && path.starts_with(prefix) && path.as_bytes()[prefix.len()] == b'/'
}

/// Whether `path` is `prefix` itself or lies under it.
pub(crate) fn is_at_or_under(path: &str, prefix: &str) -> bool {
    path == prefix || is_under(path, prefix)
}
