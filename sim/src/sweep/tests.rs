//! The sweep's own checks: default sizes, failing seeds, hard states, job counts,
//! replays and their traces.

use super::*;
use crate::commands::{summary_json, summary_table};
use crate::scenarios::testing::{BROKEN, MIXED};

/// The default sweep: 1,000 seeds per shuttle scenario, 20,000 for the relay's churn
/// (its rarest failure so far took seed 17,673), 40 per cluster scenario.
#[test]
fn the_default_sweep_sizes_each_scenario() {
    let args = RunArgs::all(&Harness::sigrelay());
    let sized = |name: &str| args.seeds_of(crate::scenarios::find(name).expect("exists"));
    assert_eq!(sized("fan-in"), 0..1000);
    assert_eq!(sized("relay-churn"), 0..20_000);
    assert_eq!(sized("cluster-crash"), 0..40);
    let given = RunArgs {
        seeds: 5..9,
        seeds_given: true,
        ..args
    };
    let churn = crate::scenarios::find("relay-churn").expect("exists");
    assert_eq!(given.seeds_of(churn), 5..9);
}

fn sweep_of(harness: &Harness, seeds: Range<u64>, jobs: usize, twice: bool) -> Sweep {
    let args = RunArgs {
        seeds,
        seeds_given: true,
        check_determinism: twice,
        jobs,
        ..RunArgs::all(harness)
    };
    sweep(harness, &args, &mut |_| {})
}

#[test]
fn a_broken_scenario_fails_every_seed_with_its_graph_log_and_replay() {
    let harness = Harness::sigrelay();
    let swept = sweep_of(&Harness::new(BROKEN), 0..4, 2, true);
    assert_eq!((swept.rows[0].seeds, swept.rows[0].failures), (4, 4));
    assert!(!swept.passed());
    let failure = &swept.failures[0];
    assert_eq!(failure.seed, 0);
    assert_eq!(failure.kind, crate::verdict::Kind::Deadlock);
    let graph = failure.graph.as_ref().expect("a wait-for graph");
    let names: Vec<_> = graph.tasks.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, ["main", "first"]);
    assert_eq!(graph.cycle.first(), graph.cycle.last());
    assert!(
        failure.log.iter().any(|l| l.contains("main spawns first")),
        "{:?}",
        failure.log
    );
    assert_eq!(
        failure.replay_command,
        "cargo run --release -- replay --scenario broken --seed 0"
    );
    assert_eq!(
        harness.replay_command("broken", 0),
        "cargo run --release -p sim -- replay --scenario broken --seed 0"
    );
    let json = failure.to_json();
    assert_eq!(json["scenario"], "broken");
    assert_eq!(json["kind"], "deadlock");
    assert_eq!(json["graph"]["tasks"][1]["name"], "first");
    assert!(json["schedule"].is_string());
    let again = failure.replay().expect_err("the replay fails again");
    let again_graph = again.graph.as_ref().expect("a wait-for graph");
    assert_eq!(again_graph.cycle, graph.cycle, "the same cycle");
    let waits =
        |g: &crate::failure::WaitGraph| g.tasks.iter().map(|t| t.waits.clone()).collect::<Vec<_>>();
    assert_eq!(waits(again_graph), waits(graph), "the same waits");
}

/// A declared hard state that no seed reaches fails the sweep even when every seed
/// passes; the one that is reached is counted seed by seed.
#[test]
fn a_hard_state_never_reached_fails_the_sweep() {
    let coin = Harness::new(&MIXED[..1]);
    let swept = sweep_of(&coin, 0..64, 2, false);
    assert!(swept.failures.is_empty());
    let row = &swept.rows[0];
    let heads = row.reached[0];
    assert_eq!(heads.0, "heads");
    assert!(
        0 < heads.1 && heads.1 < 64,
        "about half the seeds: {heads:?}"
    );
    assert_eq!(
        row.unreached().collect::<Vec<_>>(),
        ["the coin lands on its edge"]
    );
    assert!(!swept.passed());
    let table = summary_table(&swept);
    assert!(
        table.contains("NEVER reached by      0/64 seeds: the coin lands on its edge"),
        "{table}"
    );
    assert!(table.contains("UNREACHED coin"), "{table}");
    let json: serde_json::Value = serde_json::from_str(&summary_json(&swept)).expect("JSON");
    assert_eq!(json["passed"], false);
    assert_eq!(json["scenarios"][0]["hard_states"]["heads"], heads.1);
}

/// The summary, the JSON and the regression file are the same on one worker and on three.
#[test]
fn the_job_count_changes_nothing_a_sweep_reports() {
    let reports: Vec<_> = [1, 3]
        .into_iter()
        .map(|jobs| {
            let path =
                std::env::temp_dir().join(format!("sim-jobs-{jobs}-{}.txt", std::process::id()));
            let _ = std::fs::remove_file(&path);
            let harness = Harness::new(MIXED).regressions_at(&path);
            let swept = sweep_of(&harness, 0..24, jobs, false);
            crate::regressions::persist(&path, &swept.failures).expect("written");
            let stored = std::fs::read_to_string(&path).expect("readable");
            let _ = std::fs::remove_file(&path);
            (summary_table(&swept), summary_json(&swept), stored)
        })
        .collect();
    assert_eq!(reports[0], reports[1]);
    assert_eq!(reports[0].2.lines().count(), 24);
}

/// A failing seed still leaves what it did up to the failure: the log names both tasks
/// of the broken scenario's cycle, and the trace has a track for each.
#[test]
fn a_failing_replay_keeps_its_log_and_trace() {
    let (log, outcome) = replay_seed(&BROKEN[0], 0, Bugs::NONE);
    let failure = outcome.expect_err("the broken scenario deadlocks");
    assert!(failure.message.contains("deadlock"), "{}", failure.message);
    let log = log.expect("a failed shuttle run leaves its log");
    let lines = log.lines();
    assert!(
        lines.iter().any(|l| l.contains("main spawns first")),
        "{lines:?}"
    );
    let trace: serde_json::Value = serde_json::from_str(&log.chrome_trace()).expect("valid JSON");
    let tracks: Vec<_> = trace["traceEvents"]
        .as_array()
        .expect("a traceEvents array")
        .iter()
        .filter(|e| e["ph"] == "M" && e["name"] == "thread_name")
        .map(|e| e["args"]["name"].as_str().expect("named").to_string())
        .collect();
    assert_eq!(tracks, ["main", "first"]);
}

/// The trace events of a passing seed's replay, and the names of its tracks.
fn replay_trace(scenario: &str, seed: u64) -> (Vec<serde_json::Value>, Vec<String>) {
    let scenario = crate::scenarios::find(scenario).expect("exists");
    let (log, _) = record_seed(scenario, seed, Bugs::NONE).expect("the seed passes");
    let trace: serde_json::Value = serde_json::from_str(&log.chrome_trace()).expect("valid JSON");
    let events = trace["traceEvents"]
        .as_array()
        .expect("a traceEvents array");
    let tracks = events
        .iter()
        .filter(|e| e["ph"] == "M" && e["name"] == "thread_name")
        .map(|e| e["args"]["name"].as_str().expect("named").to_string())
        .collect();
    (events.clone(), tracks)
}

#[test]
fn a_replay_trace_is_trace_event_json_with_one_track_per_task() {
    let (events, tracks) = replay_trace("fan-in", 7);
    assert_eq!(
        tracks,
        [
            "main",
            "producer-0",
            "producer-1",
            "producer-2",
            "producer-3"
        ]
    );
    let spans = events.iter().filter(|e| e["ph"] == "X").count();
    assert_eq!(spans, tracks.len(), "one lifetime span per task");
    let starts = events.iter().filter(|e| e["ph"] == "s").count();
    let finishes = events.iter().filter(|e| e["ph"] == "f").count();
    assert_eq!(
        (starts, finishes),
        (20, 20),
        "every value sent is received, one flow each"
    );
    assert!(events.iter().all(|e| e["ph"] == "M" || e["ts"].is_number()));
}

#[test]
fn a_shuttle_replay_trace_puts_tracing_events_on_their_tasks() {
    let (events, tracks) = replay_trace("relay-open-ack", 0);
    let said = events
        .iter()
        .filter(|e| e["cat"] == "sigrelay::signal::routine");
    let mut placed = 0;
    for event in said {
        let track = &tracks[event["tid"].as_u64().expect("a tid") as usize];
        let fields = event["args"]["fields"].as_str().expect("fields");
        assert!(
            fields.contains(&format!("path={track}")),
            "{track}: {fields}"
        );
        placed += 1;
    }
    assert_eq!(
        placed, 14,
        "every routine's start and end, on its own track"
    );
}

#[test]
fn a_turmoil_replay_trace_has_one_track_per_host() {
    let (events, tracks) = replay_trace("cluster-crash", 0);
    assert_eq!(tracks, ["harness", "n1", "n2", "n3", "network"]);
    let crashed = events.iter().any(|e| {
        e["name"]
            .as_str()
            .is_some_and(|m| m.contains("peer tap lost its connection"))
    });
    assert!(crashed, "the crash shows as lost connections");
    assert!(events.iter().all(|e| e["ph"] == "M" || e["ts"].is_number()));
}

#[test]
fn every_scenario_is_deterministic_per_seed() {
    for scenario in crate::scenarios::ALL {
        let seeds = match scenario.backend() {
            "turmoil" => 0..2,
            _ => 0..5,
        };
        for seed in seeds {
            check_seed(scenario, seed, true)
                .0
                .unwrap_or_else(|e| panic!("{} seed {seed}: {}", scenario.name, e.0));
        }
    }
}

/// `cargo test` sweeps each pattern scenario's first 300 seeds, the shuttle grid scenarios'
/// first 100 and the turmoil ones' (3–5 nodes each) first 30, on the real code.
#[test]
fn the_pattern_and_grid_scenarios_pass_their_first_seeds() {
    let sized = crate::scenarios::ALL.iter().filter_map(|s| match s.name {
        name if name.starts_with("patterns-") => Some((s, 300)),
        name if name.starts_with("grid-") && s.backend() == "turmoil" => Some((s, 30)),
        name if name.starts_with("grid-") => Some((s, 100)),
        _ => None,
    });
    for (scenario, seeds) in sized {
        for seed in 0..seeds {
            if let Err(failure) = run_seed(scenario, seed, sigrelay::bugs::Bugs::NONE) {
                panic!("{} seed {seed}: {}", scenario.name, failure.message);
            }
        }
    }
}

/// The shuttle cluster's first 60 seeds pass and reach both of its hard states: the slow
/// node's tap drops frames, and so does the writer's peer server.
#[test]
fn the_shuttle_cluster_reaches_its_hard_states() {
    let harness = Harness::sigrelay();
    let args = RunArgs {
        scenarios: vec![harness.find("cluster-slow-peer").expect("exists")],
        seeds: 0..60,
        seeds_given: true,
        ..RunArgs::all(&harness)
    };
    let swept = sweep(&harness, &args, &mut |_| {});
    assert!(swept.passed(), "{}", summary_table(&swept));
}

/// The chaos cluster's first 40 seeds pass and reach all three of its hard states: a tap's
/// connection breaks mid-stream (and the streams resume after it), a tap drops frames,
/// and a peer server forwards a gap.
#[test]
fn the_chaos_cluster_reaches_its_hard_states() {
    let harness = Harness::sigrelay();
    let args = RunArgs {
        scenarios: vec![harness.find("cluster-chaos").expect("exists")],
        seeds: 0..40,
        seeds_given: true,
        ..RunArgs::all(&harness)
    };
    let swept = sweep(&harness, &args, &mut |_| {});
    assert!(swept.passed(), "{}", summary_table(&swept));
    assert!(swept.rows[0].reached.iter().all(|(_, n)| *n > 0));
}
