//! Signal scenarios: shutdown ordering of a random tree of routines, and the bodies that
//! catch the Go original's task-group bugs (B7, B8, B9) when they are reintroduced.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use sigrelay::bugs::Bugs;
use sigrelay::rt::prelude::*;
use sigrelay::signal::{Cause, FailurePolicy, Fault, Group, Restart, ShutdownPlan, Stage};

const MS: Duration = Duration::from_millis(1);

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// How one routine of the shutdown scenario behaves, drawn from the seed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Drains,
    SlowDrain(u64),
    IgnoresDrain,
    IgnoresCancel,
    ParentOfStuck,
}

/// What the report must say of a routine of this kind with drain deadline `drain` (ms).
fn expected(kind: Kind, drain: u64) -> Vec<(&'static str, &'static str)> {
    match kind {
        Kind::Drains => vec![],
        Kind::SlowDrain(t) if t < drain => vec![],
        Kind::SlowDrain(_) | Kind::IgnoresDrain => vec![("", "cancelled")],
        Kind::IgnoresCancel => vec![("", "aborted")],
        Kind::ParentOfStuck => vec![("", "aborted"), ("/stuck", "aborted")],
    }
}

/// Six routines of random kinds and a random plan: the report names exactly the routines
/// that had to be cancelled or aborted, the stage is the last one needed, and nothing runs
/// afterwards.
pub async fn shutdown_order<R: Runtime>(rt: R, bugs: Bugs) {
    let mut rng = rt.rng();
    let group = Group::<String, R>::builder(rt.clone(), "node")
        .bugs(bugs)
        .build();
    let kinds = [
        Kind::Drains,
        Kind::SlowDrain(5),
        Kind::SlowDrain(25),
        Kind::IgnoresDrain,
    ];
    let mut want = Vec::new();
    let drain = [10, 20, 30][rng.below(3) as usize];
    for i in 0..6 {
        let kind = match rng.below(12) {
            0 => Kind::IgnoresCancel,
            1 => Kind::ParentOfStuck,
            n => kinds[n as usize % kinds.len()],
        };
        let name = format!("r{i}");
        let outcomes = expected(kind, drain);
        want.extend(
            outcomes
                .iter()
                .map(|(suffix, what)| (format!("node/{name}{suffix}"), *what)),
        );
        start(&group, &name, kind).await;
    }
    rt.sleep(MS).await;
    let report = group.shutdown(ShutdownPlan::new(ms(drain), 10 * MS)).await;
    let mut got: Vec<_> = report
        .routines
        .iter()
        .map(|r| (r.path.to_string(), r.cause.label()))
        .collect();
    got.sort();
    want.sort();
    assert_eq!(got, want, "{report}");
    let stage = if want.iter().any(|(_, w)| *w == "aborted") {
        Stage::Aborted
    } else if want.is_empty() {
        Stage::Drained
    } else {
        Stage::Cancelled
    };
    assert_eq!(report.stage, stage, "{report}");
    assert!(
        group.census().await.live.is_empty(),
        "nothing is left running"
    );
}

async fn start<R: Runtime>(group: &Group<String, R>, name: &str, kind: Kind) {
    let started = group.go(name, move |ctx| async move {
        match kind {
            Kind::Drains => ctx.drained().await,
            Kind::SlowDrain(t) => {
                ctx.drained().await;
                sigrelay::select! {
                    () = ctx.cancelled() => return Err(Fault::Cancelled),
                    () = ctx.runtime().sleep(ms(t)) => {}
                }
            }
            Kind::IgnoresDrain => {
                ctx.cancelled().await;
                return Err(Fault::Cancelled);
            }
            Kind::IgnoresCancel => std::future::pending().await,
            Kind::ParentOfStuck => {
                let stuck = ctx.scope().go("stuck", |_| std::future::pending());
                stuck.await.expect("the scope is open");
                ctx.drained().await;
            }
        }
        Ok(())
    });
    started.await.expect("the group is open");
}

/// One routine fails at the moment the group is cancelled, while three siblings wait for
/// the cancel: `wait` must return the failure, never a sibling's cancellation, whichever is
/// recorded first (B7).
pub async fn first_failure<R: Runtime>(rt: R, bugs: Bugs) {
    let group = Group::<String, R>::builder(rt.clone(), "job")
        .bugs(bugs)
        .build();
    for i in 0..3 {
        let patient = group.go(&format!("patient-{i}"), |ctx| async move {
            ctx.cancelled().await;
            Err(Fault::Cancelled)
        });
        patient.await.expect("the group is open");
    }
    let failing = group.go("failing", |ctx| async move {
        ctx.runtime().sleep(10 * MS).await;
        Err(Fault::Error("disk full".to_string()))
    });
    failing.await.expect("the group is open");
    rt.sleep(10 * MS).await;
    group.cancel().await;
    let failure = group.wait().await.expect_err("a routine failed");
    assert_eq!(
        &*failure.path, "job/failing",
        "the real failure is returned: {failure}"
    );
}

/// A routine that always panics restarts with backoff until a cancel at a random moment:
/// whatever the moment, it ends with its panic (B8).
pub async fn restart_under_cancel<R: Runtime>(rt: R, bugs: Bugs) {
    let group = Group::<String, R>::builder(rt.clone(), "job")
        .failure_policy(FailurePolicy::Isolate)
        .bugs(bugs)
        .build();
    let restart = Restart::new(8, 10 * MS);
    let flaky = group
        .routine("flaky")
        .go_restartable(restart, |_| async { panic!("corrupt frame") });
    flaky.await.expect("the group is open");
    rt.sleep(ms(rt.rng().below(400))).await;
    group.cancel().await;
    let failure = group.wait().await.expect_err("the panic is the result");
    assert!(matches!(failure.cause, Cause::Panicked { .. }), "{failure}");
}

/// A restartable routine that returns normally runs exactly once (B9).
pub async fn restart_after_return<R: Runtime>(rt: R, bugs: Bugs) {
    let group = Group::<String, R>::builder(rt.clone(), "job")
        .bugs(bugs)
        .build();
    let runs = Arc::new(AtomicU32::new(0));
    let counter = Arc::clone(&runs);
    let restart = Restart::new(3, MS);
    let once = group.routine("once").go_restartable(restart, move |_| {
        counter.fetch_add(1, Ordering::Relaxed);
        async { Ok(()) }
    });
    once.await.expect("the group is open");
    group.wait().await.expect("the routine returns Ok");
    assert_eq!(
        runs.load(Ordering::Relaxed),
        1,
        "a normal return is never restarted"
    );
}
