//! The event log of a run: what each task did, in order, at which virtual time.
//!
//! Events are kept compact while the run goes and rendered once at the end. The hash covers
//! every event, so two runs of one seed agree on it exactly when their logs are identical.

use std::fmt::Write as _;
use std::sync::Arc;
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

/// The rendered event log of one run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventLog {
    lines: Vec<String>,
    hash: u64,
    pub(crate) events: Vec<Event>,
    pub(crate) tasks: Vec<Arc<str>>,
    /// `(kind, label)` of each resource, by id.
    pub(crate) resources: Vec<(&'static str, String)>,
}

impl Events {
    pub(crate) fn push(&mut self, at: Duration, task: Option<TaskId>, kind: EventKind) {
        self.events.push(Event { at, task, kind });
    }

    pub(crate) fn render(&self, names: &[Arc<str>], resources: &[Arc<Resource>]) -> EventLog {
        let lines: Vec<String> = self
            .events
            .iter()
            .map(|e| e.render(names, resources))
            .collect();
        let hash = lines
            .iter()
            .fold(FNV_OFFSET, |h, l| fnv1a(fnv1a(h, l.as_bytes()), b"\n"));
        EventLog {
            lines,
            hash,
            events: self.events.clone(),
            tasks: names.to_vec(),
            resources: resources.iter().map(|r| (r.kind(), r.label())).collect(),
        }
    }
}

impl Event {
    fn render(&self, names: &[Arc<str>], resources: &[Arc<Resource>]) -> String {
        let mut out = format!("{:>12?} ", self.at);
        let who = self.task.map_or("-", |t| &*names[t]);
        let _ = match self.kind {
            EventKind::Spawn(child) => write!(out, "{who} spawns {}", names[child]),
            EventKind::Exit(how) => write!(out, "{who} exits {how}"),
            EventKind::Send(r) => write!(out, "{who} sends on {}", resources[r].label()),
            EventKind::Recv(r) => write!(out, "{who} receives from {}", resources[r].label()),
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
    /// One line per event: virtual time, task, what it did.
    pub fn lines(&self) -> &[String] {
        &self.lines
    }

    /// A hash of every line, equal for two runs exactly when their logs are.
    pub fn hash(&self) -> u64 {
        self.hash
    }

    /// The first line where two logs differ, with both versions.
    pub fn first_difference<'a>(
        &'a self,
        other: &'a EventLog,
    ) -> Option<(usize, Option<&'a str>, Option<&'a str>)> {
        let n = self.lines.len().max(other.lines.len());
        (0..n)
            .map(|i| {
                (
                    i,
                    self.lines.get(i).map(String::as_str),
                    other.lines.get(i).map(String::as_str),
                )
            })
            .find(|(_, a, b)| a != b)
    }
}
