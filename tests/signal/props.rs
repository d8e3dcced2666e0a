//! Property: for random trees of routines and random shutdown plans, run under shuttle with
//! several schedules, the shutdown report is exactly what a reference model predicts, `wait`
//! returns the first real failure, and nothing is left running.
//!
//! Every timed event of the tree happens at a distinct virtual millisecond, and deadlines
//! never coincide with a routine's own timer, so the model's prediction does not depend on
//! the schedule: any difference is a bug of the group, not of the model.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use proptest::prelude::*;
use proptest::test_runner::FileFailurePersistence;
use sigrelay::check::{ShuttleCheck, Strategy as Schedules};
use sigrelay::rt::prelude::*;
use sigrelay::rt::Shuttle;
use sigrelay::signal::{Cause, FailurePolicy, Fault, Group, ShutdownPlan, Stage};

/// When the shutdown starts, after every timed behaviour.
const SHUTDOWN_AT: u64 = 100;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

#[derive(Debug, Clone)]
enum Behaviour {
    /// Returns `Ok` at its own millisecond, whatever it is told.
    Finish,
    /// Fails at its own millisecond.
    Fail,
    /// Panics at its own millisecond.
    Panic,
    /// Returns `Ok` when told to drain.
    Drains,
    /// Takes this many ms to finish after the drain; gives up on cancel.
    SlowDrain(u64),
    /// Returns cancelled when told to cancel; ignores the drain.
    IgnoresDrain,
    /// Ignores every signal: only an abort stops it.
    IgnoresCancel,
    /// Starts these children, then returns `Ok` when told to drain.
    Parent(Vec<Node>),
}

#[derive(Debug, Clone)]
struct Node {
    behaviour: Behaviour,
    /// Its own millisecond: unique in the tree.
    at: u64,
}

#[derive(Debug, Clone)]
struct Case {
    roots: Vec<Node>,
    policy: FailurePolicy,
    plan: ShutdownPlan,
}

fn behaviour() -> impl Strategy<Value = Behaviour> {
    let leaf = prop_oneof![
        Just(Behaviour::Finish),
        Just(Behaviour::Fail),
        Just(Behaviour::Panic),
        Just(Behaviour::Drains),
        prop::sample::select(vec![5u64, 15, 25, 35]).prop_map(Behaviour::SlowDrain),
        Just(Behaviour::IgnoresDrain),
        Just(Behaviour::IgnoresCancel),
    ];
    leaf.prop_recursive(2, 12, 3, |inner| {
        prop::collection::vec(inner, 1..4).prop_map(|children| {
            Behaviour::Parent(
                children
                    .into_iter()
                    .map(|b| Node {
                        behaviour: b,
                        at: 0,
                    })
                    .collect(),
            )
        })
    })
}

fn case() -> impl Strategy<Value = Case> {
    let roots = prop::collection::vec(behaviour(), 1..5);
    let policy = prop_oneof![
        Just(FailurePolicy::Isolate),
        Just(FailurePolicy::CancelGroup)
    ];
    let drain = prop::sample::select(vec![10u64, 20, 30, 40]);
    let cancel = prop::sample::select(vec![10u64, 20]);
    (roots, policy, drain, cancel).prop_map(|(roots, policy, drain, cancel)| {
        let mut next = 1;
        let roots = roots
            .into_iter()
            .map(|b| {
                number(
                    Node {
                        behaviour: b,
                        at: 0,
                    },
                    &mut next,
                )
            })
            .collect();
        let plan = ShutdownPlan::new(ms(drain), ms(cancel));
        Case {
            roots,
            policy,
            plan,
        }
    })
}

/// Gives every node its own millisecond, in pre-order.
fn number(mut node: Node, next: &mut u64) -> Node {
    node.at = *next;
    *next += 1;
    if let Behaviour::Parent(children) = node.behaviour {
        let children = children.into_iter().map(|c| number(c, next)).collect();
        node.behaviour = Behaviour::Parent(children);
    }
    node
}

/// How the model says a routine ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    Failed,
    Panicked,
    Cancelled,
    Aborted,
}

struct Prediction {
    stage: Stage,
    endings: BTreeMap<String, Kind>,
    first_failure: Option<String>,
}

/// The model: exit times with the group's cancel time `cancel` (ms, `u64::MAX` = never).
struct Model {
    policy: FailurePolicy,
    endings: BTreeMap<String, Kind>,
}

impl Model {
    /// Returns the node's exit time (`u64::MAX` = never).
    fn exit(&mut self, path: &str, node: &Node, cancel: u64) -> u64 {
        let drain = SHUTDOWN_AT.min(cancel);
        let (exit, kind) = match &node.behaviour {
            Behaviour::Finish => (node.at, None),
            Behaviour::Fail => (node.at, Some(Kind::Failed)),
            Behaviour::Panic => (node.at, Some(Kind::Panicked)),
            Behaviour::Drains => (drain, None),
            Behaviour::SlowDrain(t) => ((SHUTDOWN_AT + t).min(cancel), None),
            Behaviour::IgnoresDrain => (cancel, None),
            Behaviour::IgnoresCancel => (u64::MAX, None),
            Behaviour::Parent(children) => {
                let scope_cancel = cancel.min(self.failures_cancel(children));
                let ends = children
                    .iter()
                    .enumerate()
                    .map(|(i, c)| self.exit(&format!("{path}/r{i}"), c, scope_cancel));
                (ends.fold(drain, u64::max), None)
            }
        };
        let kind = kind.or(if exit == u64::MAX {
            Some(Kind::Aborted)
        } else if cancel <= exit {
            Some(Kind::Cancelled)
        } else {
            None
        });
        kind.map(|k| self.endings.insert(path.to_string(), k));
        exit
    }

    /// When failing children cancel the group they live in.
    fn failures_cancel(&self, nodes: &[Node]) -> u64 {
        if self.policy == FailurePolicy::Isolate {
            return u64::MAX;
        }
        let failing = nodes
            .iter()
            .filter(|n| matches!(n.behaviour, Behaviour::Fail | Behaviour::Panic));
        failing.map(|n| n.at).min().unwrap_or(u64::MAX)
    }

    fn run(policy: FailurePolicy, roots: &[Node], cancel: u64) -> (u64, BTreeMap<String, Kind>) {
        let mut model = Model {
            policy,
            endings: BTreeMap::new(),
        };
        let group_cancel = cancel.min(model.failures_cancel(roots));
        let ends = roots
            .iter()
            .enumerate()
            .map(|(i, n)| model.exit(&format!("g/r{i}"), n, group_cancel));
        let last = ends.collect::<Vec<_>>().into_iter().max().unwrap_or(0);
        (last, model.endings)
    }
}

fn predict(case: &Case) -> Prediction {
    let drain_deadline = SHUTDOWN_AT + case.plan.drain.as_millis() as u64;
    let (last, endings) = Model::run(case.policy, &case.roots, u64::MAX);
    let (stage, endings) = if last < drain_deadline {
        (Stage::Drained, endings)
    } else {
        let (last, endings) = Model::run(case.policy, &case.roots, drain_deadline);
        let stage = if last == u64::MAX {
            Stage::Aborted
        } else {
            Stage::Cancelled
        };
        (stage, endings)
    };
    let first_failure = first_failure(&case.roots, "g").map(|(_, path)| path);
    Prediction {
        stage,
        endings,
        first_failure,
    }
}

fn first_failure(nodes: &[Node], prefix: &str) -> Option<(u64, String)> {
    let each = nodes.iter().enumerate().filter_map(|(i, n)| {
        let path = format!("{prefix}/r{i}");
        match &n.behaviour {
            Behaviour::Fail | Behaviour::Panic => Some((n.at, path)),
            Behaviour::Parent(children) => first_failure(children, &path),
            _ => None,
        }
    });
    each.min()
}

// The explicit `Send` bound lets a routine start its children by recursion.
#[allow(clippy::manual_async_fn)]
fn start<R: Runtime>(
    group: &Group<String, R>,
    index: usize,
    node: Node,
) -> impl Future<Output = ()> + Send + '_ {
    async move {
        let name = format!("r{index}");
        let started = group.go(&name, move |ctx| async move {
            let rt = ctx.runtime().clone();
            let at = ms(node.at);
            match node.behaviour {
                Behaviour::Finish => rt.sleep(at).await,
                Behaviour::Fail => {
                    rt.sleep(at).await;
                    return Err(Fault::Error(format!("r{index} failed")));
                }
                Behaviour::Panic => {
                    rt.sleep(at).await;
                    panic!("r{index} panicked");
                }
                Behaviour::Drains => ctx.drained().await,
                Behaviour::SlowDrain(t) => {
                    ctx.drained().await;
                    sigrelay::select! {
                        () = ctx.cancelled() => return Err(Fault::Cancelled),
                        () = rt.sleep(ms(t)) => {}
                    }
                }
                Behaviour::IgnoresDrain => {
                    ctx.cancelled().await;
                    return Err(Fault::Cancelled);
                }
                Behaviour::IgnoresCancel => std::future::pending().await,
                Behaviour::Parent(children) => {
                    for (i, child) in children.into_iter().enumerate() {
                        Box::pin(start(ctx.scope(), i, child)).await;
                    }
                    ctx.drained().await;
                }
            }
            Ok(())
        });
        started
            .await
            .expect("every routine starts before any failure");
    }
}

fn kind<E>(cause: &Cause<E>) -> Kind {
    match cause {
        Cause::Failed(_) => Kind::Failed,
        Cause::Panicked { .. } => Kind::Panicked,
        Cause::Cancelled => Kind::Cancelled,
        Cause::Aborted => Kind::Aborted,
    }
}

async fn check_case(rt: Shuttle, case: Arc<Case>) {
    let expected = predict(&case);
    let group = Group::<String, Shuttle>::builder(rt.clone(), "g")
        .failure_policy(case.policy)
        .build();
    for (i, node) in case.roots.iter().cloned().enumerate() {
        start(&group, i, node).await;
    }
    rt.sleep(ms(SHUTDOWN_AT)).await;
    let report = group.shutdown(case.plan).await;
    let endings: BTreeMap<_, _> = report
        .routines
        .iter()
        .map(|r| (r.path.to_string(), kind(&r.cause)))
        .collect();
    assert_eq!(report.stage, expected.stage, "{report}");
    assert_eq!(endings, expected.endings, "{report}");
    assert_eq!(
        report.routines.len(),
        endings.len(),
        "each routine is reported once"
    );
    let first = group.wait().await.err().map(|e| e.path.to_string());
    assert_eq!(first, expected.first_failure);
    assert!(group.census().await.live.is_empty());
    assert!(group.is_stopped().await);
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 128,
        failure_persistence: Some(Box::new(FileFailurePersistence::Direct(
            "proptest-regressions/signal_tree.txt",
        ))),
        ..ProptestConfig::default()
    })]

    #[test]
    fn shutdown_report_matches_the_model(case in case(), seed in any::<u64>()) {
        let case = Arc::new(case);
        for strategy in [Schedules::Random, Schedules::Pct { depth: 3 }] {
            let case = Arc::clone(&case);
            let run = ShuttleCheck::new(strategy, 6).seed(seed).try_run(move |rt| check_case(rt, Arc::clone(&case)));
            if let Err(failure) = run {
                return Err(TestCaseError::fail(failure.to_string()));
            }
        }
    }
}
