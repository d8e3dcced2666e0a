//! Shutdown stages and reports, the census, and the exact stopped state.

use std::time::Duration;

use sigrelay::rt::prelude::*;
use sigrelay::signal::{Group, RoutineState, ShutdownPlan, ShutdownReport, Stage};

use super::starts::{drains, fails, group, held, ignores_drain, ignores_everything};

const MS: Duration = Duration::from_millis(1);

fn plan() -> ShutdownPlan {
    ShutdownPlan::new(50 * MS, 30 * MS)
}

pub async fn shutdown_drains_cooperative_routines<R: Runtime>(rt: R) {
    let g = group(rt.clone());
    drains(&g, "a").await;
    drains(&g, "b").await;
    let start = rt.now();
    let report = g.shutdown(plan()).await;
    assert_eq!(report.stage, Stage::Drained);
    assert!(report.is_clean(), "{report}");
    assert!(rt.now().saturating_duration_since(start) < 50 * MS);
    assert!(g.is_stopped().await);
}

pub async fn shutdown_cancels_then_aborts<R: Runtime>(rt: R) {
    let g = group(rt.clone());
    drains(&g, "polite").await;
    ignores_drain(&g, "stubborn").await;
    ignores_everything(&g, "stuck").await;
    let start = rt.now();
    let report = g.shutdown(plan()).await;
    assert_eq!(report.stage, Stage::Aborted);
    assert_eq!(rt.now().saturating_duration_since(start), 80 * MS);
    let named = in_order(&report);
    assert_eq!(
        named,
        [
            ("g/stubborn".into(), "cancelled"),
            ("g/stuck".into(), "aborted")
        ]
    );
    assert!(report
        .routines
        .iter()
        .all(|r| r.location.file().ends_with("starts.rs")));
    let census = g.census().await;
    assert!(census.live.is_empty());
    assert_eq!(
        census.get("g/stuck").unwrap().state,
        RoutineState::Cancelled
    );
    assert!(g.is_stopped().await);
    assert!(
        g.wait().await.is_ok(),
        "cancellations and aborts are not failures"
    );
}

pub async fn shutdown_aborts_nested_routines<R: Runtime>(rt: R) {
    let g = group(rt);
    g.go("parent", |ctx| async move {
        ignores_everything(ctx.scope(), "child").await;
        ctx.drained().await;
        Ok(())
    })
    .await
    .unwrap();
    let report = g.shutdown(plan()).await;
    assert_eq!(report.stage, Stage::Aborted);
    let named = named(&report);
    assert_eq!(
        named,
        [
            ("g/parent".into(), "aborted"),
            ("g/parent/child".into(), "aborted")
        ]
    );
    assert!(g.census().await.live.is_empty());
}

pub async fn an_abort_spares_the_groups_around<R: Runtime>(rt: R) {
    let g = group(rt);
    let (tx, rx) = g.runtime().oneshot::<Stage>("stage");
    g.go("a", |ctx| async move {
        ignores_everything(ctx.scope(), "stuck").await;
        let _ = tx.send(ctx.scope().shutdown(plan()).await.stage);
        ctx.drained().await;
        Ok(())
    })
    .await
    .unwrap();
    assert_eq!(rx.await.ok(), Some(Stage::Aborted));
    drains(&g, "after").await;
    assert_eq!(g.census().await.live.len(), 2, "a and after still run");
    let report = g.shutdown(plan()).await;
    assert_eq!(report.stage, Stage::Drained);
    assert_eq!(named(&report), [("g/a/stuck".into(), "aborted")]);
}

pub async fn shutdown_reports_failures<R: Runtime>(rt: R) {
    let g = Group::<String, R>::builder(rt, "g")
        .failure_policy(sigrelay::signal::FailurePolicy::Isolate)
        .build();
    fails(&g, "failing").await;
    g.go("panicking", |_| async { panic!("boom") })
        .await
        .unwrap();
    drains(&g, "fine").await;
    let report = g.shutdown(plan()).await;
    assert_eq!(report.stage, Stage::Drained);
    let named = named(&report);
    assert_eq!(
        named,
        [
            ("g/failing".into(), "failed"),
            ("g/panicking".into(), "panicked")
        ]
    );
}

pub async fn stopped_means_closed_and_empty<R: Runtime>(rt: R) {
    let g = group(rt.clone());
    let tx = held(&g, "a").await;
    let watched = g.observer();
    let watcher = rt.spawn("watcher", async move {
        watched.stopped().await;
        watched.is_stopped().await
    });
    assert!(!g.is_stopped().await);
    tx.send(()).unwrap();
    while !g.census().await.live.is_empty() {
        rt.yield_now().await;
    }
    assert!(!g.is_stopped().await, "empty but open: not stopped");
    g.close().await;
    assert!(g.is_stopped().await);
    g.stopped().await;
    assert_eq!(
        watcher.await.ok(),
        Some(true),
        "stopped returned before the group was"
    );
}

pub async fn census_tracks_states_in_a_bounded_ring<R: Runtime>(rt: R) {
    let g = Group::<String, R>::builder(rt.clone(), "g")
        .finished_capacity(2)
        .build();
    drains(&g, "runner").await;
    let first = g.census().await.get("g/runner").unwrap().state;
    assert!(
        matches!(first, RoutineState::Starting | RoutineState::Running),
        "{first:?}"
    );
    while g.census().await.get("g/runner").unwrap().state == RoutineState::Starting {
        rt.yield_now().await;
    }
    assert_eq!(
        g.census().await.get("g/runner").unwrap().state,
        RoutineState::Running
    );
    for name in ["one", "two", "three"] {
        g.go(name, |_| async { Ok(()) }).await.unwrap();
    }
    while g.census().await.live.len() > 1 {
        rt.yield_now().await;
    }
    let finished = g.census().await.finished;
    assert_eq!(finished.len(), 2, "the ring keeps the last two");
    g.drain().await;
    let runner = g.census().await;
    let state = runner.get("g/runner").unwrap().state;
    assert!(
        matches!(state, RoutineState::Stopping | RoutineState::Exited),
        "{state:?}"
    );
    assert!(g.wait().await.is_ok());
}

/// The path and cause of every routine in the report, sorted by path.
fn named<E>(report: &ShutdownReport<E>) -> Vec<(String, &'static str)> {
    let mut named = in_order(report);
    named.sort();
    named
}

/// The path and cause of every routine in the report, in the order they ended.
fn in_order<E>(report: &ShutdownReport<E>) -> Vec<(String, &'static str)> {
    let each = report.routines.iter();
    each.map(|r| (r.path.to_string(), r.cause.label()))
        .collect()
}
