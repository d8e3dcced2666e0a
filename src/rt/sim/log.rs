//! The event log of a run: what each task did, in order, at which virtual time.
//!
//! Events are kept compact while the run goes, and rendered only when someone reads the log
//! (a sweep of thousands of seeds reads almost none). The hash covers every rendered line,
//! so two runs of one seed agree on it exactly when their logs are identical.

use std::fmt::Write as _;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use super::report::{Resource, TaskId};

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum EventKind {
    /// The running task spawned this one.
    Spawn(TaskId),
    /// The task ended: "ok", "panicked" or "aborted".
    Exit(&'static str),
    /// A value entered the resource.
    Send(usize),
    /// A value left the resource.
    Recv(usize),
    /// The clock jumped to the event's time.
    Advance,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Event {
    pub(crate) at: Duration,
    pub(crate) task: Option<TaskId>,
    pub(crate) kind: EventKind,
}

/// The events of a run so far.
#[derive(Debug, Default)]
pub(crate) struct Events {
    events: Vec<Event>,
}

/// The event log of one run, rendered on first read.
#[derive(Debug, Clone)]
pub struct EventLog {
    rendered: OnceLock<Rendered>,
    pub(crate) events: Vec<Event>,
    pub(crate) tasks: Vec<Arc<str>>,
    /// `(kind, label)` of each resource, by id.
    pub(crate) resources: Vec<(&'static str, String)>,
}

impl Events {
    pub(crate) fn push(&mut self, at: Duration, task: Option<TaskId>, kind: EventKind) {
        self.events.push(Event { at, task, kind });
    }

    /// The log of these events, with the names of the tasks and resources they refer to.
    pub(crate) fn log(&self, names: &[Arc<str>], resources: &[Arc<Resource>]) -> EventLog {
        EventLog {
            rendered: OnceLock::new(),
            events: self.events.clone(),
            tasks: names.to_vec(),
            resources: resources.iter().map(|r| (r.kind(), r.label())).collect(),
        }
    }
}

/// A log's lines and their hash.
#[derive(Debug, Clone)]
struct Rendered {
    lines: Vec<String>,
    hash: u64,
}

impl Event {
    fn render(&self, names: &[Arc<str>], resources: &[(&'static str, String)]) -> String {
        let mut out = format!("{:>12?} ", self.at);
        let who = self.task.map_or("-", |t| &*names[t]);
        let _ = match self.kind {
            EventKind::Spawn(child) => write!(out, "{who} spawns {}", names[child]),
            EventKind::Exit(how) => write!(out, "{who} exits {how}"),
            EventKind::Send(r) => write!(out, "{who} sends on {}", resources[r].1),
            EventKind::Recv(r) => write!(out, "{who} receives from {}", resources[r].1),
            EventKind::Advance => write!(out, "clock advances"),
        };
        out
    }
}

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;

fn fnv1a(mut hash: u64, bytes: &[u8]) -> u64 {
    for b in bytes {
        hash ^= u64::from(*b);
        hash = hash.wrapping_mul(0x0000_0100_0000_01B3);
    }
    hash
}

impl EventLog {
    fn rendered(&self) -> &Rendered {
        self.rendered.get_or_init(|| {
            let lines: Vec<String> = (self.events.iter())
                .map(|e| e.render(&self.tasks, &self.resources))
                .collect();
            let hash = (lines.iter()).fold(FNV_OFFSET, |h, l| fnv1a(fnv1a(h, l.as_bytes()), b"\n"));
            Rendered { lines, hash }
        })
    }

    /// One line per event: virtual time, task, what it did.
    pub fn lines(&self) -> &[String] {
        &self.rendered().lines
    }

    /// A hash of every line, equal for two runs exactly when their logs are.
    pub fn hash(&self) -> u64 {
        self.rendered().hash
    }

    /// The first line where two logs differ, with both versions.
    pub fn first_difference<'a>(
        &'a self,
        other: &'a EventLog,
    ) -> Option<(usize, Option<&'a str>, Option<&'a str>)> {
        let (ours, theirs) = (self.lines(), other.lines());
        let n = ours.len().max(theirs.len());
        (0..n)
            .map(|i| {
                (
                    i,
                    ours.get(i).map(String::as_str),
                    theirs.get(i).map(String::as_str),
                )
            })
            .find(|(_, a, b)| a != b)
    }
}

impl PartialEq for EventLog {
    fn eq(&self, other: &Self) -> bool {
        self.lines() == other.lines()
    }
}

impl Eq for EventLog {}
