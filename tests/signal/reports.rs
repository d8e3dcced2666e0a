//! What a user reads when something goes wrong: every ending, refusal and shutdown report
//! prints as a sentence naming the routine, where it started and why it ended, and the
//! counts by cause are exact.

use std::time::Duration;

use sigrelay::rt::prelude::*;
use sigrelay::signal::{
    Cancelled, EndingCounts, FailurePolicy, Fault, Group, SendStop, ShutdownPlan, Stage,
};

use super::starts::{drains, group, ignores_drain, ignores_everything};

const MS: Duration = Duration::from_millis(1);

async fn failing_cleanup() -> Result<(), String> {
    Err("cleanup broke".to_string())
}

pub async fn endings_and_reports_read_as_sentences<R: Runtime>(rt: R) {
    let g: Group<String, R> = Group::builder(rt.clone(), "g")
        .failure_policy(FailurePolicy::Isolate)
        .build();
    let failing = g.routine("failing").defer(failing_cleanup);
    failing
        .go(|_| async { Err(Fault::Error("broken".to_string())) })
        .await
        .unwrap();
    g.go("panicking", |_| async { panic!("boom") })
        .await
        .unwrap();
    let tidy = g.routine("tidy").defer(failing_cleanup);
    tidy.go(|_| async { Ok(()) }).await.unwrap();
    ignores_drain(&g, "patient").await;
    ignores_everything(&g, "stubborn").await;
    let report = g.shutdown(ShutdownPlan::new(10 * MS, 10 * MS)).await;
    assert_eq!(report.stage, Stage::Aborted);
    assert!(!report.is_clean(), "five routines did not end cleanly");
    let text = report.to_string();
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("shutdown ended at stage Aborted"));
    let mut told: Vec<&str> = lines.collect();
    told.sort();
    let expected = [
        (
            "failing",
            "failed: broken; deferred cleanup failed: cleanup broke",
        ),
        ("panicking", "panicked after 1 attempt(s): boom"),
        ("patient", "was cancelled"),
        ("stubborn", "was aborted"),
        ("tidy", "failed: cleanup broke"),
    ];
    assert_eq!(told.len(), expected.len(), "{text}");
    for (line, (name, why)) in told.iter().zip(expected) {
        let start = format!("  routine g/{name} (started at tests/signal/");
        assert!(
            line.starts_with(&start),
            "{line:?} does not start {start:?}"
        );
        assert!(
            line.ends_with(&format!(") {why}")),
            "{line:?} does not end {why:?}"
        );
    }
    let counts = EndingCounts {
        failed: 2,
        panicked: 1,
        cancelled: 1,
        aborted: 1,
        forgotten: 0,
    };
    assert_eq!(g.ending_counts().await, counts);

    let calm = Group::<String, R>::new(rt, "calm");
    drains(&calm, "fine").await;
    let report = calm.shutdown(ShutdownPlan::new(10 * MS, 10 * MS)).await;
    assert!(report.is_clean());
    assert_eq!(report.to_string(), "shutdown ended at stage Drained");
}

pub async fn refusals_read_as_sentences<R: Runtime>(rt: R) {
    let g = group(rt.clone());
    assert_eq!(g.path(), "g");
    assert_eq!(format!("{g:?}"), "Group { path: \"g\" }");
    let start = format!("{:?}", g.routine("r"));
    assert!(
        start.starts_with("Routine { name: \"r\", location: "),
        "{start}"
    );
    assert!(start.contains("reports.rs"), "{start}");
    ignores_drain(&g, "a").await;
    let refusals = [
        g.go("a", |_| async { Ok(()) }).await,
        g.go("x/y", |_| async { Ok(()) }).await,
        g.go_tick("ticker", Duration::ZERO, |_| async { Ok(()) })
            .await,
    ];
    let cancelled = group(rt.clone());
    cancelled.cancel().await;
    let closed = group(rt);
    closed.close().await;
    let refusals = refusals.into_iter().chain([
        cancelled.go("late", |_| async { Ok(()) }).await,
        closed.go("late", |_| async { Ok(()) }).await,
    ]);
    let told: Vec<String> = refusals.map(|r| r.unwrap_err().to_string()).collect();
    assert_eq!(
        told,
        [
            "a routine named g/a is already running",
            "invalid routine name \"x/y\": empty or contains '/'",
            "routine ticker cannot tick every 0 s",
            "cannot start g/late: the group was cancelled",
            "cannot start g/late: the group is closed",
        ]
    );
    let stops = [SendStop::Cancelled(1), SendStop::Closed(2)];
    let told: Vec<String> = stops.iter().map(|s| format!("{s:?}: {s}")).collect();
    assert_eq!(
        told,
        [
            "Cancelled(..): send abandoned: the routine was cancelled",
            "Closed(..): send failed: the receiver is gone",
        ]
    );
    assert_eq!(Cancelled.to_string(), "cancelled");
    g.cancel().await;
    assert!(g.wait().await.is_ok(), "a cancellation is not a failure");
}
