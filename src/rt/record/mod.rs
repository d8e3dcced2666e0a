//! A checked run as told by `tracing`: [`Recording::capture`] installs a subscriber for the
//! duration of a run and keeps every event at `DEBUG` or above, stamped with the run's
//! virtual clock and put on a track: under shuttle and loom, the task that runs (the sim
//! runtime tells, through a [`TaskSource`]); under turmoil, the host it happened on
//! (turmoil enters a `node` span named after the host while it runs that host's software;
//! events outside any host — network faults — go on the `network` track). A new execution
//! of a checker (shuttle runs several schedules per check) starts the recording afresh, so
//! it holds the last one. The result is an event log whose hash two runs of one seed must
//! share, and a Chrome trace-event file with one track per task or host.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::fmt::{self, Write as _};
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Level, Metadata, Subscriber};

mod anchor;
pub(crate) mod chrome;

use self::chrome::{Args, TraceEvent};

/// The target of the event that starts a new execution.
pub(crate) const EXECUTION: &str = "sigrelay::execution";

/// Which task runs now and the virtual time, as the sim runtime of this thread knows it.
type Polled = Box<dyn Fn() -> Option<(Arc<str>, Duration)>>;

thread_local! {
    static POLLED: RefCell<Option<Polled>> = const { RefCell::new(None) };
}

/// Names the running task and the virtual time to recordings on this thread while it lives:
/// the sim runtime sets one for each execution (shuttle and loom run every task of an
/// execution on the thread that started it).
pub(crate) struct TaskSource(Option<Polled>);

impl TaskSource {
    pub(crate) fn set(source: impl Fn() -> Option<(Arc<str>, Duration)> + 'static) -> Self {
        TaskSource(POLLED.with(|p| p.replace(Some(Box::new(source)))))
    }
}

impl Drop for TaskSource {
    fn drop(&mut self) {
        let outer = self.0.take();
        POLLED.with(|p| *p.borrow_mut() = outer);
    }
}

/// Tells a recording that a new execution starts: what it holds so far is dropped.
pub(crate) fn new_execution() {
    tracing::trace!(target: EXECUTION, "a new execution starts");
}

/// One recorded event.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Entry {
    at: Duration,
    track: String,
    level: Level,
    target: String,
    message: String,
    fields: String,
}

/// What a run said through `tracing`, in order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Recording {
    entries: Vec<Entry>,
}

#[derive(Default)]
struct State {
    /// The host name of each open span that is a turmoil `node` span, and the simulated
    /// time the span gives, if it does.
    hosts: BTreeMap<u64, (String, Option<Duration>)>,
    next_span: u64,
    /// Spans entered and not yet exited, innermost last.
    stack: Vec<u64>,
    entries: Vec<Entry>,
}

/// The subscriber behind [`Recording::capture`].
#[derive(Clone, Default)]
struct Recorder {
    state: Arc<Mutex<State>>,
}

impl Recording {
    /// Runs `run` with a recording subscriber as this thread's default, and returns its
    /// output with what it recorded: every event of the thread, whatever other threads do
    /// meanwhile (`record/anchor.rs` says how).
    pub fn capture<T>(run: impl FnOnce() -> T) -> (T, Recording) {
        anchor::hold();
        let recorder = Recorder::default();
        let output = tracing::subscriber::with_default(recorder.clone(), run);
        let mut state = recorder
            .state
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let entries = std::mem::take(&mut state.entries);
        (output, Recording { entries })
    }

    /// The events as lines: time, track, level, target, message and fields.
    pub fn lines(&self) -> Vec<String> {
        self.entries.iter().map(Entry::line).collect()
    }

    /// A hash of every event: two runs agree on it exactly when they recorded the same.
    pub fn hash(&self) -> u64 {
        let mut hasher = DefaultHasher::new();
        self.lines().hash(&mut hasher);
        hasher.finish()
    }

    /// The run in Chrome's trace-event JSON format, on simulated time: one track per host,
    /// an instant for each event.
    pub fn chrome_trace(&self) -> String {
        let mut tracks: Vec<&str> = self.entries.iter().map(|e| e.track.as_str()).collect();
        tracks.sort_unstable();
        tracks.dedup();
        let tid = |track: &str| tracks.binary_search(&track).unwrap_or(0);
        let mut events: Vec<TraceEvent> = (tracks.iter().enumerate())
            .map(|(tid, name)| TraceEvent::track(tid, name))
            .collect();
        events.extend(self.instants(tid));
        chrome::file(&events, false)
    }
}

impl Recording {
    /// Each event as a trace-event instant on the track `tid` gives its track's name.
    pub(crate) fn instants(&self, tid: impl Fn(&str) -> usize) -> Vec<TraceEvent> {
        let instant = |e: &Entry| TraceEvent {
            cat: Some(e.target.clone()),
            args: Some(Args::Said {
                level: e.level.to_string(),
                fields: e.fields.clone(),
            }),
            ..TraceEvent::instant(tid(&e.track), e.message.clone(), e.at)
        };
        self.entries.iter().map(instant).collect()
    }
}

impl Entry {
    fn line(&self) -> String {
        let Entry {
            at,
            track,
            level,
            target,
            message,
            fields,
        } = self;
        format!("{at:>12?} [{track}] {level} {target}: {message}{fields}")
    }
}

/// Collects an event's message and its other fields as ` key=value`.
#[derive(Default)]
struct Fields {
    message: String,
    rest: String,
    host: Option<String>,
    at: Option<Duration>,
}

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "name" {
            self.host = Some(value.to_string());
        }
        self.record_debug(field, &value);
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.record_debug(field, &value);
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        if field.name() == "at_ns" {
            self.at = Some(Duration::from_nanos(value));
        }
        self.record_debug(field, &value);
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.record_debug(field, &value);
    }

    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        match field.name() {
            "message" => self.message = value.to_string(),
            name => {
                let _ = write!(self.rest, " {name}={value}");
            }
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        match field.name() {
            "message" => self.message = format!("{value:?}"),
            name => {
                let _ = write!(self.rest, " {name}={value:?}");
            }
        }
    }
}

/// The track of events outside any task or host: the network's, under turmoil.
fn outside() -> String {
    #[cfg(feature = "rt-turmoil")]
    if ::turmoil::sim_elapsed().is_some() {
        return "network".to_string();
    }
    "harness".to_string()
}

/// Turmoil's clock, when inside a turmoil simulation.
fn sim_elapsed() -> Duration {
    #[cfg(feature = "rt-turmoil")]
    if let Some(at) = ::turmoil::sim_elapsed() {
        return at;
    }
    Duration::ZERO
}

impl Recorder {
    fn with<T>(&self, f: impl FnOnce(&mut State) -> T) -> T {
        f(&mut self.state.lock().unwrap_or_else(PoisonError::into_inner))
    }
}

impl Subscriber for Recorder {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        let target = metadata.target();
        let checker = ["shuttle", "loom", "turmoil", "tokio"];
        if checker.iter().any(|c| target.starts_with(c)) {
            return metadata.is_span();
        }
        metadata.is_span() || *metadata.level() <= Level::DEBUG || target == EXECUTION
    }

    fn new_span(&self, span: &Attributes<'_>) -> Id {
        let mut fields = Fields::default();
        if span.metadata().name() == "node" {
            span.record(&mut fields);
        }
        self.with(|state| {
            state.next_span += 1;
            let id = state.next_span;
            if let Some(host) = fields.host {
                state.hosts.insert(id, (host, fields.at));
            }
            Id::from_u64(id)
        })
    }

    fn record(&self, _: &Id, _: &Record<'_>) {}

    fn record_follows_from(&self, _: &Id, _: &Id) {}

    fn event(&self, event: &Event<'_>) {
        let meta = event.metadata();
        if meta.target() == EXECUTION {
            self.with(|state| state.entries.clear());
            return;
        }
        let mut fields = Fields::default();
        event.record(&mut fields);
        let polled = POLLED.with(|p| p.borrow().as_ref().and_then(|source| source()));
        self.with(|state| {
            let host = state.stack.iter().rev().find_map(|id| state.hosts.get(id));
            let (track, at) = match (polled, host) {
                (Some((task, at)), _) => (task.to_string(), at),
                (None, Some((host, at))) => (host.clone(), at.unwrap_or_else(sim_elapsed)),
                (None, None) => (outside(), sim_elapsed()),
            };
            state.entries.push(Entry {
                at,
                track,
                level: *meta.level(),
                target: meta.target().to_string(),
                message: fields.message,
                fields: fields.rest,
            });
        });
    }

    fn try_close(&self, span: Id) -> bool {
        self.with(|state| state.hosts.remove(&span.into_u64()));
        true
    }

    fn enter(&self, span: &Id) {
        self.with(|state| state.stack.push(span.into_u64()));
    }

    fn exit(&self, span: &Id) {
        self.with(|state| {
            if let Some(at) = state.stack.iter().rposition(|id| *id == span.into_u64()) {
                state.stack.remove(at);
            }
        });
    }
}
