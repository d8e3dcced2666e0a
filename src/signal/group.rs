//! A group of routines: start them, signal them, wait for them, count them.

use std::fmt;
use std::marker::PhantomData;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use super::census::Census;
use super::endings::EndingCounts;
use super::error::RoutineError;
use super::tree::{Config, FailurePolicy, GroupId, Level, Tree, TreeState};
use super::{Error, Transient};
use crate::bugs::Bugs;
use crate::rt::prelude::*;
use crate::rt::Tokio;

/// A named group of routines; nested groups (a routine's [`Context::scope`]) share its
/// bookkeeping. Cheap to clone: clones are handles to the same group.
///
/// The handles of a root group own its routines: when the last one is dropped, the group
/// closes, and routines of it that still run are cancelled (and a warning says so), so a
/// group forgotten without a shutdown leaks nothing. An [`observer`](Group::observer)
/// handle, and a routine's scope, watch without owning: once the owners are gone, an
/// observer can no longer start routines.
#[must_use = "dropping the last handle of a group cancels its routines"]
pub struct Group<E: Error, R: Runtime = Tokio> {
    pub(crate) tree: Arc<Tree<E, R>>,
    pub(crate) id: GroupId,
    pub(crate) path: Arc<str>,
    pub(crate) owner: Option<Arc<Owner<E, R>>>,
}

/// What the owning handles of a root group share; dropped with the last of them.
pub(crate) struct Owner<E: Error, R: Runtime> {
    tree: Arc<Tree<E, R>>,
    id: GroupId,
    path: Arc<str>,
}

impl<E: Error, R: Runtime> Drop for Owner<E, R> {
    fn drop(&mut self) {
        let (id, path) = (self.id, self.path.clone());
        if let Some(mut state) = self.tree.state.try_lock() {
            return abandon(&self.tree, &mut state, id, &path);
        }
        let tree = self.tree.clone();
        let late = async move { abandon(&tree, &mut *tree.state.lock().await, id, &path) };
        drop(
            self.tree
                .rt
                .spawn(&format!("{}:abandoned", self.path), late),
        );
    }
}

/// Closes the group `id` at `path`, whose last owning handle is gone, and cancels what still
/// runs in it.
fn abandon<E: Error, R: Runtime>(
    tree: &Tree<E, R>,
    state: &mut TreeState<E, R>,
    id: GroupId,
    path: &str,
) {
    if state.close(id) {
        tree.announce();
    }
    let live = state.census(path).live.len();
    if live > 0 {
        tracing::warn!(
            group = %path,
            live,
            "the group's last handle was dropped while routines ran: cancelling them"
        );
        state.signal(path, Level::Cancel);
    }
}

/// The tree's state, locked.
type StateGuard<'a, E, R> =
    <<R as Runtime>::Mutex<TreeState<E, R>> as crate::rt::Mutex<TreeState<E, R>>>::Guard<'a>;

/// Configures a root group.
#[derive(Debug)]
#[must_use = "a builder does nothing until `build` is called"]
pub struct GroupBuilder<E: Error, R: Runtime = Tokio> {
    rt: R,
    name: String,
    config: Config,
    _error: PhantomData<fn() -> E>,
}

impl<E: Error, R: Runtime> GroupBuilder<E, R> {
    /// What a failing routine does to its group unless it says otherwise;
    /// [`FailurePolicy::CancelGroup`] by default.
    pub fn failure_policy(mut self, policy: FailurePolicy) -> Self {
        self.config.policy = policy;
        self
    }

    /// How many finished routines the census keeps (64 by default).
    pub fn finished_capacity(mut self, capacity: usize) -> Self {
        self.config.finished_capacity = capacity;
        self
    }

    /// How many routines that did not end cleanly [`Group::endings`] keeps the details of
    /// (256 by default); older ones are counted ([`Group::ending_counts`]) and forgotten.
    /// The first failure of each live group is kept whatever the capacity.
    pub fn endings_capacity(mut self, capacity: usize) -> Self {
        self.config.endings_capacity = capacity;
        self
    }

    /// How many transient errors wait for a reader before more are dropped (256 by default).
    ///
    /// # Panics
    /// If `capacity` is zero.
    pub fn transient_capacity(mut self, capacity: usize) -> Self {
        assert!(
            capacity > 0,
            "the transient stream needs room for one error"
        );
        self.config.transient_capacity = capacity;
        self
    }

    #[doc(hidden)]
    pub fn bugs(mut self, bugs: Bugs) -> Self {
        self.config.bugs = bugs;
        self
    }

    /// The group. Its routines' paths start with its name.
    #[track_caller]
    pub fn build(self) -> Group<E, R> {
        let (tx, rx) = self.rt.channel(
            &format!("{}:transient", self.name),
            self.config.transient_capacity,
        );
        let (exits, _) = self.rt.watch(&format!("{}:exits", self.name), ());
        let (level_tx, level_rx) = self.rt.watch(&format!("{}:signal", self.name), Level::Run);
        let mut state = TreeState::new(&self.config, rx);
        let path: Arc<str> = self.name.into();
        let id = state.add_group(Arc::clone(&path), None, Level::Run, level_tx, level_rx);
        let state = self.rt.mutex(&format!("{path}:state"), state);
        let (rt, config, dropped) = (self.rt, self.config, AtomicU64::new(0));
        let tree = Arc::new(Tree {
            rt,
            config,
            state,
            exits,
            transients: tx,
            dropped,
        });
        let owner = Some(Arc::new(Owner {
            tree: tree.clone(),
            id,
            path: path.clone(),
        }));
        Group {
            tree,
            id,
            path,
            owner,
        }
    }
}

impl<E: Error, R: Runtime> Group<E, R> {
    /// A root group named `name` with the default configuration.
    #[track_caller]
    pub fn new(rt: R, name: &str) -> Self {
        Self::builder(rt, name).build()
    }

    /// Configures a root group named `name`.
    pub fn builder(rt: R, name: &str) -> GroupBuilder<E, R> {
        let config = Config {
            policy: FailurePolicy::CancelGroup,
            finished_capacity: 64,
            endings_capacity: 256,
            transient_capacity: 256,
            bugs: Bugs::NONE,
        };
        let (name, _error) = (name.to_string(), PhantomData);
        GroupBuilder {
            rt,
            name,
            config,
            _error,
        }
    }

    /// A handle to the same group that does not own its routines: dropping it cancels
    /// nothing. For watching a group — its census, its endings, waiting for it — from
    /// outside the code that owns it.
    pub fn observer(&self) -> Group<E, R> {
        Group {
            owner: None,
            ..self.clone()
        }
    }

    /// The group's path: its name, under the path of the routine that owns it if nested.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The runtime the group runs on.
    pub fn runtime(&self) -> &R {
        &self.tree.rt
    }

    /// Tells every routine of the group, nested ones included, to drain.
    pub async fn drain(&self) {
        self.signal(Level::Drain).await
    }

    /// Tells every routine of the group, nested ones included, to cancel.
    pub async fn cancel(&self) {
        self.signal(Level::Cancel).await
    }

    async fn signal(&self, level: Level) {
        self.tree.state.lock().await.signal(&self.path, level);
    }

    /// Refuses new routines from now on; running ones are not disturbed.
    pub async fn close(&self) {
        let mut s = self.tree.state.lock().await;
        if s.close(self.id) {
            self.tree.announce();
        }
    }

    /// Waits until every routine of the group has ended, then closes the group, and returns
    /// its first real failure: the earliest error or panic, never a sibling's cancellation.
    /// A routine of the group must not wait for its own group: it would wait for itself
    /// (the harness reports such a run as a deadlock, naming the routine).
    pub async fn wait(&self) -> Result<(), RoutineError<E>> {
        let mut s = self.until_empty().await;
        if s.close(self.id) {
            self.tree.announce();
        }
        match s.first_failure(&self.path, self.tree.config.bugs) {
            Some(failure) => Err(failure),
            None => Ok(()),
        }
    }

    /// Waits until the group is stopped: closed, and every routine ended.
    pub async fn stopped(&self) {
        drop(self.until(|s| self.stopped_in(s)).await);
    }

    /// Whether the group is closed and every routine of it has ended.
    pub async fn is_stopped(&self) -> bool {
        self.stopped_in(&*self.tree.state.lock().await)
    }

    fn stopped_in(&self, s: &TreeState<E, R>) -> bool {
        s.is_closed(self.id) && s.is_empty_under(&self.path)
    }

    /// Waits until no routine of the group is alive, and returns the state still locked.
    pub(crate) async fn until_empty(&self) -> StateGuard<'_, E, R> {
        self.until(|s| s.is_empty_under(&self.path)).await
    }

    /// Waits until `done` holds of the state, re-checking after every routine exit (announced
    /// on a cell subscribed before each check, so no exit is missed); returns the state
    /// still locked.
    async fn until(&self, done: impl Fn(&TreeState<E, R>) -> bool) -> StateGuard<'_, E, R> {
        loop {
            let mut exits = self.tree.exits.subscribe();
            let s = self.tree.state.lock().await;
            if done(&s) {
                return s;
            }
            drop(s);
            let _ = exits.changed().await;
        }
    }

    /// The routines of the group that did not end cleanly, in the order they ended: the most
    /// recent ones, up to the tree's endings capacity.
    pub async fn endings(&self) -> Vec<RoutineError<E>> {
        self.tree.state.lock().await.endings_under(&self.path)
    }

    /// How many routines of the whole tree ended otherwise than cleanly, by cause, and how
    /// many of their details were forgotten.
    pub async fn ending_counts(&self) -> EndingCounts {
        self.tree.state.lock().await.ending_counts()
    }

    /// Every real failure of the group, in the order they happened.
    pub async fn failures(&self) -> Vec<RoutineError<E>> {
        let endings = self.endings().await;
        endings
            .into_iter()
            .filter(|e| e.cause.is_failure())
            .collect()
    }

    /// The live routines of the group and its nested groups, and the recently finished ones.
    pub async fn census(&self) -> Census {
        self.tree.state.lock().await.census(&self.path)
    }

    /// The stream of transient errors of the whole tree of groups; `None` once taken.
    pub async fn transients(&self) -> Option<R::Receiver<Transient<E>>> {
        self.tree.state.lock().await.transients.take()
    }

    /// How many transient errors were dropped because the stream was full or not taken.
    pub fn dropped_transients(&self) -> u64 {
        self.tree.dropped.load(Ordering::Relaxed)
    }
}

impl<E: Error, R: Runtime> Clone for Group<E, R> {
    fn clone(&self) -> Self {
        let (tree, id, path) = (Arc::clone(&self.tree), self.id, Arc::clone(&self.path));
        let owner = self.owner.clone();
        Group {
            tree,
            id,
            path,
            owner,
        }
    }
}

impl<E: Error, R: Runtime> fmt::Debug for Group<E, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Group").field("path", &self.path).finish()
    }
}
