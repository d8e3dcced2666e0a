//! The pipeline stream: order, the error sink, budgets, retries, timeouts and stops.

use std::num::NonZeroUsize;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use futures_core::Stream;
use sigrelay::patterns::pipeline::{
    ErrorBudget, ItemFailure, Pipeline, PipelineConfig, Report, StopReason,
};
use sigrelay::rt::prelude::*;

use super::supervision::ms;

pub fn width(n: usize) -> NonZeroUsize {
    NonZeroUsize::new(n).expect("not zero")
}

/// A stream of `0..count` on the runtime's channel, fed by a task.
pub fn numbers<R: Runtime>(rt: &R, count: u64) -> impl Stream<Item = u64> + Send + 'static {
    let (tx, rx) = rt.channel("numbers", 4);
    let _feeder = rt.spawn("feeder", async move {
        for i in 0..count {
            if tx.send(i).await.is_err() {
                return;
            }
        }
    });
    rx
}

pub async fn collect<R: Runtime, T: Send + 'static>(rx: &mut R::Receiver<T>) -> Vec<T> {
    let mut all = Vec::new();
    while let Some(v) = rx.recv().await {
        all.push(v);
    }
    all
}

/// Reads the output and the errors side by side until both end.
pub async fn drain<R: Runtime, T: Send + 'static, E: Send + 'static>(
    rt: &R,
    mut output: R::Receiver<T>,
    mut errors: R::Receiver<E>,
) -> (Vec<T>, Vec<E>) {
    let errors = rt.spawn(
        "error-reader",
        async move { collect::<R, E>(&mut errors).await },
    );
    let delivered = collect::<R, T>(&mut output).await;
    (delivered, errors.await.expect("the error reader ends"))
}

/// Twenty items through a stage of 3 (later items faster) and a stage of 4 that fails every
/// fifth: the output keeps the input order, the failures reach the sink with their stage,
/// item and attempt, and the report adds up.
pub async fn ordered_pipeline_keeps_order_and_sinks_errors<R: Runtime>(rt: R) {
    let config = PipelineConfig {
        ordered: true,
        ..PipelineConfig::default()
    };
    let clock = rt.clone();
    let running = Pipeline::<R, u64, String>::new(&rt, "ordered", config, numbers(&rt, 20))
        .stage("slow", width(3), move |i| {
            let clock = clock.clone();
            async move {
                clock.sleep(ms(20 - i)).await;
                Ok(i * 10)
            }
        })
        .stage("check", width(4), |v| async move {
            match v % 50 {
                0 => Err(format!("{v} is a multiple of 50")),
                _ => Ok(v + 1),
            }
        })
        .finish();
    let (delivered, errors) = drain(&rt, running.output, running.errors).await;
    let expected: Vec<u64> = (0..20).filter(|i| i % 5 != 0).map(|i| i * 10 + 1).collect();
    assert_eq!(delivered, expected);
    let failed: Vec<(u64, u32, &str)> = errors
        .iter()
        .map(|e| (e.item, e.attempt, &*e.stage))
        .collect();
    assert_eq!(
        failed,
        [
            (0, 1, "check"),
            (5, 1, "check"),
            (10, 1, "check"),
            (15, 1, "check")
        ]
    );
    assert_eq!(
        errors[1].failure,
        ItemFailure::Failed("50 is a multiple of 50".into())
    );
    let report = running.report.await.expect("the merge ends");
    assert_eq!(
        (report.admitted, report.delivered, report.failures()),
        (20, 16, 4)
    );
    assert_eq!((report.cancelled.clone(), report.stopped), (vec![], None));
}

/// Unordered, every item arrives once, whatever the order.
pub async fn unordered_pipeline_delivers_every_item<R: Runtime>(rt: R) {
    let clock = rt.clone();
    let running =
        Pipeline::<R, u64, ()>::new(&rt, "any", PipelineConfig::default(), numbers(&rt, 30))
            .stage("jitter", width(5), move |i| {
                let clock = clock.clone();
                async move {
                    clock.sleep(ms((i * 7) % 11)).await;
                    Ok(i)
                }
            })
            .finish();
    let (mut delivered, errors) = drain(&rt, running.output, running.errors).await;
    delivered.sort_unstable();
    assert_eq!(delivered, (0..30).collect::<Vec<_>>());
    assert!(errors.is_empty());
    assert_eq!(running.report.await.expect("ends").delivered, 30);
}

/// Checks that every admitted item ended exactly once.
pub fn accounts_for_every_item(report: &Report, delivered: &[u64], failed: &[u64]) {
    let mut seen: Vec<u64> = delivered
        .iter()
        .chain(failed)
        .chain(&report.cancelled)
        .copied()
        .collect();
    seen.sort_unstable();
    assert_eq!(seen, (0..report.admitted).collect::<Vec<_>>(), "{report:?}");
}

/// A budget of two: the third failure stops the run, which then admits nothing more and
/// accounts for every item it admitted.
pub async fn budget_stops_the_run_at_the_first_error_past_it<R: Runtime>(rt: R) {
    let config = PipelineConfig {
        ordered: true,
        budget: ErrorBudget::Count(2),
        ..PipelineConfig::default()
    };
    let running = Pipeline::<R, u64, u64>::new(&rt, "budget", config, numbers(&rt, 1000))
        .stage("odd-fails", width(2), |i| async move {
            if i % 2 == 1 {
                Err(i)
            } else {
                Ok(i)
            }
        })
        .finish();
    let (delivered, errors) = drain(&rt, running.output, running.errors).await;
    let report = running.report.await.expect("ends");
    assert_eq!(report.stopped, Some(StopReason::Budget));
    let failed: Vec<u64> = errors.iter().map(|e| e.item).collect();
    assert_eq!(failed, [1, 3, 5], "stopped at the third failure");
    assert_eq!(delivered, [0, 2, 4], "nothing after the stop");
    assert!(report.admitted < 1000);
    accounts_for_every_item(&report, &delivered, &failed);
}

/// A ratio of 50 % judged after 4 items: two failures in the first two items do not stop
/// the run; a majority of failures once four ended does.
pub async fn ratio_budget_waits_for_enough_items<R: Runtime>(rt: R) {
    let config = PipelineConfig {
        ordered: true,
        budget: ErrorBudget::Ratio {
            max: 0.5,
            min_items: 4,
        },
        ..PipelineConfig::default()
    };
    let fails = [
        true, true, false, false, false, true, true, true, false, false,
    ];
    let running = Pipeline::<R, u64, ()>::new(&rt, "ratio", config, numbers(&rt, 10))
        .stage("plan", width(1), move |i| async move {
            if fails[i as usize] {
                Err(())
            } else {
                Ok(i)
            }
        })
        .finish();
    let (delivered, errors) = drain(&rt, running.output, running.errors).await;
    let report = running.report.await.expect("ends");
    assert_eq!(delivered, [2, 3, 4]);
    let failed: Vec<u64> = errors.iter().map(|e| e.item).collect();
    assert_eq!(failed, [0, 1, 5, 6], "4 of 7 ended failed: over half");
    assert_eq!(report.stopped, Some(StopReason::Budget));
}

/// Each item's first attempt hangs past the 50 ms item timeout; the second succeeds.
pub async fn retried_items_recover_from_a_timeout<R: Runtime>(rt: R) {
    let config = PipelineConfig {
        ordered: true,
        item_timeout: Some(ms(50)),
        attempts: 2,
        ..PipelineConfig::default()
    };
    let tries = Arc::new(AtomicU64::new(0));
    let (clock, counter) = (rt.clone(), tries.clone());
    let start = rt.now();
    let running = Pipeline::<R, u64, ()>::new(&rt, "flaky", config, numbers(&rt, 3))
        .stage("flaky", width(1), move |i| {
            let (clock, n) = (clock.clone(), counter.fetch_add(1, Ordering::SeqCst));
            async move {
                if n % 2 == 0 {
                    clock.sleep(ms(1000)).await;
                }
                Ok(i)
            }
        })
        .finish();
    let (delivered, errors) = drain(&rt, running.output, running.errors).await;
    assert_eq!((delivered, errors.len()), (vec![0, 1, 2], 0));
    assert_eq!(tries.load(Ordering::SeqCst), 6);
    assert_eq!(
        rt.now(),
        start + ms(150),
        "three timeouts of 50 ms, one worker"
    );
    let timeouts = Pipeline::<R, u64, ()>::new(
        &rt,
        "hung",
        PipelineConfig {
            attempts: 2,
            item_timeout: Some(ms(50)),
            ..PipelineConfig::default()
        },
        numbers(&rt, 1),
    )
    .stage("hung", width(1), |_| {
        std::future::pending::<Result<u64, ()>>()
    })
    .finish();
    let (_, errors) = drain(&rt, timeouts.output, timeouts.errors).await;
    assert_eq!(
        (errors[0].attempt, errors[0].failure.clone()),
        (2, ItemFailure::TimedOut)
    );
    timeouts.report.await.expect("ends");
}

/// With the consumer asleep for 1 s, the stage still finishes the items that fit its
/// channels — a `buffer_unordered` would not have started them.
pub async fn stages_work_while_the_consumer_is_busy<R: Runtime>(rt: R) {
    let done = Arc::new(AtomicU64::new(0));
    let (clock, counter) = (rt.clone(), done.clone());
    let running =
        Pipeline::<R, u64, ()>::new(&rt, "ahead", PipelineConfig::default(), numbers(&rt, 100))
            .stage("work", width(4), move |i| {
                let (clock, counter) = (clock.clone(), counter.clone());
                async move {
                    clock.sleep(ms(10)).await;
                    counter.fetch_add(1, Ordering::SeqCst);
                    Ok(i)
                }
            })
            .finish();
    rt.sleep(ms(1000)).await;
    let ahead = done.load(Ordering::SeqCst);
    assert!(
        ahead >= 8,
        "only {ahead} items done while the consumer slept"
    );
    assert!(ahead < 100, "the stage is bounded by its channels");
    let (delivered, _) = drain(&rt, running.output, running.errors).await;
    assert_eq!(delivered.len(), 100);
    running.report.await.expect("ends");
}

/// A 95 ms run deadline stops a run of 10 ms items, accounting for every admitted item; a
/// dropped output stops a run too.
pub async fn run_deadline_and_dropped_output_stop_the_run<R: Runtime>(rt: R) {
    let start = rt.now();
    let config = PipelineConfig {
        run_timeout: Some(ms(95)),
        ..PipelineConfig::default()
    };
    let clock = rt.clone();
    let running = Pipeline::<R, u64, ()>::new(&rt, "timed", config, numbers(&rt, 1000))
        .stage("tick", width(1), move |i| {
            let clock = clock.clone();
            async move {
                clock.sleep(ms(10)).await;
                Ok(i)
            }
        })
        .finish();
    let (delivered, _) = drain(&rt, running.output, running.errors).await;
    let report = running.report.await.expect("ends");
    assert_eq!(report.stopped, Some(StopReason::Deadline));
    assert_eq!(delivered, (0..9).collect::<Vec<_>>());
    assert_eq!(rt.now(), start + ms(95));
    accounts_for_every_item(&report, &delivered, &[]);

    let running =
        Pipeline::<R, u64, ()>::new(&rt, "unread", PipelineConfig::default(), numbers(&rt, 1000))
            .stage("id", width(2), |i| async move { Ok(i) })
            .finish();
    drop(running.output);
    let report = running.report.await.expect("ends");
    assert_eq!(report.stopped, Some(StopReason::OutputDropped));
    assert!(
        report.delivered <= 8,
        "at most a buffer's worth before the drop"
    );
    assert!(report.admitted < 1000);
}

/// A pipeline dropped before `finish` ends its generator and workers.
pub async fn dropping_an_unfinished_pipeline_stops_it<R: Runtime>(rt: R) {
    let pipeline = Pipeline::<R, u64, ()>::new(
        &rt,
        "abandoned",
        PipelineConfig::default(),
        numbers(&rt, 1000),
    )
    .stage("id", width(3), |i| async move { Ok(i) });
    rt.sleep(ms(10)).await;
    drop(pipeline);
    rt.sleep(ms(10)).await;
}

/// A stage that panics on one item fails that item; the run goes on.
pub async fn a_panicking_stage_fails_the_item_not_the_run<R: Runtime>(rt: R) {
    let running =
        Pipeline::<R, u64, ()>::new(&rt, "fragile", PipelineConfig::default(), numbers(&rt, 5))
            .stage("fragile", width(2), |i| async move {
                assert_ne!(i, 3, "item 3 breaks the stage");
                Ok(i)
            })
            .finish();
    let (mut delivered, errors) = drain(&rt, running.output, running.errors).await;
    delivered.sort_unstable();
    assert_eq!(delivered, [0, 1, 2, 4]);
    assert_eq!(errors.len(), 1);
    assert!(matches!(&errors[0].failure, ItemFailure::Panicked(m) if m.contains("item 3 breaks")));
}
