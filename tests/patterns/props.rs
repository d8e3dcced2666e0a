//! Property: pipelines with random widths, item failures, delays and budgets, run under
//! shuttle, end every item exactly once — delivered, in the error sink, or cancelled by a
//! stop — as a model predicts: ordered mode keeps order, a budget stops the run exactly
//! when exceeded, and nothing is left running (shuttle's leak check).

use std::sync::Arc;

use proptest::prelude::*;
use proptest::test_runner::FileFailurePersistence;
use sigrelay::check::{ShuttleCheck, Strategy as Schedules};
use sigrelay::patterns::pipeline::{ErrorBudget, Pipeline, PipelineConfig, StopReason};
use sigrelay::rt::prelude::*;
use sigrelay::rt::Shuttle;

use super::pipeline::{accounts_for_every_item, drain, numbers, width};
use super::supervision::ms;

#[derive(Debug, Clone)]
struct Case {
    widths: Vec<usize>,
    /// Per item: the stage it fails at, if any, and its delay at each stage in ms.
    items: Vec<(Option<usize>, Vec<u64>)>,
    ordered: bool,
    budget: ErrorBudget,
}

fn case() -> impl Strategy<Value = Case> {
    (1usize..=3, 0usize..24, any::<bool>()).prop_flat_map(|(stages, count, ordered)| {
        let widths = proptest::collection::vec(1usize..=4, stages);
        let item = (
            prop_oneof![3 => Just(None), 1 => (0..stages).prop_map(Some)],
            proptest::collection::vec(0u64..4, stages),
        );
        let items = proptest::collection::vec(item, count);
        let budget = prop_oneof![
            Just(ErrorBudget::Unlimited),
            (0u64..4).prop_map(ErrorBudget::Count),
            (1u64..6).prop_map(|min_items| ErrorBudget::Ratio {
                max: 0.4,
                min_items
            }),
        ];
        (widths, items, budget).prop_map(move |(widths, items, budget)| Case {
            widths,
            items,
            ordered,
            budget,
        })
    })
}

/// What an ordered run must deliver and fail: walk the items in order, as the merge emits
/// them, and stop where the budget is first exceeded.
fn ordered_model(case: &Case) -> (Vec<u64>, Vec<u64>, bool) {
    let (mut delivered, mut failed) = (Vec::new(), Vec::new());
    for (i, (fails, _)) in case.items.iter().enumerate() {
        match fails {
            Some(_) => failed.push(i as u64),
            None => delivered.push(i as u64),
        }
        if exceeded(case.budget, failed.len() as u64, delivered.len() as u64) {
            return (delivered, failed, true);
        }
    }
    (delivered, failed, false)
}

fn exceeded(budget: ErrorBudget, failed: u64, delivered: u64) -> bool {
    match budget {
        ErrorBudget::Unlimited => false,
        ErrorBudget::Count(limit) => failed > limit,
        ErrorBudget::Ratio { max, min_items } => {
            let ended = failed + delivered;
            ended >= min_items && failed as f64 > max * ended as f64
        }
    }
}

async fn check_case(rt: Shuttle, case: Arc<Case>) {
    let config = PipelineConfig {
        ordered: case.ordered,
        budget: case.budget,
        ..PipelineConfig::default()
    };
    let count = case.items.len() as u64;
    let mut pipeline = Pipeline::<Shuttle, u64, u64>::new(&rt, "prop", config, numbers(&rt, count));
    for (stage, w) in case.widths.iter().enumerate() {
        let (clock, case) = (rt.clone(), case.clone());
        pipeline = pipeline.stage(&format!("s{stage}"), width(*w), move |i| {
            let (clock, (fails, delays)) = (clock.clone(), case.items[i as usize].clone());
            async move {
                clock.sleep(ms(delays[stage])).await;
                match fails == Some(stage) {
                    true => Err(i),
                    false => Ok(i),
                }
            }
        });
    }
    let running = pipeline.finish();
    let (delivered, errors) = drain(&rt, running.output, running.errors).await;
    let report = running.report.await.expect("the merge ends");
    let failed: Vec<u64> = errors.iter().map(|e| e.item).collect();
    for error in &errors {
        let (fails, _) = &case.items[error.item as usize];
        assert_eq!(
            Some(&*error.stage),
            fails.map(|s| format!("s{s}")).as_deref()
        );
    }
    accounts_for_every_item(&report, &delivered, &failed);
    let stopped = report.stopped == Some(StopReason::Budget);
    if case.ordered {
        let (want_delivered, want_failed, want_stop) = ordered_model(&case);
        assert_eq!(delivered, want_delivered);
        assert_eq!(failed, want_failed);
        assert_eq!(stopped, want_stop);
    } else {
        let (mut d, mut f) = (delivered.clone(), failed.clone());
        d.sort_unstable();
        f.sort_unstable();
        assert!(d.iter().all(|i| case.items[*i as usize].0.is_none()));
        assert!(f.iter().all(|i| case.items[*i as usize].0.is_some()));
        let (failures, ok) = (f.len() as u64, d.len() as u64);
        assert_eq!(stopped, exceeded(case.budget, failures, ok), "{report:?}");
        if !stopped {
            assert_eq!(report.admitted, count);
        }
    }
    if !stopped {
        assert!(report.cancelled.is_empty());
    }
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 48,
        failure_persistence: Some(Box::new(FileFailurePersistence::Direct(
            "proptest-regressions/pipeline_items.txt",
        ))),
        ..ProptestConfig::default()
    })]

    #[test]
    fn pipelines_end_every_item_once_as_the_model_says(case in case(), seed in any::<u64>()) {
        let case = Arc::new(case);
        for strategy in [Schedules::Random, Schedules::Pct { depth: 3 }] {
            let case = Arc::clone(&case);
            let run = ShuttleCheck::new(strategy, 4).seed(seed).try_run(move |rt| check_case(rt, Arc::clone(&case)));
            if let Err(failure) = run {
                return Err(TestCaseError::fail(failure.to_string()));
            }
        }
    }
}
