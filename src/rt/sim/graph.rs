//! The wait-for graph of a deadlock or leak report.
//!
//! Each live task is listed by name with what it waits on: the resource's kind, name and
//! creation site, the operation, the buffer's fill, and who holds the other end. A holder
//! is the last task to use an endpoint; an endpoint not used since it was made is held by
//! its maker unless the maker spawned tasks since, and then, if exactly one of them is
//! alive (the waiter aside), by that one — the usual `spawn(async move { … })` hand-over.
//! An end may also travel inside a value (a reply sender inside a request): if its holder
//! sent a value since it last held the end, and that value is still buffered in a channel
//! or oneshot, the report names that resource and the holders of its receiving end, who
//! hold the end while the value waits there; if an end its maker never used went out in a
//! value that another task has since received (the last 64 received per resource are
//! remembered), that receiver may keep it unused, and is named too. Edges lead from a blocked task to the holders
//! that could unblock it; a cycle among them is spelled out, since it is the usual cause.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::sync::Arc;

use super::live::Live;
use super::report::{Holder, Resource, RunState, Side, TaskId, Wait, WaitOp};

/// What the graph is drawn from.
pub(crate) struct Tasks<'a> {
    pub(crate) live: &'a Live,
    pub(crate) names: &'a [Arc<str>],
    pub(crate) parents: &'a [Option<TaskId>],
    pub(crate) resources: &'a [Arc<Resource>],
}

impl Tasks<'_> {
    fn name(&self, task: TaskId) -> String {
        format!("\"{}\"", self.names[task])
    }

    /// The task that most likely holds an endpoint, and how sure that is.
    fn holder(&self, holder: &Holder, waiter: TaskId) -> (Option<TaskId>, String) {
        let Some(since) = holder.unused_since else {
            return (Some(holder.task), self.name(holder.task));
        };
        let spawned: Vec<TaskId> = (since..self.parents.len())
            .filter(|t| {
                self.parents[*t] == Some(holder.task) && *t != waiter && self.live.contains(*t)
            })
            .collect();
        let maker = self.name(holder.task);
        match spawned.as_slice() {
            [] => (Some(holder.task), maker),
            [only] => (
                Some(*only),
                format!("{} (made by {maker}, moved in at spawn)", self.name(*only)),
            ),
            many => {
                let names: Vec<String> = many.iter().map(|t| self.name(*t)).collect();
                (
                    None,
                    format!(
                        "{maker} or one of {}, which it spawned since",
                        names.join(", ")
                    ),
                )
            }
        }
    }
}

/// The wait-for graph of the live tasks.
pub(crate) fn wait_for_graph(tasks: &Tasks<'_>) -> String {
    let mut out = String::from("wait-for graph:\n");
    let mut edges: BTreeMap<TaskId, BTreeSet<TaskId>> = BTreeMap::new();
    for (id, task) in tasks.live.iter() {
        let state = if task.state == RunState::Blocked {
            "blocked"
        } else {
            "runnable"
        };
        let _ = writeln!(
            out,
            "  task {} ({state}, spawned at {})",
            tasks.name(id),
            task.spawned_at
        );
        if task.waits.is_empty() {
            let _ = writeln!(
                out,
                "    waits on nothing sigrelay knows (a future outside its primitives)"
            );
        }
        for wait in &task.waits {
            let (line, unblockers) = describe_wait(tasks, wait, id);
            let _ = writeln!(out, "    {line}");
            let live = unblockers
                .into_iter()
                .filter(|t| tasks.live.contains(*t) && *t != id);
            edges.entry(id).or_default().extend(live);
        }
    }
    if let Some(cycle) = find_cycle(&edges) {
        let path: Vec<String> = cycle.iter().map(|t| tasks.name(*t)).collect();
        let _ = writeln!(out, "cycle: {}", path.join(" -> "));
    }
    out
}

/// One line saying what `waiter` waits for, and the tasks that could end the wait.
fn describe_wait(tasks: &Tasks<'_>, wait: &Wait, waiter: TaskId) -> (String, BTreeSet<TaskId>) {
    let (verb, other_side) = match wait.op {
        WaitOp::Send => ("to send on", Some(Side::Rx)),
        WaitOp::Recv => ("to receive from", Some(Side::Tx)),
        WaitOp::Lock => ("to lock", Some(Side::Tx)),
        WaitOp::Acquire => ("to acquire permits of", Some(Side::Tx)),
        WaitOp::Closed => ("for the receiver to close", Some(Side::Rx)),
        WaitOp::Changed => ("for a change of", Some(Side::Tx)),
        WaitOp::Notified => ("for a notification on", None),
        WaitOp::Join(t) => {
            return (
                format!("waits to join task {}", tasks.name(t)),
                BTreeSet::from([t]),
            )
        }
        WaitOp::Sleep(until) => return (format!("sleeps until {until:?}"), BTreeSet::new()),
        WaitOp::Drain => {
            return (
                "returned from the body; waits for every other task to exit".into(),
                BTreeSet::new(),
            )
        }
    };
    let Some(resource) = wait.resource.as_deref() else {
        return (format!("waits {verb} an unnamed resource"), BTreeSet::new());
    };
    let mut line = format!("waits {verb} {}", resource.describe());
    let Some(side) = other_side else {
        return (line, BTreeSet::new());
    };
    let ends = resource.holders_of(side);
    let mut unblockers = BTreeSet::new();
    let holders = tasks.held_by(&ends, waiter, &mut unblockers);
    let _ = write!(line, "; other end held by {holders}");
    for end in &ends {
        let unused = end.unused_since.is_some();
        let moved = unused.then(|| tasks.receivers(resource, end.task, end.stamp));
        for (carrier, receiver) in moved.into_iter().flatten() {
            unblockers.insert(receiver);
            let _ = write!(
                line,
                ", or inside a value {} sent since on {}, received by {}",
                tasks.name(end.task),
                carrier.label(),
                tasks.name(receiver),
            );
        }
        for carrier in tasks.carriers(resource, end.task, end.stamp) {
            let readers = tasks.held_by(&carrier.holders_of(Side::Rx), waiter, &mut unblockers);
            let _ = write!(
                line,
                ", or inside a value {} sent since, waiting in {}, read by {readers}",
                tasks.name(end.task),
                carrier.describe(),
            );
        }
    }
    (line, unblockers)
}

impl Tasks<'_> {
    /// The names of the tasks holding `ends` ("no task" if none); the tasks known for sure
    /// go into `unblockers`.
    fn held_by(
        &self,
        ends: &[Holder],
        waiter: TaskId,
        unblockers: &mut BTreeSet<TaskId>,
    ) -> String {
        let holders: Vec<_> = ends.iter().map(|h| self.holder(h, waiter)).collect();
        unblockers.extend(holders.iter().filter_map(|(t, _)| *t));
        let names: Vec<String> = holders.into_iter().map(|(_, n)| n).collect();
        match names.is_empty() {
            true => "no task".into(),
            false => names.join(", "),
        }
    }

    /// The tasks that took out of a resource other than `waited` a value `sender` sent
    /// after `stamp`, with the resource: where an end it made then, and never used, may
    /// have gone.
    fn receivers<'r>(
        &'r self,
        waited: &'r Resource,
        sender: TaskId,
        stamp: u64,
    ) -> impl Iterator<Item = (&'r Resource, TaskId)> + 'r {
        self.resources
            .iter()
            .map(|r| &**r)
            .filter(move |r| r.id != waited.id)
            .flat_map(move |r| {
                r.delivered_from(sender, stamp)
                    .into_iter()
                    .map(move |t| (r, t))
            })
    }

    /// The resources other than `waited` still buffering a value `sender` sent after
    /// `stamp`: where an end it held then may travel.
    fn carriers<'r>(
        &'r self,
        waited: &'r Resource,
        sender: TaskId,
        stamp: u64,
    ) -> impl Iterator<Item = &'r Resource> + 'r {
        self.resources
            .iter()
            .map(|r| &**r)
            .filter(move |r| r.id != waited.id && r.buffers_sent_by(sender, stamp))
    }
}

fn find_cycle(edges: &BTreeMap<TaskId, BTreeSet<TaskId>>) -> Option<Vec<TaskId>> {
    let mut done = BTreeSet::new();
    edges
        .keys()
        .find_map(|n| visit(*n, edges, &mut Vec::new(), &mut done))
}

fn visit(
    node: TaskId,
    edges: &BTreeMap<TaskId, BTreeSet<TaskId>>,
    path: &mut Vec<TaskId>,
    done: &mut BTreeSet<TaskId>,
) -> Option<Vec<TaskId>> {
    if let Some(pos) = path.iter().position(|n| *n == node) {
        let mut cycle = path[pos..].to_vec();
        cycle.push(node);
        return Some(cycle);
    }
    if !done.insert(node) {
        return None;
    }
    path.push(node);
    let found = edges
        .get(&node)
        .into_iter()
        .flatten()
        .find_map(|n| visit(*n, edges, path, done));
    path.pop();
    found
}
