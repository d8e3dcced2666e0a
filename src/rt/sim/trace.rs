//! A run as a Chrome trace-event file, which Perfetto (ui.perfetto.dev) and
//! `chrome://tracing` open: one track per task, a span for each task's life, an instant for
//! each send and receive, and a flow arrow from each value sent on a channel or oneshot to
//! the receive that took it (channels are FIFO, so the k-th send pairs with the k-th receive).

use std::collections::BTreeMap;
use std::time::Duration;

use super::log::{EventKind, EventLog};
use crate::rt::record::chrome::{self, micros, Args, TraceEvent};
use crate::rt::record::Recording;

impl EventLog {
    /// The run in Chrome's trace-event JSON format, on virtual time.
    pub fn chrome_trace(&self) -> String {
        self.chrome_trace_with(&Recording::default())
    }

    /// The run in Chrome's trace-event format, with what it said through `tracing` as
    /// instants on the tracks of the tasks that said it.
    pub fn chrome_trace_with(&self, said: &Recording) -> String {
        let mut out: Vec<TraceEvent> = (self.tasks.iter().enumerate())
            .map(|(tid, name)| TraceEvent::track(tid, name))
            .collect();
        self.lifetimes(&mut out);
        self.messages(&mut out);
        out.extend(said.instants(|track| {
            let tid = self.tasks.iter().position(|name| &**name == track);
            tid.unwrap_or(0)
        }));
        chrome::file(&out, true)
    }

    fn lifetimes(&self, out: &mut Vec<TraceEvent>) {
        let mut start = vec![Duration::ZERO; self.tasks.len()];
        let mut end = vec![None; self.tasks.len()];
        for e in &self.events {
            match (e.kind, e.task) {
                (EventKind::Spawn(child), _) => start[child] = e.at,
                (EventKind::Exit(how), Some(t)) => end[t] = Some((e.at, how)),
                _ => {}
            }
        }
        let last = self.events.last().map_or(Duration::ZERO, |e| e.at);
        for (tid, name) in self.tasks.iter().enumerate() {
            let (stop, how) = end[tid].unwrap_or((last, "still alive"));
            out.push(TraceEvent {
                ph: "X",
                name: name.to_string(),
                pid: 1,
                tid,
                ts: Some(micros(start[tid])),
                dur: Some(micros(stop.saturating_sub(start[tid]))),
                args: Some(Args::End { end: how }),
                ..TraceEvent::default()
            });
        }
    }

    fn messages(&self, out: &mut Vec<TraceEvent>) {
        let mut pending: BTreeMap<usize, Vec<u64>> = BTreeMap::new();
        let mut taken: BTreeMap<usize, usize> = BTreeMap::new();
        let mut next_flow = 0u64;
        for e in &self.events {
            let tid = e.task.unwrap_or(0);
            let (verb, resource) = match e.kind {
                EventKind::Send(r) => ("send", r),
                EventKind::Recv(r) => ("recv", r),
                EventKind::Advance => {
                    out.push(TraceEvent {
                        s: Some("g"),
                        ..TraceEvent::instant(0, "clock advances".into(), e.at)
                    });
                    continue;
                }
                _ => continue,
            };
            let (kind, label) = &self.resources[resource];
            out.push(TraceEvent::instant(tid, format!("{verb} {label}"), e.at));
            if !matches!(*kind, "channel" | "oneshot") {
                continue;
            }
            let flow = match verb {
                "send" => {
                    next_flow += 1;
                    pending.entry(resource).or_default().push(next_flow);
                    Some(("s", next_flow))
                }
                _ => {
                    let k = taken.entry(resource).or_default();
                    let id = pending.get(&resource).and_then(|ids| ids.get(*k)).copied();
                    *k += 1;
                    id.map(|id| ("f", id))
                }
            };
            if let Some((ph, id)) = flow {
                out.push(TraceEvent {
                    ph,
                    bp: Some("e"),
                    cat: Some("message".into()),
                    id: Some(id),
                    s: None,
                    ..TraceEvent::instant(tid, label.to_string(), e.at)
                });
            }
        }
    }
}
