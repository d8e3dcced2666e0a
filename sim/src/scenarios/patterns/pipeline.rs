//! A pipeline of two to three stages of random widths, one calling a backend that loses a
//! random share of requests, with random failures and a random budget.

use std::future::poll_fn;
use std::num::NonZeroUsize;
use std::pin::Pin;

use futures_core::Stream;
use sigrelay::bugs::Bugs;
use sigrelay::patterns::pipeline::{
    ErrorBudget, ItemFailure, Pipeline, PipelineConfig, StopReason,
};
use sigrelay::rt::prelude::*;

use super::ms;

/// What the backend is asked: an item, and where to answer.
type Request<R> = (u64, <R as Runtime>::OneshotSender<u64>);

/// Answers after a delay, except the requests it loses: it keeps their reply senders and
/// never answers them, as a backend that dropped a request on the floor.
fn backend<R: Runtime>(rt: &R, lost: Vec<bool>) -> R::Sender<Request<R>> {
    let (tx, mut requests) = rt.channel::<Request<R>>("pipe/backend-requests", 4);
    let clock = rt.clone();
    let _backend = rt.spawn("pipe/backend", async move {
        let mut unanswered = Vec::new();
        while let Some((item, reply)) = requests.recv().await {
            if lost[item as usize] {
                unanswered.push(reply);
                continue;
            }
            clock.sleep(ms(item % 3)).await;
            let _caller_gone = reply.send(item);
        }
    });
    tx
}

fn source<R: Runtime>(rt: &R, count: u64) -> impl Stream<Item = u64> + Send + 'static {
    let (tx, rx) = rt.channel("pipe/input", 2);
    let _feeder = rt.spawn("pipe/feeder", async move {
        for i in 0..count {
            if tx.send(i).await.is_err() {
                return;
            }
        }
    });
    rx
}

async fn next<S: Stream + Unpin>(stream: &mut S) -> Option<S::Item> {
    poll_fn(|cx| Pin::new(&mut *stream).poll_next(cx)).await
}

/// Every admitted item ends exactly once; ordered runs keep order and stop exactly where
/// the budget is first exceeded; a lost request fails its item by the item timeout.
pub async fn pipeline_with_failures<R: Runtime>(rt: R, bugs: Bugs) {
    let mut rng = rt.rng();
    let count = 4 + rng.below(12);
    let fails: Vec<bool> = (0..count).map(|_| rng.chance(0.2)).collect();
    let lost: Vec<bool> = (0..count).map(|_| rng.chance(0.15)).collect();
    let ordered = rng.chance(0.5);
    let budget = match rng.below(3) {
        0 => ErrorBudget::Unlimited,
        _ => ErrorBudget::Count(rng.below(4)),
    };
    let config = PipelineConfig {
        ordered,
        budget,
        item_timeout: Some(ms(50)),
        bugs,
        ..PipelineConfig::default()
    };
    let width = |n: u64| NonZeroUsize::new(1 + n as usize).expect("positive");
    let calls = backend(&rt, lost.clone());
    let (clock, replies) = (rt.clone(), rt.clone());
    let failing = fails.clone();
    let running = Pipeline::<R, u64, String>::new(&rt, "pipe", config, source(&rt, count))
        .stage("check", width(rng.below(3)), move |i| {
            let (clock, fail) = (clock.clone(), failing[i as usize]);
            async move {
                clock.sleep(ms(i % 4)).await;
                match fail {
                    true => Err(format!("item {i} is malformed")),
                    false => Ok(i),
                }
            }
        })
        .stage("call", width(rng.below(4)), move |i| {
            let calls = calls.clone();
            let (reply_tx, reply) = replies.oneshot::<u64>("pipe/backend-reply");
            async move {
                let sent = calls.send((i, reply_tx)).await;
                sent.map_err(|_| "the backend is gone".to_string())?;
                reply
                    .await
                    .map_err(|_| "the backend dropped the request".to_string())
            }
        })
        .finish();
    let mut errors = running.errors;
    let errors = rt.spawn("pipe/error-reader", async move {
        let mut all = Vec::new();
        while let Some(e) = next(&mut errors).await {
            all.push(e);
        }
        all
    });
    let mut output = running.output;
    let mut delivered = Vec::new();
    while let Some(v) = next(&mut output).await {
        delivered.push(v);
    }
    let errors = errors.await.expect("the error reader ends");
    let report = running.report.await.expect("the merge ends");
    for e in &errors {
        let i = e.item as usize;
        let want = match (fails[i], lost[i]) {
            (true, _) => (
                "check",
                ItemFailure::Failed(format!("item {i} is malformed")),
            ),
            (false, true) => ("call", ItemFailure::TimedOut),
            (false, false) => panic!("item {i} failed though it should pass: {e:?}"),
        };
        assert_eq!((&*e.stage, &e.failure), (want.0, &want.1), "item {i}");
    }
    let failed: Vec<u64> = errors.iter().map(|e| e.item).collect();
    let mut ended: Vec<u64> = delivered
        .iter()
        .chain(&failed)
        .chain(&report.cancelled)
        .copied()
        .collect();
    ended.sort_unstable();
    assert_eq!(
        ended,
        (0..report.admitted).collect::<Vec<_>>(),
        "every item ends exactly once: {report:?}"
    );
    assert_eq!(
        (report.delivered, report.failures()),
        (delivered.len() as u64, failed.len() as u64)
    );
    let stopped = report.stopped == Some(StopReason::Budget);
    let bad = |i: u64| fails[i as usize] || lost[i as usize];
    if ordered {
        let mut want = (Vec::new(), Vec::new(), false);
        for i in 0..count {
            match bad(i) {
                true => want.1.push(i),
                false => want.0.push(i),
            }
            if matches!(budget, ErrorBudget::Count(limit) if want.1.len() as u64 > limit) {
                want.2 = true;
                break;
            }
        }
        assert_eq!(
            (delivered, failed, stopped),
            want,
            "ordered run against the model"
        );
    } else {
        assert!(
            delivered.iter().all(|i| !bad(*i)),
            "only good items delivered"
        );
        let over = matches!(budget, ErrorBudget::Count(limit) if failed.len() as u64 > limit);
        assert_eq!(
            stopped, over,
            "the budget stops the run exactly when exceeded"
        );
    }
    if !stopped {
        assert_eq!(
            (report.admitted, report.cancelled.len()),
            (count, 0),
            "{report:?}"
        );
    }
}
