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
    /// B1: a stopping streamer disconnects before it drains, against a delta that (like the
    /// original's) serves no control request while a send waits.
    B1DisconnectThenDrain,
    /// B2: the fan-out waits on a slow lossy streamer without a deadline.
    B2SlowStreamerBlocksFanOut,
    /// B2b: the first "fix" of B2 — a timed-out send ends the fan-out, so every later streamer
    /// misses the frame, uncounted.
    B2bTimeoutSkipsLaterStreamers,
    /// B3: a dead subscriber stays connected — the peer server writes with no deadline and
    /// never takes a silent peer for gone, so a peer that vanished without a reset keeps
    /// its server (and the server's streamer) forever.
    B3DeadPeerStaysConnected,
    /// B6: the tapper acknowledges a demand before applying it, so the open-ack is no
    /// delivery barrier.
    B6AckBeforeDemandApplied,
    /// B7: a real failure masked by a sibling's cancellation — `wait` returns the first ending
    /// recorded in time, cancellations included.
    B7MaskedFailure,
    /// B8: a routine cancelled while backing off before a restart reports success, so its
    /// result depends on when the cancel arrived.
    B8RetryResultDependsOnTiming,
    /// B9: a restartable routine is restarted after it returned normally.
    B9RestartAfterReturn,
    /// B13: the relay loses its cancel: streamers still open at the close deadline are left
    /// running.
    B13LostCancel,
    /// H1: close racing a starting streamer — the streamer takes its demand inlet only once it
    /// runs, and close gives the inlet up before waiting for streamers.
    H1CloseRacesStartingStreamer,
    /// P1: a pipeline's generator never closes its channel — after its source ends it
    /// keeps its sender, so every stage waits for more input forever.
    P1GeneratorNeverCloses,
    /// P2: a pipeline stage runs with no deadline: the item timeout is ignored, so one
    /// request that is never answered hangs its worker and then the run.
    P2StageWithoutDeadline,
    /// P3: an interval heartbeat sent with a blocking send that nobody reads: the worker
    /// stops at its second beat.
    P3BlockingHeartbeat,
    /// P4: a steward that starts a new ward without stopping the hung one.
    P4StewardStartsBeforeStopping,
    /// P5: replicated requests whose losers are never cancelled.
    P5LosersNeverCancelled,
    /// G1: a name claim whose registration failed or timed out is taken for won, so the
    /// actor starts unregistered and a second node starts another.
    G1StartAfterRegistrationTimeout,
    /// G3: a leader that keeps acting after its lease could have expired, beside its
    /// successor.
    G3LeaderOutlivesLease,
    /// G2: a name released by address: the node deletes the key if the current holder is
    /// itself — a late release deletes the same node's newer claim.
    G2DeregisterByAddress,
    /// G4: `Fastest` waits for every member's answer before returning the first.
    G4FastestWaitsForAll,
    /// G5: a resend that also sends again to members that answered with an application
    /// error: processed twice.
    G5RetryApplicationError,
}

impl Bug {
    /// Every catalogued bug.
    pub const ALL: [Bug; 20] = [
        Bug::B1DisconnectThenDrain,
        Bug::B2SlowStreamerBlocksFanOut,
        Bug::B2bTimeoutSkipsLaterStreamers,
        Bug::B3DeadPeerStaysConnected,
        Bug::B6AckBeforeDemandApplied,
        Bug::B7MaskedFailure,
        Bug::B8RetryResultDependsOnTiming,
        Bug::B9RestartAfterReturn,
        Bug::B13LostCancel,
        Bug::H1CloseRacesStartingStreamer,
        Bug::P1GeneratorNeverCloses,
        Bug::P2StageWithoutDeadline,
        Bug::P3BlockingHeartbeat,
        Bug::P4StewardStartsBeforeStopping,
        Bug::P5LosersNeverCancelled,
        Bug::G1StartAfterRegistrationTimeout,
        Bug::G2DeregisterByAddress,
        Bug::G3LeaderOutlivesLease,
        Bug::G4FastestWaitsForAll,
        Bug::G5RetryApplicationError,
    ];

    /// The catalogue's short id: `B7`, `B8`, ….
    pub fn id(self) -> &'static str {
        match self {
            Bug::B1DisconnectThenDrain => "B1",
            Bug::B2SlowStreamerBlocksFanOut => "B2",
            Bug::B2bTimeoutSkipsLaterStreamers => "B2b",
            Bug::B3DeadPeerStaysConnected => "B3",
            Bug::B6AckBeforeDemandApplied => "B6",
            Bug::B7MaskedFailure => "B7",
            Bug::B8RetryResultDependsOnTiming => "B8",
            Bug::B9RestartAfterReturn => "B9",
            Bug::B13LostCancel => "B13",
            Bug::H1CloseRacesStartingStreamer => "H1",
            Bug::P1GeneratorNeverCloses => "P1",
            Bug::P2StageWithoutDeadline => "P2",
            Bug::P3BlockingHeartbeat => "P3",
            Bug::P4StewardStartsBeforeStopping => "P4",
            Bug::P5LosersNeverCancelled => "P5",
            Bug::G1StartAfterRegistrationTimeout => "G1",
            Bug::G3LeaderOutlivesLease => "G3",
            Bug::G2DeregisterByAddress => "G2",
            Bug::G4FastestWaitsForAll => "G4",
            Bug::G5RetryApplicationError => "G5",
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

    /// The set as one number, to keep in an atomic.
    pub(crate) fn bits(self) -> u64 {
        self.0
    }

    /// The set [`bits`](Self::bits) gave.
    pub(crate) fn from_bits(bits: u64) -> Self {
        Bugs(bits)
    }
}
