//! The primitives shared by the model-checking backends (shuttle and loom).
//!
//! A [`Model`] supplies the checker's lock, task spawning and the id of the running task;
//! everything else — channels, oneshots, watch cells, mutexes, notifications, virtual time,
//! the RNG, the event log and the deadlock and leak reports — is written once here, on top of
//! it. Channel state sits behind the checker's own lock, so every operation is a point where
//! the checker may switch tasks, and a blocked operation is a `Pending` the checker sees.
//!
//! [`Sim<M>`] is the runtime handle; `Shuttle` and `Loom` are its two instances.

mod cell;
mod chan;
mod graph;
mod live;
mod log;
mod model;
mod report;
mod sema;
mod sync;
mod task;
mod time;
mod trace;
mod world;

use crate::rt::record::TaskSource;
use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::panic::{resume_unwind, Location};
use std::sync::Arc;
use std::time::Duration;

pub use self::cell::{SimOneshotReceiver, SimOneshotSender, SimWatchReceiver, SimWatchSender};
pub use self::chan::{SimReceiver, SimSender};
pub use self::log::EventLog;
pub use self::model::Model;
pub use self::sema::{SimSemaphore, SimSemaphorePermit};
pub use self::sync::{SimMutex, SimMutexGuard, SimNotify, SimSyncLock};
pub use self::task::SimJoinHandle;
pub use self::time::{SimInstant, SimSleep};

use self::log::EventKind;
use self::report::{Resource, Side, TaskId, Wait, WaitOp};
use self::task::{JoinShared, TaskEnd, Tracked};
use self::world::{Limits, World};
use super::{Rng, Runtime};

/// The runtime handle of a model-checked run; cheap to clone.
pub struct Sim<M> {
    world: Arc<World>,
    _model: PhantomData<fn() -> M>,
}

/// What a finished run leaves behind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunRecord {
    /// The event log of the run.
    pub log: EventLog,
    /// The virtual time at which the run ended.
    pub virtual_time: Duration,
}

/// Settings of one run.
#[derive(Debug, Clone, Copy)]
pub struct RunSettings {
    /// The seed of the runtime's RNG stream.
    pub seed: u64,
    /// The run fails if a timer lies beyond this virtual time.
    pub max_virtual_time: Duration,
    /// Where the body comes from, for reports: the check's construction site.
    pub body_site: &'static Location<'static>,
}

impl Default for RunSettings {
    #[track_caller]
    fn default() -> Self {
        Self {
            seed: 0,
            max_virtual_time: Duration::from_secs(7 * 24 * 3600),
            body_site: Location::caller(),
        }
    }
}

/// Runs `body` as task "main" of a fresh world and then waits for every task it spawned to
/// exit: a task left blocked fails the run as a leak. Must be called inside the checker.
pub fn run<M: Model, T, Fut>(settings: RunSettings, body: impl FnOnce(Sim<M>) -> Fut) -> T
where
    Fut: Future<Output = T>,
{
    run_witnessed(settings, &Witness::default(), body)
}

/// Keeps the world of the latest run reachable, so that what a failed run did up to its
/// failure — its event log and virtual time — can be read once the checker gave up on it.
#[derive(Debug, Default, Clone)]
pub struct Witness(Arc<std::sync::Mutex<Option<Arc<World>>>>);

impl Witness {
    /// What the latest run witnessed recorded so far, if one started.
    pub fn record(&self) -> Option<RunRecord> {
        let world = self.0.lock().unwrap_or_else(|p| p.into_inner()).clone()?;
        Some(RunRecord {
            log: world.log(),
            virtual_time: world.now(),
        })
    }

    fn watch(&self, world: &Arc<World>) {
        *self.0.lock().unwrap_or_else(|p| p.into_inner()) = Some(world.clone());
    }
}

/// As [`run`], leaving the run's world with `witness`, whose [`record`](Witness::record)
/// is the run's once it ended (the event log is only built when asked for).
pub fn run_witnessed<M: Model, T, Fut>(
    settings: RunSettings,
    witness: &Witness,
    body: impl FnOnce(Sim<M>) -> Fut,
) -> T
where
    Fut: Future<Output = T>,
{
    let limits = Limits {
        max_virtual_time: settings.max_virtual_time,
        max_tasks: M::MAX_TASKS,
    };
    crate::rt::record::new_execution();
    let world = World::new(settings.seed, limits);
    witness.watch(&world);
    let source = world.clone();
    let _source = TaskSource::set(move || {
        let task = source.current(M::native_id())?;
        Some((source.task_name(task), source.now()))
    });
    let sim = Sim::<M> {
        world: world.clone(),
        _model: PhantomData,
    };
    let id = world.add_task("main", settings.body_site, None);
    let drain_world = world.clone();
    let main = async move {
        let value = body(sim).await;
        drain_world.body_returned();
        time::Drain::<M>::new(drain_world).await;
        value
    };
    match M::block_on(id, Tracked::<M, _>::new(world.clone(), id, main, None)) {
        Some(Ok(value)) => value,
        Some(Err(TaskEnd::Panicked(payload))) => resume_unwind(payload),
        Some(Err(TaskEnd::Aborted)) | None => unreachable!("the body of a run has no join handle"),
    }
}

/// Ties a primitive to its world and its named resource.
pub(crate) struct Anchor<M> {
    world: Arc<World>,
    resource: Arc<Resource>,
    _model: PhantomData<fn() -> M>,
}

impl<M: Model> Anchor<M> {
    fn new(
        world: &Arc<World>,
        kind: &'static str,
        name: &str,
        capacity: usize,
        at: &'static Location<'static>,
    ) -> Self {
        let resource = world.add_resource(kind, name, capacity, at);
        Self {
            world: world.clone(),
            resource,
            _model: PhantomData,
        }
    }

    /// The running task, for the calls below: one look-up per operation.
    fn me(&self) -> Option<TaskId> {
        self.world.current(M::native_id())
    }

    fn endpoint(&self, side: Side) -> u64 {
        let (tasks, stamp) = (self.world.task_count(), self.world.stamp());
        self.resource.endpoint(side, self.me(), tasks, stamp)
    }

    fn touch(&self, me: Option<TaskId>, endpoint: u64, side: Side) {
        let stamp = self.world.stamp();
        self.resource.touch(endpoint, side, me, stamp);
    }

    /// The running task put a value in the buffer through `endpoint`: channel ends inside
    /// it travel with it.
    fn sent(&self, me: Option<TaskId>, endpoint: u64) {
        let used = self.world.stamp();
        self.resource.sent(endpoint, me, used, self.world.stamp());
    }

    /// The running task took the oldest buffered value out through `endpoint`.
    fn received(&self, me: Option<TaskId>, endpoint: u64) {
        self.resource.received(endpoint, me, self.world.stamp());
    }

    fn wait(&self, me: Option<TaskId>, op: WaitOp) {
        self.world.wait_on(
            me,
            Wait {
                resource: Some(self.resource.clone()),
                op,
            },
        );
    }

    fn record(&self, me: Option<TaskId>, kind: fn(usize) -> EventKind) {
        self.world.record(me, kind(self.resource.id));
    }
}

impl<M> fmt::Debug for Anchor<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.resource.label())
    }
}

impl<M> Clone for Sim<M> {
    fn clone(&self) -> Self {
        Self {
            world: self.world.clone(),
            _model: PhantomData,
        }
    }
}

impl<M: Model> fmt::Debug for Sim<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Sim<{}>", M::NAME)
    }
}

impl<M: Model> Sim<M> {
    /// The event log of this run so far.
    pub fn event_log(&self) -> EventLog {
        self.world.log()
    }
}

impl<M: Model> Runtime for Sim<M> {
    type Instant = SimInstant;
    type JoinHandle<T: Send + 'static> = SimJoinHandle<M, T>;
    type Sender<T: Send + 'static> = SimSender<M, T>;
    type Receiver<T: Send + 'static> = SimReceiver<M, T>;
    type OneshotSender<T: Send + 'static> = SimOneshotSender<M, T>;
    type OneshotReceiver<T: Send + 'static> = SimOneshotReceiver<M, T>;
    type WatchReceiver<T: Clone + Send + Sync + 'static> = SimWatchReceiver<M, T>;
    type WatchSender<T: Clone + Send + Sync + 'static> = SimWatchSender<M, T>;
    type Mutex<T: Send + 'static> = SimMutex<M, T>;
    type SyncLock<T: Send + 'static> = SimSyncLock<M, T>;
    type Notify = SimNotify<M>;
    type Semaphore = SimSemaphore<M>;
    type Sleep = SimSleep<M>;

    #[track_caller]
    fn spawn<F>(&self, name: &str, task: F) -> SimJoinHandle<M, F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let parent = self.world.current(M::native_id());
        let id = self.world.add_task(name, Location::caller(), parent);
        let shared = JoinShared::new();
        let tracked = Tracked::<M, F>::new(self.world.clone(), id, task, Some(shared.clone()));
        M::spawn(id, async move {
            tracked.await;
        });
        SimJoinHandle::new(shared, self.world.clone(), id)
    }

    fn yield_now(&self) -> impl Future<Output = ()> + Send {
        M::yield_now()
    }

    #[track_caller]
    fn channel<T: Send + 'static>(
        &self,
        name: &str,
        capacity: usize,
    ) -> (SimSender<M, T>, SimReceiver<M, T>) {
        assert!(capacity > 0, "channel capacity must be positive");
        chan::channel(
            Anchor::new(&self.world, "channel", name, capacity, Location::caller()),
            capacity,
        )
    }

    #[track_caller]
    fn oneshot<T: Send + 'static>(
        &self,
        name: &str,
    ) -> (SimOneshotSender<M, T>, SimOneshotReceiver<M, T>) {
        cell::oneshot(Anchor::new(
            &self.world,
            "oneshot",
            name,
            1,
            Location::caller(),
        ))
    }

    #[track_caller]
    fn watch<T: Clone + Send + Sync + 'static>(
        &self,
        name: &str,
        initial: T,
    ) -> (SimWatchSender<M, T>, SimWatchReceiver<M, T>) {
        cell::watch(
            Anchor::new(&self.world, "watch", name, 0, Location::caller()),
            initial,
        )
    }

    #[track_caller]
    fn sync_lock<T: Send + 'static>(&self, _name: &str, value: T) -> SimSyncLock<M, T> {
        SimSyncLock(M::new_blocking(value))
    }

    #[track_caller]
    fn mutex<T: Send + 'static>(&self, name: &str, value: T) -> SimMutex<M, T> {
        SimMutex::new(
            Anchor::new(&self.world, "mutex", name, 0, Location::caller()),
            value,
        )
    }

    #[track_caller]
    fn notify(&self, name: &str) -> SimNotify<M> {
        SimNotify::new(Anchor::new(
            &self.world,
            "notify",
            name,
            0,
            Location::caller(),
        ))
    }

    #[track_caller]
    fn semaphore(&self, name: &str, permits: usize) -> SimSemaphore<M> {
        SimSemaphore::new(
            Anchor::new(&self.world, "semaphore", name, 0, Location::caller()),
            permits,
        )
    }

    fn now(&self) -> SimInstant {
        SimInstant::from_start(self.world.now())
    }

    fn sleep_until(&self, deadline: SimInstant) -> SimSleep<M> {
        SimSleep::new(self.world.clone(), deadline.since_start())
    }

    fn rng(&self) -> Rng {
        Rng::new(self.world.next_seed())
    }
}
