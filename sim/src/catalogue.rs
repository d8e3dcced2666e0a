//! The bug catalogue: each known bug of the originals, reintroduced at its real code site,
//! hunted with seeds of the scenario built to catch it; then the real code over the same
//! seeds, which must not fail.

use std::time::Duration;

use sigrelay::bugs::{Bug, Bugs};
use sigrelay::rt::prelude::*;
use sigrelay::rt::Tokio;

use crate::scenarios;
use crate::sweep::run_seed;

/// One catalogued bug and the scenario that catches it.
#[derive(Debug, Clone, Copy)]
pub struct Entry {
    /// The bug.
    pub bug: Bug,
    /// What goes wrong when it is present.
    pub symptom: &'static str,
    /// The scenario that catches it.
    pub scenario: &'static str,
    /// Seeds tried before the bug counts as missed; the real code runs as many.
    pub budget: u64,
}

/// Every bug that has landed, in catalogue order.
pub const CATALOGUE: &[Entry] = &[
    Entry {
        bug: Bug::B1DisconnectThenDrain,
        symptom:
            "a closing streamer disconnects before draining while the delta waits on its outlet",
        scenario: "relay-churn",
        budget: 500,
    },
    Entry {
        bug: Bug::B2SlowStreamerBlocksFanOut,
        symptom: "one slow lossy streamer blocks the fan-out for everyone",
        scenario: "relay-churn",
        budget: 500,
    },
    Entry {
        bug: Bug::B2bTimeoutSkipsLaterStreamers,
        symptom: "a timed-out send drops the frame for every later streamer, uncounted",
        scenario: "relay-churn",
        budget: 500,
    },
    Entry {
        bug: Bug::B3DeadPeerStaysConnected,
        symptom: "a peer that vanished without a reset keeps its server and streamer forever",
        scenario: "cluster-partition",
        budget: 20,
    },
    Entry {
        bug: Bug::B6AckBeforeDemandApplied,
        symptom:
            "the open-ack comes before the tapper applied the demand: writes after it are lost",
        scenario: "relay-open-ack",
        budget: 500,
    },
    Entry {
        bug: Bug::B7MaskedFailure,
        symptom: "a real failure masked by a sibling's cancellation",
        scenario: "signal-first-failure",
        budget: 500,
    },
    Entry {
        bug: Bug::B8RetryResultDependsOnTiming,
        symptom: "a restarting routine's result depends on when the cancel arrives",
        scenario: "signal-restart-cancel",
        budget: 500,
    },
    Entry {
        bug: Bug::B9RestartAfterReturn,
        symptom: "a routine restarted after a normal return",
        scenario: "signal-restart-return",
        budget: 500,
    },
    Entry {
        bug: Bug::B13LostCancel,
        symptom: "close loses its cancel: streamers open at the deadline are left running",
        scenario: "relay-churn",
        budget: 500,
    },
    Entry {
        bug: Bug::H1CloseRacesStartingStreamer,
        symptom: "close racing a starting streamer: the streamer finds its demand inlet gone",
        scenario: "relay-churn",
        budget: 500,
    },
];

/// What hunting one bug found.
#[derive(Debug, Clone)]
pub struct Hunt {
    /// The entry hunted.
    pub entry: Entry,
    /// The first seed that failed with the bug present, if any did within the budget.
    pub detected_at: Option<u64>,
    /// Seeds run until detection (the whole budget if missed).
    pub seeds_until_detection: u64,
    /// Wall time of the hunt.
    pub wall: Duration,
    /// The first lines of the failure message.
    pub message: String,
    /// Seeds of the real code that failed over the same budget: false alarms.
    pub false_alarms: u64,
    /// Wall time of the real-code run.
    pub clean_wall: Duration,
}

impl Hunt {
    /// The one command that replays the detection.
    pub fn replay_command(&self) -> Option<String> {
        self.detected_at.map(|seed| {
            format!(
                "cargo run --release -p sim -- replay --scenario {} --seed {seed} --bug {}",
                self.entry.scenario, self.entry.bug
            )
        })
    }
}

/// Hunts `entry`'s bug, then runs the real code over the same budget.
pub fn hunt(entry: Entry) -> Hunt {
    let scenario = scenarios::find(entry.scenario).expect("catalogued scenarios exist");
    let start = Tokio.now();
    let mut hunt = Hunt {
        entry,
        detected_at: None,
        seeds_until_detection: entry.budget,
        wall: Duration::ZERO,
        message: String::new(),
        false_alarms: 0,
        clean_wall: Duration::ZERO,
    };
    for seed in 0..entry.budget {
        if let Err(failure) = run_seed(scenario, seed, Bugs::only(entry.bug)) {
            hunt.detected_at = Some(seed);
            hunt.seeds_until_detection = seed + 1;
            hunt.message = failure
                .message
                .lines()
                .take(3)
                .collect::<Vec<_>>()
                .join(" | ");
            break;
        }
    }
    hunt.wall = start.elapsed();
    let start = Tokio.now();
    let budget = 0..entry.budget;
    hunt.false_alarms = budget
        .filter(|s| run_seed(scenario, *s, Bugs::NONE).is_err())
        .count() as u64;
    hunt.clean_wall = start.elapsed();
    hunt
}

/// The hunts as a JSON array.
pub fn to_json(hunts: &[Hunt]) -> String {
    let rows: Vec<_> = hunts
        .iter()
        .map(|h| {
            serde_json::json!({
                "bug": h.entry.bug.id(),
                "symptom": h.entry.symptom,
                "scenario": h.entry.scenario,
                "detected": h.detected_at.is_some(),
                "seeds_until_detection": h.seeds_until_detection,
                "wall_ms": h.wall.as_secs_f64() * 1e3,
                "replay": h.replay_command(),
                "message": h.message,
                "real_code_seeds": h.entry.budget,
                "real_code_failures": h.false_alarms,
                "real_code_wall_ms": h.clean_wall.as_secs_f64() * 1e3,
            })
        })
        .collect();
    serde_json::to_string_pretty(&rows).expect("plain values serialise")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_catalogued_bug_is_caught_and_the_real_code_passes() {
        for entry in CATALOGUE {
            let scenario = scenarios::find(entry.scenario).expect("exists");
            let caught =
                (0..entry.budget).find(|s| run_seed(scenario, *s, Bugs::only(entry.bug)).is_err());
            assert!(
                caught.is_some(),
                "{} was not caught by {}",
                entry.bug,
                entry.scenario
            );
            for seed in 0..50 {
                if let Err(failure) = run_seed(scenario, seed, Bugs::NONE) {
                    panic!(
                        "false alarm on the real code, {} seed {seed}: {failure}",
                        entry.scenario
                    );
                }
            }
        }
    }

    #[test]
    fn the_json_report_names_each_bug() {
        let hunts: Vec<_> = CATALOGUE
            .iter()
            .map(|e| Hunt {
                entry: *e,
                detected_at: Some(3),
                seeds_until_detection: 4,
                wall: Duration::from_millis(2),
                message: "boom".into(),
                false_alarms: 0,
                clean_wall: Duration::from_millis(5),
            })
            .collect();
        let parsed: serde_json::Value = serde_json::from_str(&to_json(&hunts)).expect("valid JSON");
        let bugs: Vec<_> = parsed
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["bug"].as_str().unwrap())
            .collect();
        assert_eq!(
            bugs,
            ["B1", "B2", "B2b", "B3", "B6", "B7", "B8", "B9", "B13", "H1"]
        );
        assert!(parsed[0]["replay"]
            .as_str()
            .unwrap()
            .ends_with("--seed 3 --bug B1"));
    }

    /// A detected deadlock must not disturb the runs after it: shuttle's per-thread state
    /// left by the failed execution once made the real code fail the same seed.
    #[test]
    fn a_detection_leaves_nothing_behind_for_the_next_run() {
        let scenario = scenarios::find("relay-churn").expect("exists");
        let buggy = run_seed(scenario, 0, Bugs::only(Bug::B2bTimeoutSkipsLaterStreamers));
        assert!(buggy.is_err(), "B2b is caught at seed 0");
        if let Err(failure) = run_seed(scenario, 0, Bugs::NONE) {
            panic!(
                "the real code failed after a detection: {}",
                failure.message
            );
        }
    }
}
