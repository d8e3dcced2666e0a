//! What a routine and an observer see: a routine's context tells its path and which signals
//! reached it; a census prints one line per routine with its state, reason and start site.

use sigrelay::rt::prelude::*;
use sigrelay::signal::{Census, Context, FailurePolicy, Fault, Group, RoutineState};

use super::starts::{fails, group, ignores_drain};

/// What a routine saw of its context at one moment.
type Seen = (String, String, bool, bool);

fn seen<R: Runtime>(ctx: &Context<String, R>) -> Seen {
    let signals = (ctx.is_draining(), ctx.is_cancelled());
    (
        ctx.path().to_string(),
        format!("{ctx:?}"),
        signals.0,
        signals.1,
    )
}

pub async fn contexts_tell_their_path_and_signals<R: Runtime>(rt: R) {
    let g = group(rt.clone());
    let (tx, mut rx) = rt.channel::<Seen>("seen", 8);
    g.go("worker", move |ctx| async move {
        let child_tx = tx.clone();
        ctx.scope()
            .go("child", move |child| async move {
                let _ = child_tx.send(seen(&child)).await;
                child.cancelled().await;
                Err(Fault::Cancelled)
            })
            .await
            .expect("the scope is open");
        let _ = tx.send(seen(&ctx)).await;
        ctx.drained().await;
        let _ = tx.send(seen(&ctx)).await;
        ctx.cancelled().await;
        let _ = tx.send(seen(&ctx)).await;
        Err(Fault::Cancelled)
    })
    .await
    .expect("the group is open");
    let mut first = [rx.recv().await.unwrap(), rx.recv().await.unwrap()];
    first.sort();
    let [worker, child] = first;
    assert_eq!(&child.0, "g/worker/child");
    assert!(child.1.contains("g/worker/child"), "{}", child.1);
    assert_eq!((child.2, child.3), (false, false), "no signal yet");
    assert_eq!(&worker.0, "g/worker");
    assert!(worker.1.starts_with("Context") && worker.1.contains("\"g/worker\""));
    assert_eq!((worker.2, worker.3), (false, false), "no signal yet");
    g.drain().await;
    let drained = rx.recv().await.unwrap();
    assert_eq!(
        (drained.2, drained.3),
        (true, false),
        "drained, not cancelled"
    );
    g.cancel().await;
    let cancelled = rx.recv().await.unwrap();
    assert_eq!(
        (cancelled.2, cancelled.3),
        (true, true),
        "a cancel implies a drain"
    );
    drop(g.wait().await);
}

pub async fn a_census_prints_every_routine<R: Runtime>(rt: R) {
    let g: Group<String, R> = Group::builder(rt.clone(), "g")
        .failure_policy(FailurePolicy::Isolate)
        .build();
    ignores_drain(&g, "waiting").await;
    fails(&g, "broken").await;
    let settled = |c: &Census| c.live.len() == 1 && c.live[0].state == RoutineState::Running;
    while !settled(&g.census().await) {
        rt.yield_now().await;
    }
    let census = g.census().await;
    let printed = census.to_string();
    let lines: Vec<&str> = printed.lines().collect();
    assert_eq!(lines.len(), 2, "one line per routine:\n{printed}");
    let waiting = census.get("g/waiting").expect("live");
    assert!(
        lines[0].starts_with("g/waiting") && lines[0].contains("Running"),
        "{printed}"
    );
    assert!(
        lines[0].ends_with(&format!("  ({})", waiting.location)),
        "{}",
        lines[0]
    );
    let broken = census.get("g/broken").expect("finished");
    assert_eq!(broken.state, RoutineState::Failed);
    assert!(lines[1].starts_with("g/broken") && lines[1].contains("Failed: "));
    let reason = broken.reason.as_deref().expect("a failure has a reason");
    assert!(
        lines[1].contains(reason) && reason.contains("broken"),
        "{}",
        lines[1]
    );
    assert!(lines[1].contains(&broken.location.to_string()));
    g.cancel().await;
    drop(g.wait().await);
}
