//! What flows through the delta: frames and gap markers in, deliveries out, the policy of
//! a subscriber whose outlet is full, and a subscriber as the fan-out sees it.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use super::keys::{Found, Keys};
use crate::frame::{ChannelKey, Frame, Series, Wanted, WriterGroup};
use crate::rt::Runtime;

/// What the delta's inlet carries: frames, and gaps that upstream losses leave in them.
#[derive(Debug, Clone)]
pub enum Inflow {
    /// A frame to fan out.
    Frame(Frame),
    /// Frames of these keys may be missing from here on back to the previous frame: a peer
    /// tap's connection broke, or the peer's server dropped frames. Every subscriber of one
    /// of the keys is told so on its next delivery.
    Gap(Arc<BTreeSet<ChannelKey>>),
}

impl From<Frame> for Inflow {
    fn from(frame: Frame) -> Self {
        Inflow::Frame(frame)
    }
}

/// What a subscriber receives: a view of a frame through the keys the subscriber had when the
/// frame was fanned out, and the gap marker of what it missed just before it. Building one
/// clones two pointers: the frame is shared with every other subscriber, the keys with every
/// delivery since the subscriber's last key update. Where the fan-out found the wanted series
/// at consecutive positions of the frame, the delivery holds them, and reading them is
/// walking a slice; where the frame's keys are consecutive, each run of the subscriber's
/// keys is such a slice.
#[derive(Debug, Clone)]
pub struct Delivery {
    pub(super) frame: Frame,
    pub(super) keys: Arc<Keys>,
    pub(super) found: Found,
    pub(super) missed: u64,
    pub(super) interrupted: bool,
}

impl Delivery {
    /// The series of the subscriber's keys, ordered by key, without allocating.
    #[inline]
    pub fn series(&self) -> Wanted<'_> {
        match &self.found {
            Found::Run(run) => self.frame.series_at(run.clone()),
            Found::Runs => self.frame.series_in_runs(self.keys.runs()),
            Found::Nothing | Found::Scattered => self.frame.wanted(&self.keys.set),
        }
    }

    /// The series of `key`, if the frame has one and the subscriber wants it.
    pub fn get(&self, key: ChannelKey) -> Option<&Series> {
        self.keys.set.contains(&key).then(|| self.frame.get(key))?
    }

    /// The subscriber's keys when the frame was fanned out.
    pub fn keys(&self) -> &BTreeSet<ChannelKey> {
        &self.keys.set
    }

    /// Frames dropped for this subscriber since its previous delivery (a gap marker).
    pub fn missed(&self) -> u64 {
        self.missed
    }

    /// Whether frames of some of the subscriber's keys were lost upstream since its previous
    /// delivery, in a number nobody knows (a gap marker of unknown size): a peer connection
    /// broke or a peer's server dropped frames.
    pub fn interrupted(&self) -> bool {
        self.interrupted
    }

    /// Whether this delivery follows a gap of either kind.
    pub fn follows_gap(&self) -> bool {
        self.missed > 0 || self.interrupted
    }

    /// The group of the writer that wrote the frame, if it had one.
    pub fn group(&self) -> Option<WriterGroup> {
        self.frame.group()
    }

    /// Whether two deliveries share one written frame.
    pub fn shares_frame(&self, other: &Delivery) -> bool {
        self.frame.ptr_eq(&other.frame)
    }
}

/// What happens when a subscriber's outlet is full.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Policy {
    /// Wait for room: the subscriber slows the fan-out down, and loses nothing.
    Lossless,
    /// Wait at most `patience` (zero: not at all), then miss the frame.
    Lossy {
        /// How long a frame may wait for this subscriber.
        patience: Duration,
    },
}

/// A connected subscriber as the fan-out sees it: its keys, the groups it excludes, its
/// policy, its outlet and the gap it is owed.
pub(super) struct Subscriber<R: Runtime> {
    pub(super) keys: Arc<Keys>,
    pub(super) exclude: BTreeSet<WriterGroup>,
    pub(super) policy: Policy,
    pub(super) outlet: R::Sender<Delivery>,
    pub(super) missed: u64,
    pub(super) interrupted: bool,
}

impl<R: Runtime> Subscriber<R> {
    /// Where the series the subscriber wants lie in `frame`, whose keys run from `low` to
    /// `high` (the table's scan has found that its span meets them): nowhere if its
    /// writer's group is excluded.
    pub(super) fn find_within(&self, frame: &Frame, low: u32, high: u32) -> Found {
        match frame.group().is_some_and(|g| self.exclude.contains(&g)) {
            true => Found::Nothing,
            false => self.keys.find_within(frame, low, high),
        }
    }

    /// The delivery of `frame`, whose wanted series were `found`.
    pub(super) fn delivery(&self, frame: &Frame, found: Found) -> Delivery {
        Delivery {
            frame: frame.clone(),
            keys: self.keys.clone(),
            found,
            missed: self.missed,
            interrupted: self.interrupted,
        }
    }

    pub(super) fn delivered(&mut self) {
        (self.missed, self.interrupted) = (0, false);
    }
}
