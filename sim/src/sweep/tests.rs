//! The sweep's own checks: default sizes, failing seeds, replays and their traces.

use super::*;
use crate::cli::Shard;

/// The default sweep: 1,000 seeds per shuttle scenario, 20,000 for the relay's churn
/// (its rarest failure so far took seed 17,673), 40 per cluster scenario.
#[test]
fn the_default_sweep_sizes_each_scenario() {
    let args = RunArgs {
        scenarios: crate::scenarios::ALL.iter().collect(),
        seeds: crate::cli::DEFAULT_SEEDS,
        seeds_given: false,
        shard: Shard::ALL,
        check_determinism: false,
    };
    let sized = |name: &str| {
        let scenario = crate::scenarios::find(name).expect("exists");
        seeds_of(&args, scenario)
    };
    assert_eq!(sized("fan-in"), 0..1000);
    assert_eq!(sized("relay-churn"), 0..20_000);
    assert_eq!(sized("cluster-crash"), 0..40);
    let given = RunArgs {
        seeds: 5..9,
        seeds_given: true,
        ..args
    };
    let churn = crate::scenarios::find("relay-churn").expect("exists");
    assert_eq!(seeds_of(&given, churn), 5..9);
}

#[test]
fn a_broken_scenario_fails_every_seed_with_a_replay_command() {
    let args = RunArgs {
        scenarios: vec![crate::scenarios::find("broken").expect("the test scenario exists")],
        seeds: 0..4,
        seeds_given: true,
        shard: Shard::ALL,
        check_determinism: true,
    };
    let (rows, failures) = sweep(&args, |_, _, _| {});
    assert_eq!((rows[0].seeds, rows[0].failures), (4, 4));
    assert!(
        failures[0]
            .message
            .contains("deadlock: every task is blocked"),
        "{}",
        failures[0].message
    );
    assert_eq!(
        failures[0].replay_command(),
        "cargo run --release -p sim -- replay --scenario broken --seed 0"
    );
}

/// A failing seed still leaves what it did up to the failure: the log names both tasks
/// of the broken scenario's cycle, and the trace has a track for each.
#[test]
fn a_failing_replay_keeps_its_log_and_trace() {
    let scenario = crate::scenarios::find("broken").expect("the test scenario exists");
    let (log, outcome) = replay_seed(scenario, 0, Bugs::NONE);
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
