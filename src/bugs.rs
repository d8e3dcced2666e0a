//! The bug catalogue's switches: known bugs of the originals, reintroduced at their real code
//! sites so the harness can prove it catches each one.
//!
//! A [`Bugs`] set travels with the configuration of the component it affects (a signal group,
//! a relay) rather than living in a global, so tests running side by side cannot switch each
//! other's bugs on. The set is empty unless a test or `sim bugs` fills it; production code
//! never does. Hidden from the documentation: this is the harness's lever, not an API.

use std::fmt;

/// One catalogued bug.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Bug {
    /// B7: a real failure masked by a sibling's cancellation — `wait` returns the first ending
    /// recorded in time, cancellations included.
    B7MaskedFailure,
    /// B8: a routine cancelled while backing off before a restart reports success, so its
    /// result depends on when the cancel arrived.
    B8RetryResultDependsOnTiming,
    /// B9: a restartable routine is restarted after it returned normally.
    B9RestartAfterReturn,
}

impl Bug {
    /// Every catalogued bug.
    pub const ALL: [Bug; 3] = [
        Bug::B7MaskedFailure,
        Bug::B8RetryResultDependsOnTiming,
        Bug::B9RestartAfterReturn,
    ];

    /// The catalogue's short id: `B7`, `B8`, ….
    pub fn id(self) -> &'static str {
        match self {
            Bug::B7MaskedFailure => "B7",
            Bug::B8RetryResultDependsOnTiming => "B8",
            Bug::B9RestartAfterReturn => "B9",
        }
    }

    /// The bug with catalogue id `id` (`B7`, `b7`, …).
    pub fn from_id(id: &str) -> Option<Bug> {
        Bug::ALL
            .into_iter()
            .find(|b| b.id().eq_ignore_ascii_case(id))
    }

    fn bit(self) -> u64 {
        1 << self as u64
    }
}

impl fmt::Display for Bug {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.id())
    }
}

/// A set of reintroduced bugs; empty by default.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Bugs(u64);

impl Bugs {
    /// No bug: the real code.
    pub const NONE: Bugs = Bugs(0);

    /// The set holding only `bug`.
    pub fn only(bug: Bug) -> Self {
        Bugs(bug.bit())
    }

    /// Whether `bug` is reintroduced.
    pub fn has(self, bug: Bug) -> bool {
        self.0 & bug.bit() != 0
    }
}
