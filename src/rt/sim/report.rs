//! Named resources and the wait-for graph of a deadlock or leak report.
//!
//! Each blocked task is listed by name with what it waits on: the resource's kind, name and
//! creation site, the operation, the buffer's fill, and the live tasks that hold the other
//! end (the last task to use each endpoint). Edges lead from a blocked task to those
//! holders; a cycle among them is spelled out, since it is the usual cause.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::panic::Location;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex as StdMutex};
use std::time::Duration;

use super::world::{RunState, TaskEntry, TaskId};

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
    holders: StdMutex<BTreeMap<u64, (Side, TaskId)>>,
}

/// What a blocked task waits for.
#[derive(Debug, Clone, Copy)]
pub(crate) enum WaitOp {
    /// Room in the buffer.
    Send,
    /// A value.
    Recv,
    /// A lock to be released.
    Lock,
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
    pub(crate) fn new(id: usize, kind: &'static str, name: &str, capacity: usize, site: &'static Location<'static>) -> Self {
        let holders = StdMutex::new(BTreeMap::new());
        let (len, endpoints) = (AtomicUsize::new(0), AtomicU64::new(0));
        Self { id, kind, name: name.into(), capacity, site, len, endpoints, holders }
    }

    /// A fresh endpoint id, held by `task` on `side`.
    pub(crate) fn endpoint(&self, side: Side, task: Option<TaskId>) -> u64 {
        let id = self.endpoints.fetch_add(1, Ordering::Relaxed);
        self.touch(id, side, task);
        id
    }

    /// `kind "name"`, as reports and logs print it.
    pub(crate) fn label(&self) -> String {
        format!("{} \"{}\"", self.kind, self.name)
    }

    /// Records the buffer's fill for reports.
    pub(crate) fn set_len(&self, len: usize) {
        self.len.store(len, Ordering::Relaxed);
    }

    /// Records that `task` holds (last used) endpoint `endpoint`.
    pub(crate) fn touch(&self, endpoint: u64, side: Side, task: Option<TaskId>) {
        if let Some(task) = task {
            self.holders.lock().unwrap_or_else(|p| p.into_inner()).insert(endpoint, (side, task));
        }
    }

    /// Forgets a dropped endpoint.
    pub(crate) fn release(&self, endpoint: u64) {
        self.holders.lock().unwrap_or_else(|p| p.into_inner()).remove(&endpoint);
    }

    fn holders_of(&self, side: Side) -> BTreeSet<TaskId> {
        let holders = self.holders.lock().unwrap_or_else(|p| p.into_inner());
        holders.values().filter(|(s, _)| *s == side).map(|(_, t)| *t).collect()
    }
}

/// The wait-for graph of the live tasks.
pub(crate) fn wait_for_graph(live: &BTreeMap<TaskId, TaskEntry>, names: &[Arc<str>]) -> String {
    let mut out = String::from("wait-for graph:\n");
    let mut edges: BTreeMap<TaskId, BTreeSet<TaskId>> = BTreeMap::new();
    for (&id, task) in live {
        let state = if task.state == RunState::Blocked { "blocked" } else { "runnable" };
        let _ = writeln!(out, "  task \"{}\" ({state}, spawned at {})", names[id], task.spawned_at);
        if task.waits.is_empty() {
            let _ = writeln!(out, "    waits on nothing the runtime knows (a future outside sigrelay's primitives)");
        }
        for wait in &task.waits {
            let unblockers = describe_wait(&mut out, wait, names);
            let live_unblockers = unblockers.into_iter().filter(|t| live.contains_key(t) && *t != id);
            edges.entry(id).or_default().extend(live_unblockers);
        }
    }
    if let Some(cycle) = find_cycle(&edges) {
        let path: Vec<String> = cycle.iter().map(|t| format!("\"{}\"", names[*t])).collect();
        let _ = writeln!(out, "cycle: {}", path.join(" -> "));
    }
    out
}

fn describe_wait(out: &mut String, wait: &Wait, names: &[Arc<str>]) -> BTreeSet<TaskId> {
    let r = wait.resource.as_deref();
    let (verb, other_side) = match wait.op {
        WaitOp::Send => ("to send on", Some(Side::Rx)),
        WaitOp::Recv => ("to receive from", Some(Side::Tx)),
        WaitOp::Lock => ("to lock", Some(Side::Tx)),
        WaitOp::Changed => ("for a change of", Some(Side::Tx)),
        WaitOp::Notified => ("for a notification on", None),
        WaitOp::Join(t) => {
            let _ = writeln!(out, "    waits to join task \"{}\"", names[t]);
            return BTreeSet::from([t]);
        }
        WaitOp::Sleep(until) => {
            let _ = writeln!(out, "    sleeps until {until:?}");
            return BTreeSet::new();
        }
        WaitOp::Drain => {
            let _ = writeln!(out, "    returned from the body; waits for every other task to exit");
            return BTreeSet::new();
        }
    };
    let Some(r) = r else { return BTreeSet::new() };
    let fill = if r.capacity > 0 {
        format!(" [{}/{} buffered]", r.len.load(Ordering::Relaxed), r.capacity)
    } else {
        String::new()
    };
    let holders = other_side.map(|s| r.holders_of(s)).unwrap_or_default();
    let held: Vec<String> = holders.iter().map(|t| format!("\"{}\"", names[*t])).collect();
    let held = match (other_side, held.is_empty()) {
        (None, _) => String::new(),
        (Some(_), true) => "; other end held by no task".to_string(),
        (Some(_), false) => format!("; other end held by {}", held.join(", ")),
    };
    let _ = writeln!(out, "    waits {verb} {} (created at {}){fill}{held}", r.label(), r.site);
    holders
}

fn find_cycle(edges: &BTreeMap<TaskId, BTreeSet<TaskId>>) -> Option<Vec<TaskId>> {
    fn visit(node: TaskId, edges: &BTreeMap<TaskId, BTreeSet<TaskId>>, path: &mut Vec<TaskId>, done: &mut BTreeSet<TaskId>) -> Option<Vec<TaskId>> {
        if let Some(pos) = path.iter().position(|n| *n == node) {
            let mut cycle = path[pos..].to_vec();
            cycle.push(node);
            return Some(cycle);
        }
        if !done.insert(node) {
            return None;
        }
        path.push(node);
        let found = edges.get(&node).into_iter().flatten().find_map(|n| visit(*n, edges, path, done));
        path.pop();
        found
    }
    let mut done = BTreeSet::new();
    edges.keys().find_map(|n| visit(*n, edges, &mut Vec::new(), &mut done))
}
