//! Tracing: one span per routine carrying its path, lifecycle events at debug level.

use std::fmt::Debug;
use std::sync::{Arc, Mutex};

use sigrelay::rt::Runtime;
use sigrelay::signal::{Fault, Group};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Level, Metadata, Subscriber};

/// What the capture saw: each span's name and path, and each event's level, message, path
/// and outcome. Events carry their routine's path themselves: under shuttle every task runs
/// on one thread, switching inside polls, so a thread's stack of entered spans does not say
/// which routine an event belongs to.
#[derive(Default)]
struct Seen {
    spans: Vec<(String, Option<String>)>,
    events: Vec<(Level, String, Option<String>, Option<String>)>,
}

#[derive(Default, Clone)]
struct Capture(Arc<Mutex<Seen>>);

#[derive(Default)]
struct Fields {
    path: Option<String>,
    message: Option<String>,
    outcome: Option<String>,
}

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "outcome" {
            self.outcome = Some(value.to_string());
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn Debug) {
        let text = format!("{value:?}");
        match field.name() {
            "path" => self.path = Some(text),
            "message" => self.message = Some(text),
            _ => {}
        }
    }
}

impl Subscriber for Capture {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }

    fn new_span(&self, attrs: &Attributes<'_>) -> Id {
        let mut fields = Fields::default();
        attrs.record(&mut fields);
        let mut seen = self.0.lock().unwrap();
        seen.spans
            .push((attrs.metadata().name().to_string(), fields.path));
        Id::from_u64(seen.spans.len() as u64)
    }

    fn record(&self, _: &Id, _: &Record<'_>) {}

    fn record_follows_from(&self, _: &Id, _: &Id) {}

    fn event(&self, event: &Event<'_>) {
        let mut fields = Fields::default();
        event.record(&mut fields);
        let mut seen = self.0.lock().unwrap();
        let message = fields.message.unwrap_or_default();
        seen.events.push((
            *event.metadata().level(),
            message,
            fields.path,
            fields.outcome,
        ));
    }

    fn enter(&self, _: &Id) {}

    fn exit(&self, _: &Id) {}
}

/// The capture of the test running now; tests of this binary take turns (see [`with_capture`]).
static CAPTURE: std::sync::LazyLock<Capture> = std::sync::LazyLock::new(Capture::default);
static TURN: Mutex<()> = Mutex::new(());

/// Runs `test` with the capture as the default subscriber, one test at a time: checkers run
/// their schedules on threads of their own, so the capture cannot be per test thread. It is
/// installed around the whole run rather than by the body: shuttle gives each task the
/// default dispatcher of the run, not the one a task installs.
pub fn with_capture(test: impl FnOnce()) {
    let _turn = TURN.lock().unwrap_or_else(|p| p.into_inner());
    let _default = tracing::subscriber::set_default(CAPTURE.clone());
    test();
}

pub async fn routines_trace_their_path_and_lifecycle<R: Runtime>(rt: R) {
    let capture = CAPTURE.clone();
    *capture.0.lock().unwrap() = Seen::default();
    let g = Group::<String, R>::new(rt, "g");
    g.go("worker", |_| async { Ok(()) }).await.unwrap();
    g.go("bad", |_| async { Err(Fault::Error("broken".to_string())) })
        .await
        .unwrap();
    assert!(g.wait().await.is_err());
    let (spans, events) = {
        let seen = capture.0.lock().unwrap();
        (seen.spans.clone(), seen.events.clone())
    };
    let routines: Vec<_> = spans.iter().filter(|(name, _)| name == "routine").collect();
    let paths: Vec<_> = routines.iter().filter_map(|(_, p)| p.as_deref()).collect();
    assert_eq!(
        paths,
        ["g/worker", "g/bad"],
        "one span per routine, carrying its path"
    );
    let lifecycle = |path: &str, message: &str| {
        let found = events
            .iter()
            .find(|(_, m, p, _)| m == message && p.as_deref() == Some(path));
        found
            .cloned()
            .unwrap_or_else(|| panic!("no {message:?} event for {path} in {events:?}"))
    };
    assert_eq!(lifecycle("g/worker", "routine started").0, Level::DEBUG);
    let ended = lifecycle("g/worker", "routine ended");
    assert_eq!(
        (ended.0, ended.3.as_deref()),
        (Level::DEBUG, Some("exited"))
    );
    assert_eq!(
        lifecycle("g/bad", "routine ended").3.as_deref(),
        Some("failed")
    );
}

/// A group dropped with nothing running closes quietly; one dropped while a routine runs
/// warns once, as it cancels the routine.
pub async fn an_abandoned_group_warns_only_if_routines_ran<R: Runtime>(rt: R) {
    let capture = CAPTURE.clone();
    *capture.0.lock().unwrap() = Seen::default();
    let warnings = || {
        let seen = capture.0.lock().unwrap();
        let warned = seen.events.iter().filter(|(level, message, _, _)| {
            *level == Level::WARN && message.contains("last handle was dropped")
        });
        warned.count()
    };
    drop(Group::<String, R>::new(rt.clone(), "empty"));
    assert_eq!(warnings(), 0, "nothing ran: nothing to warn of");
    let busy = Group::<String, R>::new(rt, "busy");
    busy.go("a", |ctx| async move {
        ctx.cancelled().await;
        Err(Fault::Cancelled)
    })
    .await
    .unwrap();
    let observer = busy.observer();
    drop(busy);
    observer.stopped().await;
    assert_eq!(warnings(), 1, "a routine ran and was cancelled");
}
