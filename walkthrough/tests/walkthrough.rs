//! The walk-through as a user runs it: the real pipeline passes its sweep and reaches its
//! hard state; the planted bug is found as a named lock-order cycle, written to a
//! regressions file, and reproduced by `Failure::replay`; the same code runs on tokio.

use sim::failure::Failure;
use sim::verdict::Kind;
use sim::{Harness, RunArgs};
use walkthrough::{book_orders, ORDERS, SCENARIOS};

fn harness(file: &str) -> Harness {
    let path = std::env::temp_dir().join(format!("walkthrough-{file}-{}.txt", std::process::id()));
    let _ = std::fs::remove_file(&path);
    Harness::new(SCENARIOS).regressions_at(path)
}

fn sweep(harness: &Harness, scenario: &str) -> sim::Sweep {
    let args = RunArgs {
        scenarios: vec![harness.find(scenario).expect("a walk-through scenario")],
        seeds: 0..300,
        seeds_given: true,
        ..RunArgs::all(harness)
    };
    sim::sweep::sweep(harness, &args, &mut |_| {})
}

#[test]
fn the_real_pipeline_passes_and_audits_mid_stream() {
    let swept = sweep(&harness("real"), "orders");
    assert!(
        swept.failures.is_empty(),
        "{:?}",
        swept.failures.first().map(|f| &f.message)
    );
    let (state, seeds) = swept.rows[0].reached[0];
    assert_eq!(state, walkthrough::AUDIT_MID_STREAM);
    assert!(seeds > 0, "some seed audits mid-stream");
    assert!(swept.passed());
}

#[test]
fn the_planted_bug_is_a_named_cycle_that_persists_and_replays() {
    let harness = harness("planted");
    let swept = sweep(&harness, "orders-planted");
    let failure: &Failure = swept
        .failures
        .first()
        .expect("the planted inversion is found");
    assert_eq!(failure.kind, Kind::Deadlock, "{}", failure.message);
    let graph = failure.graph.as_ref().expect("a wait-for graph");
    for task in ["pricer", "auditor"] {
        assert!(
            graph.cycle.iter().any(|t| t == task),
            "{task} in {:?}",
            graph.cycle
        );
    }
    let waits: Vec<&String> = graph.tasks.iter().flat_map(|t| &t.waits).collect();
    for lock in ["mutex \"ledger\"", "mutex \"audit\""] {
        assert!(
            waits.iter().any(|w| w.contains(lock)),
            "{lock} in {waits:?}"
        );
    }
    let written = sim::regressions::persist(harness.regressions(), &swept.failures);
    assert_eq!(written.expect("the file is writable"), swept.failures.len());
    let stored = std::fs::read_to_string(harness.regressions()).expect("readable");
    let first = stored.lines().next().expect("an entry");
    assert!(
        first.starts_with(&format!(
            "scenario=orders-planted backend=shuttle seed={}",
            failure.seed
        )),
        "{first}"
    );
    assert!(
        first.contains(" schedule="),
        "the schedule is kept: {first}"
    );
    let replayed = failure.replay().expect_err("the replay fails the same way");
    assert_eq!(
        replayed.graph.as_ref().map(|g| &g.cycle),
        Some(&graph.cycle)
    );
    let still = sim::regressions::replay_all(&harness).expect("readable");
    assert_eq!(
        still.len(),
        swept.failures.len(),
        "every stored entry still fails"
    );
    let _ = std::fs::remove_file(harness.regressions());
}

#[test]
fn the_same_code_runs_on_tokio() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build();
    let total = rt
        .expect("a runtime")
        .block_on(book_orders(sigrelay::rt::Tokio, false));
    assert_eq!(total, (1..=ORDERS).sum::<u64>() * 10);
}
