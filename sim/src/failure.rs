//! A failed seed as data: what failed, how, the wait-for graph of a deadlock or leak, the
//! schedule and the event log of the run — serialisable as JSON, and replayable.

use std::time::Duration;

use serde::{Serialize, Serializer};
use sigrelay::bugs::{Bug, Bugs};

use crate::scenario::Scenario;
use crate::sweep;
use crate::verdict::{Kind, Observed};

/// One failed seed of a scenario.
#[derive(Debug, Clone, Serialize)]
pub struct Failure {
    /// The scenario that failed.
    #[serde(serialize_with = "name_of")]
    pub scenario: &'static Scenario,
    /// The backend it ran on.
    pub backend: &'static str,
    /// The seed.
    pub seed: u64,
    /// The bugs reintroduced for the run (none for the real code).
    #[serde(serialize_with = "ids_of")]
    pub bugs: Bugs,
    /// What kind of failure, read off the report.
    pub kind: Kind,
    /// The blocked tasks of a deadlock or leak report, and the cycle among them.
    pub graph: Option<WaitGraph>,
    /// The whole report.
    pub message: String,
    /// The shuttle schedule that failed, if the backend has one: replaying it reproduces
    /// the exact interleaving.
    pub schedule: Option<String>,
    /// The failing run's event log, up to the failure.
    pub log: Vec<String>,
    /// The one command that replays it.
    pub replay_command: String,
}

/// The wait-for graph of a deadlock or leak report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WaitGraph {
    /// Each live task and what it waits on.
    pub tasks: Vec<BlockedTask>,
    /// The tasks of the cycle the report spells out, in order, the first repeated last.
    pub cycle: Vec<String>,
}

/// One live task of a wait-for graph.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BlockedTask {
    /// The task's name.
    pub name: String,
    /// Its state and where it was spawned, as the report gives them.
    pub state: String,
    /// What it waits on, one resource and who holds its other end per line.
    pub waits: Vec<String>,
}

impl Failure {
    /// A failure of `scenario`'s `seed` with `bugs`, from the checker's report.
    pub fn new(
        scenario: &'static Scenario,
        seed: u64,
        bugs: Bugs,
        message: String,
        schedule: Option<String>,
        replay_command: String,
    ) -> Self {
        Failure {
            scenario,
            backend: scenario.backend(),
            seed,
            bugs,
            kind: Kind::Violation,
            graph: None,
            message: String::new(),
            schedule,
            log: Vec::new(),
            replay_command,
        }
        .reported(message)
    }

    /// This failure with `report` as its report, and the kind and graph read off it.
    fn reported(self, report: String) -> Self {
        Failure {
            kind: Observed::of(&report).kind,
            graph: WaitGraph::of(&report),
            message: report,
            ..self
        }
    }

    /// Runs the failing seed again — its stored schedule if it has one — and returns the
    /// new failure, or the virtual time of a run that now passes.
    pub fn replay(&self) -> Result<Duration, Box<Failure>> {
        let outcome = match &self.schedule {
            Some(schedule) => sweep::replay_schedule(self.scenario, self.seed, self.bugs, schedule),
            None => sweep::run_seed(self.scenario, self.seed, self.bugs)
                .map(|(_, virtual_time)| virtual_time)
                .map_err(|f| f.message),
        };
        outcome.map_err(|message| Box::new(self.clone().reported(message)))
    }

    /// The failure as one JSON object.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).expect("a failure serialises")
    }
}

impl WaitGraph {
    /// The graph of a deadlock or leak report; `None` for any other failure.
    pub fn of(report: &str) -> Option<Self> {
        let graph = report.split_once("wait-for graph:\n")?.1;
        let mut tasks: Vec<BlockedTask> = Vec::new();
        let mut cycle = Vec::new();
        for line in graph.lines() {
            if let Some(task) = line.strip_prefix("  task ") {
                let (name, state) = task.split_once(" (").unwrap_or((task, ""));
                tasks.push(BlockedTask {
                    name: unquote(name),
                    state: state.trim_end_matches(')').to_string(),
                    waits: Vec::new(),
                });
            } else if let (Some(wait), Some(task)) = (line.strip_prefix("    "), tasks.last_mut()) {
                task.waits.push(wait.to_string());
            } else if let Some(path) = line.strip_prefix("cycle: ") {
                cycle = path.split(" -> ").map(unquote).collect();
            }
        }
        Some(WaitGraph { tasks, cycle })
    }
}

fn unquote(name: &str) -> String {
    name.trim().trim_matches('"').to_string()
}

fn name_of<S: Serializer>(scenario: &&'static Scenario, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(scenario.name)
}

fn ids_of<S: Serializer>(bugs: &Bugs, s: S) -> Result<S::Ok, S::Error> {
    let ids: Vec<&str> = Bug::ALL
        .iter()
        .filter(|b| bugs.has(**b))
        .map(|b| b.id())
        .collect();
    ids.serialize(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_deadlock_report_reads_as_a_graph() {
        let report = "shuttle deadlock: every task is blocked\nwait-for graph:\n  task \"main\" (blocked, spawned at a.rs:1:1)\n    waits to receive from channel \"b\"; other end held by \"first\"\n  task \"first\" (blocked, spawned at a.rs:2:2)\n    waits to receive from channel \"a\"; other end held by \"main\"\ncycle: \"main\" -> \"first\" -> \"main\"\n";
        let graph = WaitGraph::of(report).expect("a graph");
        assert_eq!(graph.cycle, ["main", "first", "main"]);
        assert_eq!(graph.tasks.len(), 2);
        assert_eq!(graph.tasks[1].name, "first");
        assert_eq!(graph.tasks[1].state, "blocked, spawned at a.rs:2:2");
        assert_eq!(
            graph.tasks[1].waits,
            ["waits to receive from channel \"a\"; other end held by \"main\""]
        );
        assert_eq!(WaitGraph::of("assertion failed: a == b"), None);
    }
}
