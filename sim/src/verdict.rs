//! What a catalogued bug must make a run fail with, what a failed run did fail with, and
//! whether the two match: a detection counts only when the run failed the declared way,
//! naming what the bug's failure must name.

use std::fmt;

/// The kinds of failure the harness reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// Every task blocked, no timer pending: a wait-for graph.
    Deadlock,
    /// The body returned while tasks it spawned can never finish.
    Leak,
    /// An oracle or scenario assertion failed, naming the property.
    Violation,
    /// A routine panicked and its group reported it.
    Panic,
    /// A simulation ran out of time with work still pending (turmoil).
    Stall,
    /// Two runs of one seed logged different events.
    Nondeterminism,
}

impl Kind {
    /// The name in reports and JSON.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Deadlock => "deadlock",
            Kind::Leak => "leak",
            Kind::Violation => "violation",
            Kind::Panic => "panic",
            Kind::Stall => "stall",
            Kind::Nondeterminism => "nondeterminism",
        }
    }
}

/// The failure a bug must cause: its kind, the phrases its report must contain (task and
/// resource names, the violated property), and the tasks the reported cycle must pass.
#[derive(Debug, Clone, Copy)]
pub struct Expected {
    /// The kind of failure.
    pub kind: Kind,
    /// Phrases the report must contain.
    pub names: &'static [&'static str],
    /// Tasks the `cycle:` line must name (deadlocks).
    pub cycle_through: &'static [&'static str],
}

/// A failure as observed: its kind and its report.
#[derive(Debug, Clone)]
pub struct Observed {
    /// The kind, read off the report.
    pub kind: Kind,
    /// The whole report.
    pub report: String,
}

impl Observed {
    /// Reads the kind off a failure's report.
    pub fn of(report: &str) -> Self {
        let kind = if report.contains("deadlock: every task is blocked") {
            Kind::Deadlock
        } else if report.contains("leak: the body returned") {
            Kind::Leak
        } else if report.contains("cause: Panicked") {
            Kind::Panic
        } else if report.starts_with("nondeterminism:") {
            Kind::Nondeterminism
        } else if report.contains("without completing") {
            Kind::Stall
        } else {
            Kind::Violation
        };
        Observed {
            kind,
            report: report.to_string(),
        }
    }

    /// The first line of the report.
    pub fn headline(&self) -> &str {
        self.report.lines().next().unwrap_or_default()
    }

    /// The `cycle:` line of a wait-for graph, if any.
    fn cycle(&self) -> Option<&str> {
        self.report.lines().find(|l| l.starts_with("cycle: "))
    }
}

impl Expected {
    /// Whether `observed` is this failure: same kind, every phrase present, and the cycle
    /// through every task it must pass.
    pub fn matches(&self, observed: &Observed) -> bool {
        let named = self.names.iter().all(|n| observed.report.contains(n));
        let cycle = match self.cycle_through {
            [] => true,
            tasks => observed
                .cycle()
                .is_some_and(|c| tasks.iter().all(|t| c.contains(&format!("\"{t}\"")))),
        };
        self.kind == observed.kind && named && cycle
    }
}

impl fmt::Display for Expected {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.kind.name())?;
        if !self.names.is_empty() {
            write!(f, " naming {}", self.names.join(", "))?;
        }
        if !self.cycle_through.is_empty() {
            write!(f, ", cycle through {}", self.cycle_through.join(", "))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const B1_LIKE: Expected = Expected {
        kind: Kind::Deadlock,
        names: &[
            "task \"relay/delta\"",
            "waits to send on channel \"delta:outlet:",
        ],
        cycle_through: &["relay/delta"],
    };

    #[test]
    fn a_match_needs_the_kind_the_names_and_the_cycle() {
        let report = "shuttle deadlock: every task is blocked\n  task \"relay/delta\" (blocked)\n    waits to send on channel \"delta:outlet:3\"\ncycle: \"relay/delta\" -> \"early\" -> \"relay/delta\"";
        assert!(B1_LIKE.matches(&Observed::of(report)));
        let elsewhere = report.replace("cycle: \"relay/delta\" -> ", "cycle: \"x\" -> ");
        let elsewhere = elsewhere.replace("-> \"relay/delta\"", "-> \"x\"");
        assert!(
            !B1_LIKE.matches(&Observed::of(&elsewhere)),
            "cycle misses the delta"
        );
        let unnamed = report.replace("delta:outlet:3", "delta:control");
        assert!(!B1_LIKE.matches(&Observed::of(&unnamed)), "another channel");
        let violation = "assertion failed: task \"relay/delta\" waits to send on channel \"delta:outlet:1\"\ncycle: \"relay/delta\"";
        assert_eq!(Observed::of(violation).kind, Kind::Violation);
        assert!(!B1_LIKE.matches(&Observed::of(violation)), "another kind");
    }
}
