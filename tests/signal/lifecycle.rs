//! A group nobody shuts down leaks nothing: dropping the last owning handle cancels its
//! routines, nested ones included, while a clone or an observer alone keeps or cancels
//! nothing; and the record of endings stays bounded however many routines end.

use sigrelay::rt::prelude::*;
use sigrelay::signal::{Cause, EndingCounts, FailurePolicy, Fault, GoError, Group};

use super::starts::{group, ignores_drain};

pub async fn dropping_the_last_handle_cancels_the_routines<R: Runtime>(rt: R) {
    let g = group(rt);
    ignores_drain(&g, "a").await;
    g.go("parent", |ctx| async move {
        ignores_drain(ctx.scope(), "child").await;
        ctx.cancelled().await;
        Err(Fault::Cancelled)
    })
    .await
    .unwrap();
    let observer = g.observer();
    while observer.census().await.live.len() < 3 {
        observer.runtime().yield_now().await;
    }
    let clone = g.clone();
    drop(g);
    g_runs(&observer, 3).await;
    drop(clone);
    observer.stopped_or_empty().await;
    let census = observer.census().await;
    assert!(census.live.is_empty(), "left running: {:?}", census.live);
    let endings = observer.endings().await;
    assert!(endings.iter().all(|e| matches!(e.cause, Cause::Cancelled)));
    assert_eq!(endings.len(), 3, "a, parent and its child were cancelled");
    let late = observer.go("late", |_| async { Ok(()) }).await;
    assert_eq!(
        late,
        Err(GoError::Closed("g/late".into())),
        "nobody owns it"
    );
}

pub async fn an_abandoned_empty_group_closes<R: Runtime>(rt: R) {
    let g = group(rt);
    let observer = g.observer();
    drop(g);
    let late = observer.go("late", |_| async { Ok(()) }).await;
    assert_eq!(late, Err(GoError::Closed("g/late".into())));
    assert_eq!(observer.ending_counts().await, EndingCounts::default());
    assert!(observer.is_stopped().await);
}

/// Checks that the group still runs `n` routines a few scheduler turns later.
async fn g_runs<R: Runtime>(g: &Group<String, R>, n: usize) {
    for _ in 0..10 {
        g.runtime().yield_now().await;
    }
    let live = g.census().await.live.len();
    assert_eq!(live, n, "a live clone keeps the routines running");
}

trait StoppedOrEmpty {
    async fn stopped_or_empty(&self);
}

impl<R: Runtime> StoppedOrEmpty for Group<String, R> {
    /// Waits until no routine of the group runs, without closing it.
    async fn stopped_or_empty(&self) {
        while !self.census().await.live.is_empty() {
            self.runtime().yield_now().await;
        }
    }
}

pub async fn endings_are_bounded_and_counted<R: Runtime>(rt: R) {
    let g: Group<String, R> = Group::builder(rt, "g")
        .failure_policy(sigrelay::signal::FailurePolicy::Isolate)
        .endings_capacity(4)
        .build();
    for i in 0..10 {
        let fail = move |_| async move { Err(Fault::Error(format!("failure {i}"))) };
        g.go(&format!("r{i}"), fail).await.unwrap();
        while g.ending_counts().await.failed < i + 1 {
            g.runtime().yield_now().await;
        }
    }
    let first = g.wait().await.expect_err("routines failed");
    assert_eq!(first.path.as_ref(), "g/r0", "the first failure is kept");
    let kept: Vec<String> = g
        .endings()
        .await
        .iter()
        .map(|e| e.path.to_string())
        .collect();
    assert_eq!(kept, ["g/r6", "g/r7", "g/r8", "g/r9"], "the latest details");
    let counts = g.ending_counts().await;
    let expected = EndingCounts {
        failed: 10,
        forgotten: 6,
        ..EndingCounts::default()
    };
    assert_eq!(counts, expected);

    let counting = Group::<String, R>::builder(g.runtime().clone(), "counting")
        .endings_capacity(0)
        .build();
    counting
        .go("r", |_| async { Err(Fault::Error("lost".to_string())) })
        .await
        .unwrap();
    let first = counting
        .wait()
        .await
        .expect_err("the first failure is kept");
    assert_eq!(first.path.as_ref(), "counting/r");
    assert!(counting.endings().await.is_empty(), "no details kept");
    let expected = EndingCounts {
        failed: 1,
        forgotten: 1,
        ..EndingCounts::default()
    };
    assert_eq!(counting.ending_counts().await, expected);
}

/// A routine that runs one child in its scope, with `body`, and hands back what the scope's
/// `wait` returned.
async fn scope_result<R: Runtime>(g: &Group<String, R>, body: Result<(), Fault<String>>) -> bool {
    let (tx, rx) = g.runtime().oneshot("scope result");
    g.go("parent", move |ctx| async move {
        let child = move |_| async move { body };
        ctx.scope().go("child", child).await.unwrap();
        let _ = tx.send(ctx.scope().wait().await.is_ok());
        Ok(())
    })
    .await
    .unwrap();
    let ok = rx.await.expect("the parent reports");
    while !g.census().await.live.is_empty() {
        g.runtime().yield_now().await;
    }
    ok
}

pub async fn a_routine_scope_starts_with_a_clean_record<R: Runtime>(rt: R) {
    let g: Group<String, R> = Group::builder(rt, "g")
        .failure_policy(FailurePolicy::Isolate)
        .build();
    let failed = Err(Fault::Error("broken".to_string()));
    assert!(!scope_result(&g, failed).await, "the child failed");
    assert!(
        scope_result(&g, Ok(())).await,
        "a new routine of the same name has a new scope: the old failure went with the old one"
    );
}
