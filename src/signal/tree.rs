//! The bookkeeping of one tree of groups, behind one lock of the runtime.
//!
//! A root group and the nested groups of its routines share a [`Tree`]: one
//! [`Runtime::mutex`] over the state, one latest-value cell that ticks on every routine exit,
//! and one transient-error channel. Every method of [`TreeState`] is synchronous and runs
//! under that lock, so each transition — admit a routine, raise a group's signal, record an
//! exit — is atomic with respect to every other. Nothing awaits while the lock is held.
//!
//! Subtrees are found by path: the routines and groups under the group at `a/b` are those
//! whose paths start with `a/b/`.

use std::collections::BTreeMap;
use std::panic::Location;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;

use super::census::{is_at_or_under, is_under, Census, Ring, RoutineInfo, RoutineState};
use super::endings::{EndingCounts, Endings};
use super::error::{Cause, GoError, RoutineError};
use super::{Error, Transient};
use crate::bugs::Bugs;
use crate::rt::prelude::*;

/// How far a group has been told to stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Level {
    Run,
    Drain,
    Cancel,
}

/// What a failing routine does to its group by default.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailurePolicy {
    /// A real failure (error or panic) cancels the routine's group, and with it every sibling
    /// and nested routine: the group is one unit of work. The default.
    CancelGroup,
    /// A failure is recorded and reported; siblings keep running.
    Isolate,
}

#[derive(Debug, Clone)]
pub(crate) struct Config {
    pub(crate) policy: FailurePolicy,
    pub(crate) finished_capacity: usize,
    pub(crate) endings_capacity: usize,
    pub(crate) transient_capacity: usize,
    pub(crate) bugs: Bugs,
}

pub(crate) type GroupId = u64;
pub(crate) type RoutineId = u64;

/// What one tree of groups shares.
pub(crate) struct Tree<E: Error, R: Runtime> {
    pub(crate) rt: R,
    pub(crate) config: Config,
    pub(crate) state: R::Mutex<TreeState<E, R>>,
    pub(crate) exits: R::WatchSender<()>,
    pub(crate) transients: R::Sender<Transient<E>>,
    pub(crate) dropped: AtomicU64,
}

pub(crate) struct TreeState<E: Error, R: Runtime> {
    groups: BTreeMap<GroupId, GroupState<R>>,
    routines: BTreeMap<RoutineId, Entry<R>>,
    finished: Ring,
    endings: Endings<E>,
    pub(crate) transients: Option<R::Receiver<Transient<E>>>,
    next_id: u64,
}

impl<E: Error, R: Runtime> Tree<E, R> {
    /// Tells the waiters of a group's state that a routine ended or a group stopped.
    pub(crate) fn announce(&self) {
        let _ = self.exits.send(());
    }
}

struct GroupState<R: Runtime> {
    path: Arc<str>,
    owner: Option<RoutineId>,
    closed: bool,
    level: Level,
    level_tx: R::WatchSender<Level>,
    _level_rx: R::WatchReceiver<Level>,
    names: BTreeMap<Arc<str>, RoutineId>,
}

struct Entry<R: Runtime> {
    name: Arc<str>,
    path: Arc<str>,
    group: GroupId,
    state: RoutineState,
    location: &'static Location<'static>,
    handle: Option<R::JoinHandle<()>>,
    cancel_seen: bool,
}

/// How a routine ended, as its wrapper (or the aborter) saw it.
pub(crate) enum Outcome<E> {
    Clean,
    Cancelled,
    Failed(Arc<E>, Vec<Arc<E>>),
    Panicked(String, u32, Vec<Arc<E>>),
    Aborted,
}

impl<E> Outcome<E> {
    pub(crate) fn label(&self) -> &'static str {
        match self {
            Outcome::Clean => "exited",
            Outcome::Cancelled => "cancelled",
            Outcome::Failed(..) => "failed",
            Outcome::Panicked(..) => "panicked",
            Outcome::Aborted => "aborted",
        }
    }
}

/// A routine admitted into a group: its identity and the signal it starts under.
pub(crate) struct Admitted<R: Runtime> {
    pub(crate) id: RoutineId,
    pub(crate) path: Arc<str>,
    pub(crate) level: R::WatchReceiver<Level>,
    pub(crate) scope_level: Level,
}

impl<E: Error, R: Runtime> TreeState<E, R> {
    pub(crate) fn new(config: &Config, transients: R::Receiver<Transient<E>>) -> Self {
        TreeState {
            groups: BTreeMap::new(),
            routines: BTreeMap::new(),
            finished: Ring::new(config.finished_capacity),
            endings: Endings::new(config.endings_capacity),
            transients: Some(transients),
            next_id: 0,
        }
    }

    fn next_id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    /// Adds a group at `path`, owned by a routine unless it is the root.
    pub(crate) fn add_group(
        &mut self,
        path: Arc<str>,
        owner: Option<RoutineId>,
        level: Level,
        level_tx: R::WatchSender<Level>,
        _level_rx: R::WatchReceiver<Level>,
    ) -> GroupId {
        let id = self.next_id();
        let names = BTreeMap::new();
        let closed = false;
        let group = GroupState {
            path,
            owner,
            closed,
            level,
            level_tx,
            _level_rx,
            names,
        };
        self.groups.insert(id, group);
        id
    }

    /// Admits a routine named `name` into `group`, or says why not.
    pub(crate) fn admit(
        &mut self,
        group: GroupId,
        name: &str,
        location: &'static Location<'static>,
    ) -> Result<Admitted<R>, GoError> {
        if name.is_empty() || name.contains('/') {
            return Err(GoError::InvalidName(name.to_string()));
        }
        let id = self.next_id();
        let Some(g) = self.groups.get_mut(&group) else {
            return Err(GoError::Closed(name.into()));
        };
        let path: Arc<str> = format!("{}/{name}", g.path).into();
        if g.closed {
            return Err(GoError::Closed(path));
        }
        if g.level == Level::Cancel {
            return Err(GoError::Cancelled(path));
        }
        if g.names.contains_key(name) {
            return Err(GoError::DuplicateName(path));
        }
        let name: Arc<str> = name.into();
        g.names.insert(Arc::clone(&name), id);
        let (level, scope_level) = (g.level_tx.subscribe(), g.level);
        let state = RoutineState::Starting;
        let (handle, cancel_seen, path2) = (None, false, Arc::clone(&path));
        let entry = Entry {
            name,
            path: path2,
            group,
            state,
            location,
            handle,
            cancel_seen,
        };
        self.routines.insert(id, entry);
        Ok(Admitted {
            id,
            path,
            level,
            scope_level,
        })
    }

    pub(crate) fn set_handle(&mut self, id: RoutineId, handle: R::JoinHandle<()>) {
        match self.routines.get_mut(&id) {
            Some(entry) => entry.handle = Some(handle),
            None => drop(handle),
        }
    }

    pub(crate) fn start(&mut self, id: RoutineId) {
        if let Some(entry) = self.routines.get_mut(&id) {
            entry.state = RoutineState::Running;
        }
    }

    /// Raises the signal of the group at `prefix` and of every group nested in it. A cancel
    /// marks every routine alive at this moment as one that had to be cancelled.
    pub(crate) fn signal(&mut self, prefix: &str, level: Level) {
        for g in self.groups.values_mut() {
            if is_at_or_under(&g.path, prefix) && g.level < level {
                g.level = level;
                let _ = g.level_tx.send(level);
            }
        }
        if level == Level::Cancel {
            self.live_under(prefix).for_each(|e| e.cancel_seen = true);
        }
    }

    fn live_under<'a>(&'a mut self, prefix: &'a str) -> impl Iterator<Item = &'a mut Entry<R>> {
        self.routines
            .values_mut()
            .filter(move |e| is_under(&e.path, prefix))
    }

    /// Closes the group `group` to new routines. Returns whether this close stopped it
    /// (nothing of it runs): waiters of [`Group::stopped`](super::Group::stopped) must then
    /// hear of it.
    pub(crate) fn close(&mut self, group: GroupId) -> bool {
        let Some(g) = self.groups.get_mut(&group).filter(|g| !g.closed) else {
            return false;
        };
        g.closed = true;
        let path = Arc::clone(&g.path);
        self.is_empty_under(&path)
    }

    /// Closes every group under `prefix` and hands over the handles of every live routine
    /// there, for aborting.
    pub(crate) fn close_for_abort(&mut self, prefix: &str) -> Vec<(RoutineId, R::JoinHandle<()>)> {
        let groups = self.groups.iter();
        let under = groups.filter(|(_, g)| is_at_or_under(&g.path, prefix));
        let ids: Vec<GroupId> = under.map(|(id, _)| *id).collect();
        for id in ids {
            self.close(id);
        }
        let entries = self.routines.iter_mut();
        let under = entries.filter(|(_, e)| is_under(&e.path, prefix));
        under
            .filter_map(|(id, e)| e.handle.take().map(|h| (*id, h)))
            .collect()
    }

    /// Whether no routine under `prefix` is alive.
    pub(crate) fn is_empty_under(&self, prefix: &str) -> bool {
        !self.routines.values().any(|e| is_under(&e.path, prefix))
    }

    pub(crate) fn is_closed(&self, group: GroupId) -> bool {
        self.groups.get(&group).is_none_or(|g| g.closed)
    }

    /// Records how routine `id` ended. Returns `false` if it had been recorded already.
    pub(crate) fn finish(&mut self, id: RoutineId, outcome: Outcome<E>) -> bool {
        let Some(entry) = self.routines.remove(&id) else {
            return false;
        };
        if let Some(g) = self.groups.get_mut(&entry.group) {
            g.names.remove(&entry.name);
        }
        let gone: Vec<Arc<str>> = self
            .groups
            .values()
            .filter(|g| g.owner == Some(id))
            .map(|g| g.path.clone())
            .collect();
        self.groups.retain(|_, g| g.owner != Some(id));
        for path in gone {
            self.endings.forget_group(&path);
        }
        let (state, cause, deferred) = classify(outcome, entry.cancel_seen);
        let reason = cause.as_ref().map(|c| describe(c, &deferred));
        let (path, location) = (Arc::clone(&entry.path), entry.location);
        self.finished.push(RoutineInfo {
            path,
            state,
            reason,
            location,
        });
        if let Some(cause) = cause {
            let path = entry.path;
            let groups = self.groups.values().map(|g| &g.path);
            let within = groups.filter(|g| is_under(&path, g));
            let ending = RoutineError {
                path: path.clone(),
                location,
                cause,
                deferred,
            };
            self.endings.record(ending, within);
        }
        true
    }

    /// The first real failure in the group at `group`; with bug B7, the first ending of any
    /// kind.
    pub(crate) fn first_failure(&self, group: &str, bugs: Bugs) -> Option<RoutineError<E>> {
        let masked = bugs.has(crate::bugs::Bug::B7MaskedFailure);
        self.endings.first(group, masked)
    }

    /// How many routines of the tree ended otherwise than cleanly, by cause.
    pub(crate) fn ending_counts(&self) -> EndingCounts {
        self.endings.counts()
    }

    /// The recent routines under `prefix` that did not end cleanly, in the order they ended.
    pub(crate) fn endings_under(&self, prefix: &str) -> Vec<RoutineError<E>> {
        self.endings.under(prefix)
    }

    /// The census of the group at `prefix`.
    pub(crate) fn census(&self, prefix: &str) -> Census {
        let draining = |e: &Entry<R>| {
            let level = self.groups.get(&e.group).map_or(Level::Cancel, |g| g.level);
            e.state == RoutineState::Running && level > Level::Run
        };
        let live = self.routines.values().filter(|e| is_under(&e.path, prefix));
        let live = live.map(|e| RoutineInfo {
            path: Arc::clone(&e.path),
            state: if draining(e) {
                RoutineState::Stopping
            } else {
                e.state
            },
            reason: None,
            location: e.location,
        });
        let finished = self.finished.under(prefix).cloned();
        Census {
            live: live.collect(),
            finished: finished.collect(),
        }
    }

    pub(crate) fn mark_stopping(&mut self, id: RoutineId) {
        if let Some(entry) = self.routines.get_mut(&id) {
            entry.state = RoutineState::Stopping;
        }
    }
}

/// The census state, the ending worth reporting (if any), and the extra deferred errors.
fn classify<E>(
    outcome: Outcome<E>,
    cancel_seen: bool,
) -> (RoutineState, Option<Cause<E>>, Vec<Arc<E>>) {
    match outcome {
        Outcome::Clean if cancel_seen => (RoutineState::Cancelled, Some(Cause::Cancelled), vec![]),
        Outcome::Clean => (RoutineState::Exited, None, vec![]),
        Outcome::Cancelled => (RoutineState::Cancelled, Some(Cause::Cancelled), vec![]),
        Outcome::Failed(e, rest) => (RoutineState::Failed, Some(Cause::Failed(e)), rest),
        Outcome::Panicked(message, attempts, rest) => {
            let cause = Cause::Panicked { message, attempts };
            (RoutineState::Panicked, Some(cause), rest)
        }
        Outcome::Aborted => (RoutineState::Cancelled, Some(Cause::Aborted), vec![]),
    }
}

fn describe<E: Error>(cause: &Cause<E>, deferred: &[Arc<E>]) -> String {
    let mut reason = match cause {
        Cause::Failed(e) => e.to_string(),
        Cause::Panicked { message, .. } => format!("panicked: {message}"),
        Cause::Cancelled => "cancelled".to_string(),
        Cause::Aborted => "aborted at shutdown".to_string(),
    };
    for e in deferred {
        reason.push_str(&format!("; deferred cleanup failed: {e}"));
    }
    reason
}
