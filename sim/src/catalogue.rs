//! The bug catalogue: each known bug of the originals, reintroduced at its real code site,
//! hunted with seeds of the scenario built to catch it; then the real code over the same
//! seeds, which must not fail. Each entry declares the failure the bug must cause
//! ([`Expected`]); a failed seed counts as a detection only if it failed that way.

use std::time::Duration;

use sigrelay::bugs::{Bug, Bugs};
use sigrelay::rt::prelude::*;
use sigrelay::rt::Tokio;

use crate::sweep::run_seed;
use crate::verdict::{Expected, Kind, Observed};
use crate::Harness;

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
    /// The failure it must cause.
    pub expected: Expected,
}

const fn deadlock(names: &'static [&'static str], cycle: &'static [&'static str]) -> Expected {
    Expected {
        kind: Kind::Deadlock,
        names,
        cycle_through: cycle,
    }
}

const fn violation(names: &'static [&'static str]) -> Expected {
    Expected {
        kind: Kind::Violation,
        names,
        cycle_through: &[],
    }
}

/// Every bug that has landed, in catalogue order.
pub const CATALOGUE: &[Entry] = &[
    Entry {
        bug: Bug::B1DisconnectThenDrain,
        symptom:
            "a closing streamer disconnects before draining while a fan-out waits on its outlet",
        scenario: "relay-churn",
        budget: 500,
        expected: deadlock(
            &[
                "task \"writer\"",
                "waits to send on channel \"delta:outlet:",
                "waits to lock mutex \"delta:fan-out\"",
            ],
            &["writer"],
        ),
    },
    Entry {
        bug: Bug::B2SlowStreamerBlocksFanOut,
        symptom: "one slow lossy streamer blocks the fan-out for everyone",
        scenario: "relay-churn",
        budget: 500,
        expected: deadlock(
            &[
                "task \"writer\"",
                "waits to send on channel \"delta:outlet:1\"",
            ],
            &[],
        ),
    },
    Entry {
        bug: Bug::B2bTimeoutSkipsLaterStreamers,
        symptom: "a timed-out send drops the frame for every later streamer, uncounted",
        scenario: "relay-churn",
        budget: 500,
        expected: deadlock(
            &[
                "task \"updater\"",
                "waits to receive from channel \"delta:outlet:2\"",
            ],
            &[],
        ),
    },
    Entry {
        bug: Bug::B3DeadPeerStaysConnected,
        symptom: "a peer that vanished without a reset keeps its server and streamer forever",
        scenario: "cluster-partition",
        budget: 20,
        expected: violation(&["dead peers stay connected"]),
    },
    Entry {
        bug: Bug::B6AckBeforeDemandApplied,
        symptom:
            "the open-ack comes before the tapper applied the demand: writes after it are lost",
        scenario: "relay-open-ack",
        budget: 500,
        expected: violation(&["the write right after the open-ack"]),
    },
    Entry {
        bug: Bug::B7MaskedFailure,
        symptom: "a real failure masked by a sibling's cancellation",
        scenario: "signal-first-failure",
        budget: 500,
        expected: violation(&["the real failure is returned"]),
    },
    Entry {
        bug: Bug::B8RetryResultDependsOnTiming,
        symptom: "a restarting routine's result depends on when the cancel arrives",
        scenario: "signal-restart-cancel",
        budget: 500,
        expected: violation(&["the panic is the result"]),
    },
    Entry {
        bug: Bug::B9RestartAfterReturn,
        symptom: "a routine restarted after a normal return",
        scenario: "signal-restart-return",
        budget: 500,
        expected: violation(&["a normal return is never restarted"]),
    },
    Entry {
        bug: Bug::B13LostCancel,
        symptom: "close loses its cancel: streamers open at the deadline are left running",
        scenario: "relay-churn",
        budget: 500,
        expected: deadlock(
            &["task \"relay/streamers/streamer-1\"", "task \"lossy\""],
            &[],
        ),
    },
    Entry {
        bug: Bug::H1CloseRacesStartingStreamer,
        symptom: "close racing a starting streamer: the streamer finds its demand inlet gone \
                  and waits for it, so its opener and the close wait for the streamer",
        scenario: "relay-churn",
        budget: 500,
        expected: deadlock(
            &["task \"racer\"", "notify \"relay:demands-returned\""],
            &[],
        ),
    },
    Entry {
        bug: Bug::P1GeneratorNeverCloses,
        symptom:
            "a pipeline's generator never closes its channel: every stage waits for more input",
        scenario: "patterns-pipeline",
        budget: 200,
        expected: deadlock(
            &[
                "task \"pipe/generator\"",
                "waits to receive from channel \"pipe/source\"",
            ],
            &["pipe/generator", "pipe/merge"],
        ),
    },
    Entry {
        bug: Bug::P2StageWithoutDeadline,
        symptom: "a stage with no deadline: a request the backend never answers hangs the run",
        scenario: "patterns-pipeline",
        budget: 200,
        expected: deadlock(
            &[
                "task \"pipe/call/",
                "waits to receive from oneshot \"pipe/backend-reply\"",
            ],
            &["pipe/backend"],
        ),
    },
    Entry {
        bug: Bug::P3BlockingHeartbeat,
        symptom: "a heartbeat sent with a blocking send nobody reads stops the worker",
        scenario: "patterns-heartbeat",
        budget: 200,
        expected: deadlock(
            &[
                "task \"worker\"",
                "waits to send on channel \"worker/heartbeat\"",
            ],
            &["worker", "main"],
        ),
    },
    Entry {
        bug: Bug::P4StewardStartsBeforeStopping,
        symptom: "a steward starts a new ward without stopping the hung one",
        scenario: "patterns-steward",
        budget: 200,
        expected: violation(&["two wards alive at once: steward/ward#"]),
    },
    Entry {
        bug: Bug::P5LosersNeverCancelled,
        symptom: "replicated requests whose losers are never cancelled keep running after the win",
        scenario: "patterns-replicas",
        budget: 200,
        expected: violation(&["losers alive one grace after the win: replicas/replica#"]),
    },
    Entry {
        bug: Bug::G1StartAfterRegistrationTimeout,
        symptom:
            "a name claim whose registration timed out is taken for won: two actors of one name",
        scenario: "grid-names",
        budget: 200,
        expected: violation(&["two actors of one name: node-"]),
    },
    Entry {
        bug: Bug::G2DeregisterByAddress,
        symptom: "a release by address deletes the same node's newer claim of the name: two actors of one name",
        scenario: "grid-actors",
        budget: 200,
        expected: violation(&["two actors of one name: node-"]),
    },
    Entry {
        bug: Bug::G3LeaderOutlivesLease,
        symptom:
            "a leader cut off from the coordinator keeps acting after its lease expired: a stale fence accepted",
        scenario: "grid-failover",
        budget: 100,
        expected: violation(&["a stale fence accepted: worker-"]),
    },
    Entry {
        bug: Bug::G4FastestWaitsForAll,
        symptom: "Fastest waits for every member's answer before returning the first",
        scenario: "grid-broadcast",
        budget: 50,
        expected: violation(&["Fastest waited for a slower member"]),
    },
    Entry {
        bug: Bug::G5RetryApplicationError,
        symptom: "a resend re-sends to a member that answered with an application error: processed twice",
        scenario: "grid-broadcast",
        budget: 50,
        expected: violation(&["processed twice: fail-"]),
    },
];

/// What hunting one bug found.
#[derive(Debug, Clone)]
pub struct Hunt {
    /// The entry hunted.
    pub entry: Entry,
    /// The first seed that failed the declared way with the bug present, if any did within
    /// the budget.
    pub detected_at: Option<u64>,
    /// Seeds run until detection (the whole budget if missed).
    pub seeds_until_detection: u64,
    /// The matching failure or, if none matched, the first failure seen.
    pub observed: Option<Observed>,
    /// Seeds that failed another way than declared: not detections.
    pub unmatched: u64,
    /// Wall time of the hunt.
    pub wall: Duration,
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

    /// The first lines of the observed failure, joined.
    pub fn message(&self) -> String {
        let report = self.observed.as_ref().map_or("", |o| o.report.as_str());
        report.lines().take(3).collect::<Vec<_>>().join(" | ")
    }
}

/// Hunts `entry`'s bug, then runs the real code over the same budget.
pub fn hunt(harness: &Harness, entry: Entry) -> Hunt {
    let mut hunt = hunt_with(harness, entry, Bugs::only(entry.bug));
    let scenario = harness
        .find(entry.scenario)
        .expect("catalogued scenarios exist");
    let start = Tokio.now();
    let budget = 0..entry.budget;
    hunt.false_alarms = budget
        .filter(|s| run_seed(scenario, *s, Bugs::NONE).is_err())
        .count() as u64;
    hunt.clean_wall = start.elapsed();
    hunt
}

/// Runs `entry`'s scenario with `bugs` over its budget until a seed fails the way `entry`
/// declares; failures of any other kind are counted, not taken for a detection.
pub fn hunt_with(harness: &Harness, entry: Entry, bugs: Bugs) -> Hunt {
    let scenario = harness
        .find(entry.scenario)
        .expect("catalogued scenarios exist");
    let start = Tokio.now();
    let mut hunt = Hunt {
        entry,
        detected_at: None,
        seeds_until_detection: entry.budget,
        observed: None,
        unmatched: 0,
        wall: Duration::ZERO,
        false_alarms: 0,
        clean_wall: Duration::ZERO,
    };
    for seed in 0..entry.budget {
        let Err(failure) = run_seed(scenario, seed, bugs) else {
            continue;
        };
        let observed = Observed::of(&failure.message);
        if entry.expected.matches(&observed) {
            hunt.detected_at = Some(seed);
            hunt.seeds_until_detection = seed + 1;
            hunt.observed = Some(observed);
            break;
        }
        hunt.unmatched += 1;
        hunt.observed.get_or_insert(observed);
    }
    hunt.wall = start.elapsed();
    hunt
}

/// The hunts as a table, then each detection's replay and each miss.
pub fn table(hunts: &[Hunt]) -> String {
    let mut out = format!(
        "{:<4} {:<22} {:>9} {:>7} {:>10} {:>12} {:>10}\n",
        "bug", "scenario", "detected", "seeds", "wall", "false alarms", "real wall"
    );
    for h in hunts {
        let detected = if h.detected_at.is_some() { "yes" } else { "NO" };
        out += &format!(
            "{:<4} {:<22} {:>9} {:>7} {:>10.2?} {:>6}/{:<5} {:>10.2?}\n",
            h.entry.bug.id(),
            h.entry.scenario,
            detected,
            h.seeds_until_detection,
            h.wall,
            h.false_alarms,
            h.entry.budget,
            h.clean_wall
        );
    }
    for h in hunts {
        if let Some(replay) = h.replay_command() {
            out += &format!(
                "\n{} ({}):\n  expected: {}\n  observed: {}\n  replay: {replay}\n",
                h.entry.bug,
                h.entry.symptom,
                h.entry.expected,
                h.message()
            );
        }
    }
    for h in hunts.iter().filter(|h| h.detected_at.is_none()) {
        out += &format!(
            "\n{} MISSED: expected {}; {} seed(s) failed another way, first: {}\n",
            h.entry.bug,
            h.entry.expected,
            h.unmatched,
            h.message()
        );
    }
    out
}

/// The hunts as a JSON array.
pub fn to_json(hunts: &[Hunt]) -> String {
    let rows: Vec<_> = hunts
        .iter()
        .map(|h| {
            let expected = h.entry.expected;
            serde_json::json!({
                "bug": h.entry.bug.id(),
                "symptom": h.entry.symptom,
                "scenario": h.entry.scenario,
                "expected": {
                    "kind": expected.kind.name(),
                    "names": expected.names,
                    "cycle_through": expected.cycle_through,
                },
                "observed": h.observed.as_ref().map(|o| serde_json::json!({
                    "kind": o.kind.name(),
                    "headline": o.headline(),
                })),
                "matched": h.detected_at.is_some(),
                "detected": h.detected_at.is_some(),
                "unmatched_failures": h.unmatched,
                "seeds_until_detection": h.seeds_until_detection,
                "wall_ms": h.wall.as_secs_f64() * 1e3,
                "replay": h.replay_command(),
                "message": h.message(),
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
    use crate::scenarios;

    #[test]
    fn every_catalogued_bug_is_caught_and_the_real_code_passes() {
        for entry in CATALOGUE {
            let scenario = scenarios::find(entry.scenario).expect("exists");
            let hunt = hunt_with(&Harness::sigrelay(), *entry, Bugs::only(entry.bug));
            assert!(
                hunt.detected_at.is_some(),
                "{} was not caught by {} as {}; observed: {:?}",
                entry.bug,
                entry.scenario,
                entry.expected,
                hunt.observed
            );
            let clean = match scenario.backend() {
                "turmoil" => 10,
                _ => 50,
            };
            for seed in 0..clean {
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
                observed: Some(Observed::of("boom")),
                unmatched: 0,
                wall: Duration::from_millis(2),
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
            [
                "B1", "B2", "B2b", "B3", "B6", "B7", "B8", "B9", "B13", "H1", "P1", "P2", "P3",
                "P4", "P5", "G1", "G2", "G3", "G4", "G5"
            ]
        );
        assert!(parsed[0]["replay"]
            .as_str()
            .unwrap()
            .ends_with("--seed 3 --bug B1"));
    }

    /// A bug switched on in another bug's scenario makes it fail, but not the way the
    /// hunted entry declares: no detection. B13 (a lost cancel) deadlocks relay-churn with
    /// streamers left open; B1's entry waits for a writer stuck sending to an outlet, in
    /// a cycle through it.
    #[test]
    fn a_failure_of_another_kind_is_not_a_detection() {
        let b1 = *CATALOGUE
            .iter()
            .find(|e| e.bug == Bug::B1DisconnectThenDrain)
            .expect("catalogued");
        let hunt = hunt_with(&Harness::sigrelay(), b1, Bugs::only(Bug::B13LostCancel));
        assert!(hunt.unmatched > 0, "B13 makes relay-churn fail: {hunt:?}");
        assert_eq!(hunt.detected_at, None, "{:?}", hunt.observed);
        let json: serde_json::Value = serde_json::from_str(&to_json(&[hunt])).expect("valid JSON");
        assert_eq!(json[0]["matched"], false);
        assert_eq!(json[0]["expected"]["kind"], "deadlock");
        assert_ne!(json[0]["observed"]["kind"], serde_json::Value::Null);
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
