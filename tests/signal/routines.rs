//! Routines: start, names and paths, nesting, cleanups, failures, panics and restarts.

use std::sync::Arc;
use std::time::Duration;

use sigrelay::rt::prelude::*;
use sigrelay::signal::{Cause, FailurePolicy, Fault, GoError, Group, Restart, RoutineState};

use super::starts::{drains, fails, group, held, ignores_drain};

const MS: Duration = Duration::from_millis(1);

fn panicked_with<E>(cause: &Cause<E>) -> (&str, u32) {
    match cause {
        Cause::Panicked { message, attempts } => (message, *attempts),
        other => panic!("expected a panic, got {}", other.label()),
    }
}

fn failed_with<E: std::fmt::Display>(cause: &Cause<E>) -> String {
    match cause {
        Cause::Failed(e) => e.to_string(),
        other => panic!("expected a failure, got {}", other.label()),
    }
}

pub async fn routines_run_and_wait_closes<R: Runtime>(rt: R) {
    let g = group(rt);
    g.go("a", |_| async { Ok(()) }).await.unwrap();
    g.go("b", |_| async { Ok(()) }).await.unwrap();
    assert!(!g.is_stopped().await, "not closed yet");
    assert!(g.wait().await.is_ok());
    assert!(g.is_stopped().await);
    let census = g.census().await;
    assert!(census.live.is_empty());
    let mut paths: Vec<_> = census.finished.iter().map(|r| r.path.to_string()).collect();
    paths.sort();
    assert_eq!(paths, ["g/a", "g/b"]);
    assert!(census
        .finished
        .iter()
        .all(|r| r.state == RoutineState::Exited));
    let late = g.go("late", |_| async { Ok(()) }).await;
    assert_eq!(late, Err(GoError::Closed("g/late".into())));
}

pub async fn names_are_unique_and_valid<R: Runtime>(rt: R) {
    let g = group(rt.clone());
    let tx = held(&g, "a").await;
    let dup = g.go("a", |_| async { Ok(()) }).await;
    assert_eq!(dup, Err(GoError::DuplicateName("g/a".into())));
    for bad in ["", "x/y"] {
        let refused = g.go(bad, |_| async { Ok(()) }).await;
        assert_eq!(refused, Err(GoError::InvalidName(bad.to_string())));
    }
    tx.send(()).unwrap();
    while g
        .census()
        .await
        .get("g/a")
        .is_some_and(|r| !r.state.is_finished())
    {
        rt.sleep(MS).await;
    }
    g.go("a", |_| async { Ok(()) })
        .await
        .expect("the name is free again");
    assert!(g.wait().await.is_ok());
}

pub async fn nested_routines_have_paths_and_end_first<R: Runtime>(rt: R) {
    let g = group(rt.clone());
    let (tx, rx) = rt.oneshot::<()>("release");
    g.go("relay", |ctx| async move {
        let child = ctx.scope().go("tapper", |_| async move {
            let _ = rx.await;
            Ok(())
        });
        child.await.expect("the scope is open");
        Ok(())
    })
    .await
    .unwrap();
    while g.census().await.get("g/relay/tapper").is_none() {
        rt.yield_now().await;
    }
    rt.sleep(MS).await;
    let census = g.census().await;
    assert_eq!(census.get("g/relay").unwrap().state, RoutineState::Stopping);
    assert_eq!(
        census.get("g/relay/tapper").unwrap().state,
        RoutineState::Running
    );
    tx.send(()).unwrap();
    assert!(g.wait().await.is_ok());
    let order: Vec<_> = g
        .census()
        .await
        .finished
        .iter()
        .map(|r| r.path.to_string())
        .collect();
    assert_eq!(order, ["g/relay/tapper", "g/relay"]);
}

pub async fn cleanups_run_lifo_and_join_errors<R: Runtime>(rt: R) {
    let g = group(rt.clone());
    let log = Arc::new(rt.mutex("log", Vec::new()));
    let (first, second) = (Arc::clone(&log), Arc::clone(&log));
    let started = g.routine("worker").on_failure(FailurePolicy::Isolate);
    let started = started.defer(move || async move {
        first.lock().await.push(1);
        Err("first cleanup".to_string())
    });
    let started = started.defer(move || async move {
        second.lock().await.push(2);
        Err("second cleanup".to_string())
    });
    started
        .go(|_| async { Err(Fault::Error("body".to_string())) })
        .await
        .unwrap();
    let failure = g.wait().await.expect_err("the routine failed");
    assert_eq!(*log.lock().await, [2, 1]);
    assert_eq!(failed_with(&failure.cause), "body");
    let deferred: Vec<_> = failure.deferred.iter().map(|e| e.to_string()).collect();
    assert_eq!(deferred, ["second cleanup", "first cleanup"]);
}

pub async fn failure_cancels_the_group<R: Runtime>(rt: R) {
    let g = group(rt.clone());
    ignores_drain(&g, "patient").await;
    fails(&g, "failing").await;
    let failure = g.wait().await.expect_err("a routine failed");
    assert_eq!(&*failure.path, "g/failing");
    assert_eq!(failed_with(&failure.cause), "broken");
    let endings = g.endings().await;
    let patient = endings
        .iter()
        .find(|e| &*e.path == "g/patient")
        .expect("recorded");
    assert!(matches!(patient.cause, Cause::Cancelled));
    assert_eq!(g.failures().await.len(), 1);
}

pub async fn isolated_failure_spares_siblings<R: Runtime>(rt: R) {
    let g = Group::<String, R>::builder(rt.clone(), "g")
        .failure_policy(FailurePolicy::Isolate)
        .build();
    drains(&g, "steady").await;
    fails(&g, "failing").await;
    while g.failures().await.is_empty() {
        rt.yield_now().await;
    }
    let steady = g.census().await.get("g/steady").unwrap().state;
    assert!(
        matches!(steady, RoutineState::Starting | RoutineState::Running),
        "{steady:?}"
    );
    g.drain().await;
    assert_eq!(&*g.wait().await.expect_err("failed").path, "g/failing");
    let failing = g
        .census()
        .await
        .get("g/failing")
        .cloned()
        .expect("in the ring");
    assert_eq!(
        (failing.state, failing.reason.as_deref()),
        (RoutineState::Failed, Some("broken"))
    );
    assert_eq!(
        g.census().await.get("g/steady").unwrap().state,
        RoutineState::Exited
    );
}

pub async fn panics_become_errors<R: Runtime>(rt: R) {
    let g = group(rt);
    let here = line!();
    g.go("p", |_| async { panic!("boom") }).await.unwrap();
    let failure = g.wait().await.expect_err("the routine panicked");
    assert_eq!(&*failure.path, "g/p");
    assert_eq!(failure.location.line(), here + 1);
    assert!(failure.location.file().ends_with("routines.rs"));
    assert_eq!(panicked_with(&failure.cause), ("boom", 1));
    let census = g.census().await;
    assert_eq!(census.get("g/p").unwrap().state, RoutineState::Panicked);
    assert_eq!(
        census.get("g/p").unwrap().reason.as_deref(),
        Some("panicked: boom")
    );
}

pub async fn restarts_follow_panics_only<R: Runtime>(rt: R) {
    let g = group(rt.clone());
    let runs = Arc::new(rt.mutex("runs", 0u32));
    let counter = Arc::clone(&runs);
    let restart = Restart::new(5, 10 * MS);
    let start = rt.now();
    g.routine("flaky")
        .go_restartable(restart, move |_| {
            let counter = Arc::clone(&counter);
            async move {
                let attempt = {
                    let mut runs = counter.lock().await;
                    *runs += 1;
                    *runs
                };
                assert!(attempt >= 3, "attempt {attempt} fails");
                Ok(())
            }
        })
        .await
        .unwrap();
    assert!(g.wait().await.is_ok());
    assert_eq!(*runs.lock().await, 3);
    assert!(
        rt.now().saturating_duration_since(start) >= 30 * MS,
        "backoff 10 ms then 20 ms"
    );

    let g = group(rt.clone());
    let once = Arc::new(rt.mutex("once", 0u32));
    let counter = Arc::clone(&once);
    g.routine("steady")
        .go_restartable(restart, move |_| {
            let counter = Arc::clone(&counter);
            async move {
                *counter.lock().await += 1;
                Ok(())
            }
        })
        .await
        .unwrap();
    assert!(g.wait().await.is_ok());
    assert_eq!(*once.lock().await, 1, "a normal return is never restarted");
}

pub async fn cancel_during_backoff_reports_the_panic<R: Runtime>(rt: R) {
    let g = group(rt.clone());
    let restart = Restart::new(10, 100 * MS);
    g.routine("doomed")
        .go_restartable(restart, |_| async { panic!("always") })
        .await
        .unwrap();
    rt.sleep(150 * MS).await;
    g.cancel().await;
    let failure = g.wait().await.expect_err("the panic is the result");
    assert_eq!(panicked_with(&failure.cause), ("always", 2));
}

pub async fn cancelled_group_refuses_routines<R: Runtime>(rt: R) {
    let g = group(rt);
    g.cancel().await;
    let refused = g.go("late", |_| async { Ok(()) }).await;
    assert_eq!(refused, Err(GoError::Cancelled("g/late".into())));
    assert!(g.wait().await.is_ok());
}
