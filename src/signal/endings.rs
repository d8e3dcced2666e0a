//! The record of routines that did not end cleanly, bounded however long a group lives: the
//! details of the most recent endings in a ring, a count of every ending by cause, and the
//! first real failure (and the first ending of any kind) under each live group, which
//! `wait` reports. A group's entries go with it.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;

use super::census::is_under;
use super::error::{Cause, RoutineError};

/// How many routines of a tree ended otherwise than cleanly, by cause, since it was built.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EndingCounts {
    /// Returned a fatal error, or a deferred cleanup did.
    pub failed: u64,
    /// Panicked.
    pub panicked: u64,
    /// Cancelled.
    pub cancelled: u64,
    /// Aborted by a shutdown that gave up waiting.
    pub aborted: u64,
    /// Endings whose details left the ring to make room for newer ones.
    pub forgotten: u64,
}

pub(crate) struct Endings<E> {
    recent: VecDeque<RoutineError<E>>,
    capacity: usize,
    first_failure: BTreeMap<Arc<str>, RoutineError<E>>,
    first_ending: BTreeMap<Arc<str>, RoutineError<E>>,
    counts: EndingCounts,
}

impl<E> Endings<E> {
    pub(crate) fn new(capacity: usize) -> Self {
        Endings {
            recent: VecDeque::new(),
            capacity,
            first_failure: BTreeMap::new(),
            first_ending: BTreeMap::new(),
            counts: EndingCounts::default(),
        }
    }

    /// Records `ending`; `groups` are the paths of the groups it ended in, innermost last.
    pub(crate) fn record<'a>(
        &mut self,
        ending: RoutineError<E>,
        groups: impl Iterator<Item = &'a Arc<str>>,
    ) {
        let counts = &mut self.counts;
        match ending.cause {
            Cause::Failed(_) => counts.failed += 1,
            Cause::Panicked { .. } => counts.panicked += 1,
            Cause::Cancelled => counts.cancelled += 1,
            Cause::Aborted => counts.aborted += 1,
        }
        for group in groups {
            if ending.cause.is_failure() && !self.first_failure.contains_key(group) {
                self.first_failure.insert(group.clone(), ending.clone());
            }
            if !self.first_ending.contains_key(group) {
                self.first_ending.insert(group.clone(), ending.clone());
            }
        }
        if self.capacity == 0 {
            self.counts.forgotten += 1;
            return;
        }
        if self.recent.len() == self.capacity {
            self.recent.pop_front();
            self.counts.forgotten += 1;
        }
        self.recent.push_back(ending);
    }

    /// Forgets what was kept for the group at `path`, which has gone.
    pub(crate) fn forget_group(&mut self, path: &str) {
        self.first_failure.remove(path);
        self.first_ending.remove(path);
    }

    /// The first real failure in the group at `group`; the first ending of any kind if
    /// `masked` (bug B7).
    pub(crate) fn first(&self, group: &str, masked: bool) -> Option<RoutineError<E>> {
        let firsts = match masked {
            true => &self.first_ending,
            false => &self.first_failure,
        };
        firsts.get(group).cloned()
    }

    /// The recent endings under `prefix`, in the order they happened.
    pub(crate) fn under(&self, prefix: &str) -> Vec<RoutineError<E>> {
        let under = self.recent.iter().filter(|e| is_under(&e.path, prefix));
        under.cloned().collect()
    }

    pub(crate) fn counts(&self) -> EndingCounts {
        self.counts
    }
}
