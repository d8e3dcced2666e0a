//! Faults drawn from a run's RNG: a [`Chaos`] plan says which addresses may fail, how, how
//! often and for how long, and [`MemoryNet::chaos`](super::MemoryNet::chaos) plays it — so
//! the seed picks every crash and partition, and a failing seed replays them exactly.

use std::error::Error;
use std::fmt;
use std::time::Duration;

use crate::rt::Rng;

/// A fault an address can suffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Fault {
    /// Every connection to the address breaks and new ones are refused until it ends
    /// ([`cut`](super::MemoryNet::cut), then [`heal`](super::MemoryNet::heal)).
    Crash,
    /// Every connection to the address falls silent both ways until it ends, without
    /// breaking ([`hold`](super::MemoryNet::hold), then
    /// [`release`](super::MemoryNet::release)).
    Partition,
}

/// Faults to draw: `count` of them, one after another, each on an address and of a kind
/// drawn from those given, after a quiet gap and for an outage drawn between their bounds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chaos {
    /// The addresses faults fall on.
    pub addresses: Vec<String>,
    /// The kinds of fault to draw from.
    pub faults: Vec<Fault>,
    /// How many faults in all.
    pub count: usize,
    /// The shortest and longest quiet time before each fault.
    pub gap: (Duration, Duration),
    /// The shortest and longest time each fault lasts.
    pub outage: (Duration, Duration),
}

/// One fault a [`Chaos`] plan played: when it began (on the runtime's clock, from the start
/// of the plan), where, what, and for how long.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Injected {
    /// When the fault began, since the plan started.
    pub at: Duration,
    /// The address it fell on.
    pub address: String,
    /// What it was.
    pub fault: Fault,
    /// How long it lasted: the drawn outage, or longer if the runtime's timer fired late.
    pub outage: Duration,
}

/// A [`Chaos`] plan that cannot be played.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChaosError {
    /// No address to fail.
    NoAddresses,
    /// No kind of fault to draw.
    NoFaults,
    /// A range whose shortest bound is above its longest: which one.
    EmptyRange(&'static str),
}

impl fmt::Display for ChaosError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NoAddresses => f.write_str("a chaos plan needs at least one address"),
            Self::NoFaults => f.write_str("a chaos plan needs at least one kind of fault"),
            Self::EmptyRange(which) => {
                write!(
                    f,
                    "the chaos plan's {which} has its shortest bound above its longest"
                )
            }
        }
    }
}

impl Error for ChaosError {}

/// The next fault of a plan: the gap before it, and the fault.
pub(super) struct Draw {
    pub(super) gap: Duration,
    pub(super) address: String,
    pub(super) fault: Fault,
    pub(super) outage: Duration,
}

impl Chaos {
    /// Whether the plan can be played.
    pub fn validate(&self) -> Result<(), ChaosError> {
        if self.addresses.is_empty() {
            return Err(ChaosError::NoAddresses);
        }
        if self.faults.is_empty() {
            return Err(ChaosError::NoFaults);
        }
        for (which, (min, max)) in [("gap", self.gap), ("outage", self.outage)] {
            if min > max {
                return Err(ChaosError::EmptyRange(which));
            }
        }
        Ok(())
    }

    /// Draws the next fault from `rng`; the plan is valid.
    pub(super) fn draw(&self, rng: &mut Rng) -> Draw {
        let mut pick = |n: usize| rng.below(n as u64) as usize;
        let address = self.addresses[pick(self.addresses.len())].clone();
        let fault = self.faults[pick(self.faults.len())];
        let gap = between(rng, self.gap);
        let outage = between(rng, self.outage);
        Draw {
            gap,
            address,
            fault,
            outage,
        }
    }
}

/// A time between `min` and `max`, both included.
fn between(rng: &mut Rng, (min, max): (Duration, Duration)) -> Duration {
    let spread = (max - min).as_nanos().min(u128::from(u64::MAX - 1)) as u64;
    min + Duration::from_nanos(rng.below(spread + 1))
}
