//! Tracing of task groups: one span per routine carrying its path, lifecycle events at debug
//! level, and a warning when a group is dropped with routines running — on tokio, shuttle
//! and turmoil.
//!
//! A binary of its own: shuttle decides which `tracing` dispatcher each task sees from
//! process-wide state ("does some thread have a scoped default?"), so a capture installed by
//! one test would race with the other tests of a shared binary.

// Not under loom: every loom task is a thread of its own, outside the test thread's
// scoped subscriber.
#[allow(dead_code)]
#[path = "../common/backends.rs"]
mod backends;
mod traces;

#[test]
fn tokio() {
    traces::with_capture(|| {
        backends::tokio(traces::routines_trace_their_path_and_lifecycle);
        backends::tokio(traces::an_abandoned_group_warns_only_if_routines_ran);
    });
}

#[test]
fn shuttle() {
    traces::with_capture(|| {
        backends::shuttle(traces::routines_trace_their_path_and_lifecycle);
        backends::shuttle(traces::an_abandoned_group_warns_only_if_routines_ran);
    });
}

#[test]
fn turmoil() {
    traces::with_capture(|| {
        backends::turmoil(traces::routines_trace_their_path_and_lifecycle);
        backends::turmoil(traces::an_abandoned_group_warns_only_if_routines_ran);
    });
}
