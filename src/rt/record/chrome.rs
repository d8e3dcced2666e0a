//! Chrome trace-event files, which Perfetto opens: one serde type for every event the
//! harness writes, and the file around them.

use std::time::Duration;

use serde::Serialize;

/// One trace event. `ph` says which kind: `M` metadata (a track's name), `X` a span, `i`
/// an instant, `s`/`f` the two ends of a flow arrow.
#[derive(Debug, Default, Serialize)]
pub(crate) struct TraceEvent {
    pub(crate) ph: &'static str,
    pub(crate) name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) cat: Option<String>,
    pub(crate) pid: u8,
    pub(crate) tid: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) ts: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) dur: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) id: Option<u64>,
    /// An instant's scope: `t` its track, `g` the whole trace.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) s: Option<&'static str>,
    /// A flow end's binding point.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) bp: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) args: Option<Args>,
}

/// What an event carries besides its name.
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub(crate) enum Args {
    /// A track's name.
    Track { name: String },
    /// How a task's life ended.
    End { end: &'static str },
    /// What a run said through `tracing`.
    Said { level: String, fields: String },
}

impl TraceEvent {
    /// The metadata event naming track `tid`.
    pub(crate) fn track(tid: usize, name: &str) -> Self {
        TraceEvent {
            ph: "M",
            name: "thread_name".into(),
            pid: 1,
            tid,
            args: Some(Args::Track { name: name.into() }),
            ..TraceEvent::default()
        }
    }

    /// An instant named `name` on track `tid` at `at`.
    pub(crate) fn instant(tid: usize, name: String, at: Duration) -> Self {
        TraceEvent {
            ph: "i",
            name,
            pid: 1,
            tid,
            ts: Some(micros(at)),
            s: Some("t"),
            ..TraceEvent::default()
        }
    }
}

/// `d` in microseconds, as the trace-event format's `ts` and `dur` want.
pub(crate) fn micros(d: Duration) -> f64 {
    d.as_nanos() as f64 / 1000.0
}

/// The trace-event file of `events`, one event per line; `ns` asks viewers to show
/// nanoseconds.
pub(crate) fn file(events: &[TraceEvent], ns: bool) -> String {
    let lines: Vec<String> = events
        .iter()
        .map(|e| serde_json::to_string(e).expect("a trace event serialises"))
        .collect();
    let unit = if ns {
        "\"displayTimeUnit\":\"ns\","
    } else {
        ""
    };
    format!("{{{unit}\"traceEvents\":[\n{}\n]}}\n", lines.join(",\n"))
}
