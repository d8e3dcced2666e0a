//! The per-run state of a simulation: live tasks and whether each is blocked, the virtual
//! clock and its timers, the resources tasks wait on, and the event log.
//!
//! # The synctest rule
//! Virtual time moves only when every live task is blocked, and then jumps straight to the
//! earliest timer. The task that blocks last sees it (in [`World::blocked`]) and either fires
//! the earliest timers or, with none pending, reports a deadlock (or, once the body has
//! returned, a leak) as a wait-for graph.
//!
//! # Why a std mutex guards this state
//! Under both checkers exactly one task runs at a time, and nothing that can switch tasks
//! (a checker lock, a park) happens while the lock is held, so it never contends. Being
//! invisible to the checker is the point: bookkeeping adds no interleavings to explore.
//! Wakers are always called, and dropped, after the lock is released: under loom, waking or
//! dropping a waker is a scheduling point, and another task must not find the lock taken.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::panic::Location;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex as StdMutex, MutexGuard};
use std::task::Waker;
use std::time::Duration;

use super::graph::{self, Tasks};
use super::live::Live;
use super::log::{EventKind, EventLog, Events};
use super::report::{Resource, RunState, TaskEntry, TaskId, Wait};
use crate::rt::Rng;

/// Limits of one run.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    pub(crate) max_virtual_time: Duration,
    pub(crate) max_tasks: Option<usize>,
}

#[derive(Debug)]
struct State {
    rng: Rng,
    names: Vec<Arc<str>>,
    parents: Vec<Option<TaskId>>,
    live: Live,
    /// Our task id by the checker's (both number their tasks from 0).
    natives: Vec<Option<TaskId>>,
    now: Duration,
    /// Armed timers: the waker to fire and the task that armed it.
    timers: BTreeMap<(Duration, u64), (Waker, Option<TaskId>)>,
    next_timer: u64,
    resources: Vec<Arc<Resource>>,
    body_returned: bool,
    drain_waker: Option<Waker>,
    events: Events,
    limits: Limits,
    /// Whether this run was found stuck. Its first report is the verdict: the panic that
    /// carries it may let other tasks run while it unwinds (the checker goes on scheduling
    /// until the panicking task has unwound), and the world they see — the stuck task gone
    /// half-way, its ends dropped — is not the one that deadlocked, so it is not judged again.
    stuck: bool,
}

/// The shared state of one simulation run.
#[derive(Debug)]
pub(crate) struct World {
    state: StdMutex<State>,
    stamps: AtomicU64,
    /// Tells this world from every other in the process, for [`KNOWN`].
    serial: u64,
}

/// Numbers the worlds of the process.
static SERIALS: AtomicU64 = AtomicU64::new(0);

thread_local! {
    /// The tasks [`World::current`] found on this thread, by the checker's id, and the serial
    /// of their world. A binding never changes, so a task is looked up under the world
    /// lock once per thread.
    static KNOWN: RefCell<Known> = const {
        RefCell::new(Known {
            serial: u64::MAX,
            ids: Vec::new(),
        })
    };
}

/// The bindings [`World::current`] found on one thread, for the world `serial`.
struct Known {
    serial: u64,
    ids: Vec<Option<TaskId>>,
}

/// What the last task to block must do once the world lock is released.
#[derive(Debug)]
pub(crate) enum Quiescence {
    /// Some task can still run.
    Busy,
    /// Time advanced: wake these timers.
    Fire(Vec<Waker>),
    /// Nothing can ever run again: fail with this report.
    Stuck(String),
}

impl World {
    pub(crate) fn new(seed: u64, limits: Limits) -> Arc<Self> {
        let state = State {
            rng: Rng::new(seed),
            names: Vec::new(),
            parents: Vec::new(),
            live: Live::default(),
            natives: Vec::new(),
            now: Duration::ZERO,
            timers: BTreeMap::new(),
            next_timer: 0,
            resources: Vec::new(),
            body_returned: false,
            drain_waker: None,
            events: Events::default(),
            limits,
            stuck: false,
        };
        Arc::new(Self {
            state: StdMutex::new(state),
            stamps: AtomicU64::new(0),
            serial: SERIALS.fetch_add(1, Ordering::Relaxed),
        })
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Registers a new task; the caller starts it under the checker.
    pub(crate) fn add_task(
        &self,
        name: &str,
        at: &'static Location<'static>,
        parent: Option<TaskId>,
    ) -> TaskId {
        let mut s = self.lock();
        let id = s.names.len();
        if let Some(max) = s.limits.max_tasks {
            assert!(
                id <= max,
                "the loom backend runs each task on a loom thread, and loom allows at most {max} \
                 besides the body: task \"{name}\" (spawned at {at}) is one too many; keep loom \
                 models to small protocol kernels and run larger ones under shuttle"
            );
        }
        s.names.push(name.into());
        s.parents.push(parent);
        s.live.insert(
            id,
            TaskEntry {
                state: RunState::Runnable,
                waits: Vec::new(),
                spawned_at: at,
            },
        );
        s.record(parent, EventKind::Spawn(id));
        id
    }

    /// Binds the checker's id of the running task to `id`.
    pub(crate) fn bind_native(&self, native: usize, id: TaskId) {
        let natives = &mut self.lock().natives;
        if natives.len() <= native {
            natives.resize(native + 1, None);
        }
        natives[native] = Some(id);
    }

    /// The task that is running, given the checker's id for it.
    pub(crate) fn current(&self, native: usize) -> Option<TaskId> {
        let known = KNOWN.with_borrow(|k| {
            (k.serial == self.serial)
                .then(|| k.ids.get(native).copied().flatten())
                .flatten()
        });
        if known.is_some() {
            return known;
        }
        let id = self.lock().natives.get(native).copied().flatten()?;
        KNOWN.with_borrow_mut(|k| {
            if k.serial != self.serial {
                k.serial = self.serial;
                k.ids.clear();
            }
            if k.ids.len() <= native {
                k.ids.resize(native + 1, None);
            }
            k.ids[native] = Some(id);
        });
        Some(id)
    }

    pub(crate) fn begin_poll(&self, id: TaskId) {
        let mut s = self.lock();
        s.live.set_state(id, |_| RunState::Polling);
        if let Some(t) = s.live.get_mut(id) {
            t.waits.clear();
        }
    }

    /// A waker of task `id` fired.
    pub(crate) fn wake(&self, id: TaskId) {
        let mut s = self.lock();
        s.live.set_state(id, |state| match state {
            RunState::Polling | RunState::Notified => RunState::Notified,
            RunState::Runnable | RunState::Blocked => RunState::Runnable,
        });
    }

    /// Task `id` returned pending; then [`settle`](Self::settle).
    pub(crate) fn blocked(&self, id: TaskId) -> Quiescence {
        let mut s = self.lock();
        s.live.set_state(id, |state| match state {
            RunState::Notified => RunState::Runnable,
            _ => RunState::Blocked,
        });
        s.settle()
    }

    /// Applies the synctest rule after a task blocked or exited: if no live task can run,
    /// time jumps to the earliest timer, or the run is stuck.
    pub(crate) fn settle(&self) -> Quiescence {
        self.lock().settle()
    }

    /// Task `id` completed, panicked or was aborted.
    pub(crate) fn exited(&self, id: TaskId, outcome: &'static str) -> Option<Waker> {
        let mut s = self.lock();
        s.live.remove(id);
        s.record(Some(id), EventKind::Exit(outcome));
        let drained = s.body_returned && s.live.len() <= 1;
        if drained {
            s.drain_waker.take()
        } else {
            None
        }
    }

    /// The body returned; from now on the run only waits for the other tasks to exit.
    pub(crate) fn body_returned(&self) {
        self.lock().body_returned = true;
    }

    /// Whether every task but the body has exited; otherwise `waker` is woken when they have.
    pub(crate) fn poll_drained(&self, waker: &Waker) -> bool {
        let mut s = self.lock();
        if s.live.len() <= 1 {
            return true;
        }
        let replaced = s.drain_waker.replace(waker.clone());
        drop(s);
        drop(replaced);
        false
    }

    /// Records that the running task waits on `resource`.
    pub(crate) fn wait_on(&self, task: Option<TaskId>, wait: Wait) {
        let mut s = self.lock();
        if let Some(t) = task.and_then(|id| s.live.get_mut(id)) {
            let same = |w: &Wait| {
                w.op == wait.op
                    && w.resource.as_ref().map(|r| r.id) == wait.resource.as_ref().map(|r| r.id)
            };
            if !t.waits.iter().any(same) {
                t.waits.push(wait);
            }
        }
    }

    /// Registers a named resource for reports and the event log.
    pub(crate) fn add_resource(
        &self,
        kind: &'static str,
        name: &str,
        capacity: usize,
        at: &'static Location<'static>,
    ) -> Arc<Resource> {
        let mut s = self.lock();
        let r = Arc::new(Resource::new(s.resources.len(), kind, name, capacity, at));
        s.resources.push(r.clone());
        r
    }

    /// Appends an event by the running task to the log.
    pub(crate) fn record(&self, task: Option<TaskId>, kind: EventKind) {
        self.lock().record(task, kind);
    }

    pub(crate) fn now(&self) -> Duration {
        self.lock().now
    }

    /// Arms (or re-arms) a timer; returns its key.
    pub(crate) fn arm_timer(
        &self,
        key: Option<(Duration, u64)>,
        deadline: Duration,
        waker: &Waker,
        task: Option<TaskId>,
    ) -> (Duration, u64) {
        let mut s = self.lock();
        let key = key.unwrap_or_else(|| {
            s.next_timer += 1;
            (deadline, s.next_timer)
        });
        let replaced = s.timers.insert(key, (waker.clone(), task));
        drop(s);
        drop(replaced);
        key
    }

    pub(crate) fn disarm_timer(&self, key: (Duration, u64)) {
        let removed = self.lock().timers.remove(&key);
        drop(removed);
    }

    /// The next seed for an RNG handed out by the runtime.
    pub(crate) fn next_seed(&self) -> u64 {
        self.lock().rng.next_u64()
    }

    /// The event log so far.
    pub(crate) fn log(&self) -> EventLog {
        let s = self.lock();
        s.events.log(&s.names, &s.resources)
    }

    /// The next point of the run's order of endpoint uses and sends. One task runs at a
    /// time, so a load and a store (no read-modify-write) count exactly.
    pub(crate) fn stamp(&self) -> u64 {
        let stamp = self.stamps.load(Ordering::Relaxed);
        self.stamps.store(stamp + 1, Ordering::Relaxed);
        stamp
    }

    /// How many tasks the run has spawned so far, the body included.
    pub(crate) fn task_count(&self) -> usize {
        self.lock().names.len()
    }

    pub(crate) fn task_name(&self, id: TaskId) -> Arc<str> {
        self.lock().names[id].clone()
    }
}

impl State {
    fn record(&mut self, task: Option<TaskId>, kind: EventKind) {
        self.events.push(self.now, task, kind);
    }

    fn settle(&mut self) -> Quiescence {
        if self.stuck || !self.live.all_blocked() {
            return Quiescence::Busy;
        }
        self.advance()
    }

    fn advance(&mut self) -> Quiescence {
        let Some(&(deadline, _)) = self.timers.keys().next() else {
            let report = self.stuck_report();
            return self.stuck(report);
        };
        if deadline > self.limits.max_virtual_time {
            let report = format!(
                "virtual time limit of {:?} reached with tasks still alive\n{}",
                self.limits.max_virtual_time,
                self.graph()
            );
            return self.stuck(report);
        }
        self.now = self.now.max(deadline);
        self.record(None, EventKind::Advance);
        let due: Vec<_> = self
            .timers
            .range(..=(deadline, u64::MAX))
            .map(|(k, _)| *k)
            .collect();
        let fired: Vec<_> = due
            .into_iter()
            .filter_map(|k| self.timers.remove(&k))
            .collect();
        // Runnable before the lock is released: a task polled before the wakes land (loom
        // may poll spuriously) must not find every task blocked and no timer left.
        for task in fired.iter().filter_map(|(_, task)| *task) {
            self.live.set_state(task, |_| RunState::Runnable);
        }
        Quiescence::Fire(fired.into_iter().map(|(waker, _)| waker).collect())
    }

    fn stuck(&mut self, report: String) -> Quiescence {
        self.stuck = true;
        Quiescence::Stuck(report)
    }

    fn stuck_report(&self) -> String {
        let head = if self.body_returned {
            let n = self.live.len().saturating_sub(1);
            format!("leak: the body returned but {n} task(s) are still alive and can never finish")
        } else {
            "deadlock: every task is blocked and no timer is pending".to_string()
        };
        format!("{head} (virtual time {:?})\n{}", self.now, self.graph())
    }

    fn graph(&self) -> String {
        graph::wait_for_graph(&Tasks {
            live: &self.live,
            names: &self.names,
            parents: &self.parents,
            resources: &self.resources,
        })
    }
}
