//! Named resources, who holds their endpoints, and what blocked tasks wait on: the facts
//! the wait-for graph of a report (see [`graph`](super::graph)) is drawn from.

use std::collections::{BTreeSet, VecDeque};
use std::panic::Location;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex as StdMutex};
use std::time::Duration;

/// Identifies a task within one run; the body is task 0.
pub(crate) type TaskId = usize;

/// Scheduling state of a live task, as seen through its wakers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RunState {
    /// Ready to be polled.
    Runnable,
    /// Being polled now.
    Polling,
    /// Woken while being polled: stays runnable when the poll returns pending.
    Notified,
    /// Returned pending and not woken since.
    Blocked,
}

/// A live task.
#[derive(Debug)]
pub(crate) struct TaskEntry {
    pub(crate) state: RunState,
    pub(crate) waits: Vec<Wait>,
    pub(crate) spawned_at: &'static Location<'static>,
}

/// Which end of a resource an endpoint is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Side {
    /// Puts values in (or releases, or notifies).
    Tx,
    /// Takes values out.
    Rx,
}

/// A channel, cell, lock or task handle, named for reports.
#[derive(Debug)]
pub(crate) struct Resource {
    pub(crate) id: usize,
    kind: &'static str,
    name: Arc<str>,
    capacity: usize,
    site: &'static Location<'static>,
    len: AtomicUsize,
    endpoints: AtomicU64,
    /// Who holds the endpoints and what travels through the buffer, under one lock: an
    /// operation that uses an endpoint and moves a value takes it once.
    ledger: StdMutex<Ledger>,
}

/// The facts about a resource's endpoints and values that ownership is inferred from.
#[derive(Debug, Default)]
struct Ledger {
    /// By endpoint id; ids are handed out in order from 0.
    holders: Vec<Option<Holder>>,
    /// Who sent each buffered value, and when: a channel end sent inside a value is held
    /// by whoever holds this resource's receiving end until it is received.
    transit: VecDeque<Sent>,
    /// The latest values taken out, with who took each: an end sent inside one of them is
    /// held by its receiver, which may keep it without using it.
    delivered: VecDeque<Delivered>,
}

impl Ledger {
    fn hold(&mut self, endpoint: u64, holder: Holder) {
        let at = usize::try_from(endpoint).expect("endpoint ids are counted from 0");
        if self.holders.len() <= at {
            self.holders.resize(at + 1, None);
        }
        self.holders[at] = Some(holder);
    }

    fn take_out(&mut self, by: Option<TaskId>) {
        let sent = self.transit.pop_front();
        if let (Some(sent), Some(by)) = (sent, by) {
            if self.delivered.len() == DELIVERED_KEPT {
                self.delivered.pop_front();
            }
            self.delivered.push_back(Delivered { sent, by });
        }
    }
}

/// How many taken-out values a resource remembers.
const DELIVERED_KEPT: usize = 64;

/// A value taken out of the buffer, and the task that took it.
#[derive(Debug, Clone, Copy)]
struct Delivered {
    sent: Sent,
    by: TaskId,
}

/// A buffered value: the task that sent it, and the world's stamp at the send.
#[derive(Debug, Clone, Copy)]
struct Sent {
    task: TaskId,
    stamp: u64,
}

/// Who holds an endpoint: the last task that used it or, if none has since it was made,
/// the task that made it — which may have moved it into a task it spawned later.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Holder {
    pub(crate) side: Side,
    pub(crate) task: TaskId,
    /// `Some(n)`: made by `task` when `n` tasks existed, and not used since.
    pub(crate) unused_since: Option<TaskId>,
    /// The world's stamp when `task` made or last used the endpoint.
    pub(crate) stamp: u64,
}

impl Holder {
    /// `task`, which used the endpoint at `stamp`.
    fn using(side: Side, task: TaskId, stamp: u64) -> Self {
        Self {
            side,
            task,
            unused_since: None,
            stamp,
        }
    }
}

/// What a blocked task waits for.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum WaitOp {
    /// Room in the buffer.
    Send,
    /// A value.
    Recv,
    /// A lock to be released.
    Lock,
    /// Permits of a semaphore to be released.
    Acquire,
    /// The receiver of a channel to go.
    Closed,
    /// A newer value in a latest-value cell.
    Changed,
    /// A notification.
    Notified,
    /// The end of a task.
    Join(TaskId),
    /// The clock to reach a time.
    Sleep(Duration),
    /// Every other task to exit: the body returned and the run checks for leaks.
    Drain,
}

/// One resource a blocked task waits on.
#[derive(Debug, Clone)]
pub(crate) struct Wait {
    pub(crate) resource: Option<Arc<Resource>>,
    pub(crate) op: WaitOp,
}

impl Resource {
    pub(crate) fn new(
        id: usize,
        kind: &'static str,
        name: &str,
        capacity: usize,
        site: &'static Location<'static>,
    ) -> Self {
        let (len, endpoints) = (AtomicUsize::new(0), AtomicU64::new(0));
        Self {
            id,
            kind,
            name: name.into(),
            capacity,
            site,
            len,
            endpoints,
            ledger: StdMutex::new(Ledger::default()),
        }
    }

    /// A fresh endpoint id, made by `task` on `side` when `tasks` tasks existed, at `stamp`.
    pub(crate) fn endpoint(
        &self,
        side: Side,
        task: Option<TaskId>,
        tasks: TaskId,
        stamp: u64,
    ) -> u64 {
        let id = self.endpoints.fetch_add(1, Ordering::Relaxed);
        self.hold(id, side, task, Some(tasks), stamp);
        id
    }

    /// `channel`, `oneshot`, `watch`, `mutex` or `notify`.
    pub(crate) fn kind(&self) -> &'static str {
        self.kind
    }

    /// `kind "name"`, as reports and logs print it.
    pub(crate) fn label(&self) -> String {
        format!("{} \"{}\"", self.kind, self.name)
    }

    /// Records the buffer's fill for reports.
    pub(crate) fn set_len(&self, len: usize) {
        self.len.store(len, Ordering::Relaxed);
    }

    /// Records that `task` used endpoint `endpoint` at `stamp`, so it holds it.
    pub(crate) fn touch(&self, endpoint: u64, side: Side, task: Option<TaskId>, stamp: u64) {
        self.hold(endpoint, side, task, None, stamp);
    }

    fn hold(
        &self,
        endpoint: u64,
        side: Side,
        task: Option<TaskId>,
        unused_since: Option<TaskId>,
        stamp: u64,
    ) {
        if let Some(task) = task {
            let holder = Holder {
                side,
                task,
                unused_since,
                stamp,
            };
            self.ledger().hold(endpoint, holder);
        }
    }

    /// Forgets a dropped endpoint.
    pub(crate) fn release(&self, endpoint: u64) {
        let mut ledger = self.ledger();
        if let Some(holder) = usize::try_from(endpoint)
            .ok()
            .and_then(|at| ledger.holders.get_mut(at))
        {
            *holder = None;
        }
    }

    /// Records that `task`, using endpoint `endpoint` (a sending end) at `used`, put a value
    /// in the buffer at `stamp`.
    pub(crate) fn sent(&self, endpoint: u64, task: Option<TaskId>, used: u64, stamp: u64) {
        if let Some(task) = task {
            let mut ledger = self.ledger();
            ledger.hold(endpoint, Holder::using(Side::Tx, task, used));
            ledger.transit.push_back(Sent { task, stamp });
        }
    }

    /// Records that `by`, using endpoint `endpoint` (a receiving end) at `used`, took the
    /// oldest buffered value out.
    pub(crate) fn received(&self, endpoint: u64, by: Option<TaskId>, used: u64) {
        let mut ledger = self.ledger();
        if let Some(task) = by {
            ledger.hold(endpoint, Holder::using(Side::Rx, task, used));
        }
        ledger.take_out(by);
    }

    /// The tasks other than `task` that took out a value `task` sent after `stamp`: an end
    /// `task` held then may have travelled to them inside it.
    pub(crate) fn delivered_from(&self, task: TaskId, stamp: u64) -> BTreeSet<TaskId> {
        self.ledger()
            .delivered
            .iter()
            .filter(|d| d.sent.task == task && d.sent.stamp > stamp && d.by != task)
            .map(|d| d.by)
            .collect()
    }

    /// Records that every buffered value was dropped.
    pub(crate) fn discarded(&self) {
        self.ledger().transit.clear();
    }

    /// Whether a value `task` sent after `stamp` is still buffered: an endpoint `task` held
    /// at `stamp` may travel inside it.
    pub(crate) fn buffers_sent_by(&self, task: TaskId, stamp: u64) -> bool {
        let ledger = self.ledger();
        ledger
            .transit
            .iter()
            .any(|s| s.task == task && s.stamp > stamp)
    }

    fn ledger(&self) -> std::sync::MutexGuard<'_, Ledger> {
        self.ledger.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The holders of the endpoints on `side`.
    pub(crate) fn holders_of(&self, side: Side) -> Vec<Holder> {
        self.ledger()
            .holders
            .iter()
            .flatten()
            .filter(|h| h.side == side)
            .copied()
            .collect()
    }

    /// `kind "name" (created at site) [len/cap buffered]`.
    pub(crate) fn describe(&self) -> String {
        let fill = if self.capacity > 0 {
            format!(
                " [{}/{} buffered]",
                self.len.load(Ordering::Relaxed),
                self.capacity
            )
        } else {
            String::new()
        };
        format!("{} (created at {}){fill}", self.label(), self.site)
    }
}
