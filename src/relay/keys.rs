//! A subscriber's keys as the fan-out reads them: the set, and the same set as runs of
//! consecutive keys, so that finding which series of a frame it wants takes a few
//! comparisons rather than a walk. Keys are usually handed out in blocks and a writer's
//! frame usually carries one, so a subscriber's series in a frame are usually one run of
//! positions: the fan-out finds that run once, and the delivery hands it to the consumer
//! as a slice, with no filtering left to do.

use std::collections::BTreeSet;
use std::ops::{Range, RangeInclusive};

use crate::frame::{ChannelKey, Frame};

/// A key set, and its runs of consecutive keys in key order.
#[derive(Debug, Clone)]
pub(super) struct Keys {
    pub(super) set: BTreeSet<ChannelKey>,
    runs: Box<[RangeInclusive<u32>]>,
    /// The lowest and the highest key, raw: `None` for the empty set.
    span: Option<(u32, u32)>,
}

/// Where a key set's series lie in a frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Found {
    /// The frame has no series of the set.
    Nothing,
    /// The set's series are the frame's series at these consecutive positions.
    Run(Range<usize>),
    /// The frame's keys are consecutive and several runs of the set meet them: each run's
    /// positions follow from the frame's first key.
    Runs,
    /// The frame has series of the set, found only by a walk.
    Scattered,
}

impl Found {
    /// Whether the frame has a series of the set.
    pub(super) fn touches(&self) -> bool {
        *self != Found::Nothing
    }
}

impl Keys {
    pub(super) fn new(set: BTreeSet<ChannelKey>) -> Self {
        let mut runs: Vec<RangeInclusive<u32>> = Vec::new();
        for raw in set.iter().map(|k| k.raw()) {
            match runs.last_mut() {
                Some(run) if run.end().checked_add(1) == Some(raw) => {
                    *run = *run.start()..=raw;
                }
                _ => runs.push(raw..=raw),
            }
        }
        let span = runs.first().zip(runs.last());
        Keys {
            span: span.map(|(lowest, highest)| (*lowest.start(), *highest.end())),
            set,
            runs: runs.into(),
        }
    }

    /// Whether the frame's keys all lie within one run of this set: its first and last key
    /// do, and a run holds every key between them.
    pub(super) fn covers(&self, frame: &Frame) -> bool {
        let Some((first, last)) = frame_span(frame) else {
            return true;
        };
        let at = self.runs.partition_point(|run| *run.end() < first);
        let run = self.runs.get(at);
        run.is_some_and(|run| run.contains(&first) && run.contains(&last))
    }

    /// The runs, ascending: raw keys, first and last of each.
    pub(super) fn runs(&self) -> &[RangeInclusive<u32>] {
        &self.runs
    }

    /// Where this set's series lie in `frame`. A set wholly below or above the frame's keys
    /// finds nothing at once; otherwise the runs that meet the span of the frame's keys are
    /// found by bisection; when one does, the positions it covers follow from the
    /// frame's first key if the frame's keys are consecutive, or by two more bisections.
    /// Several runs meeting the span leave the positions to the runs, when the frame's keys
    /// are consecutive, or to a walk.
    #[inline]
    pub(super) fn find(&self, frame: &Frame) -> Found {
        let Some((low, high)) = frame_span(frame) else {
            return Found::Nothing;
        };
        match meets(self.span, low, high) {
            true => self.find_within(frame, low, high),
            false => Found::Nothing,
        }
    }

    /// The lowest and the highest key, raw: `None` for the empty set.
    pub(super) fn span(&self) -> Option<(u32, u32)> {
        self.span
    }

    /// [`find`](Self::find) for a frame whose keys run from `low` to `high`, once the set's
    /// span is known to meet them: exact whatever the span, which only saves the work.
    pub(super) fn find_within(&self, frame: &Frame, low: u32, high: u32) -> Found {
        let series = frame.series();
        let at = self.runs.partition_point(|run| *run.end() < low);
        let Some(run) = self.runs.get(at).filter(|run| *run.start() <= high) else {
            return Found::Nothing;
        };
        let consecutive = (high - low) as usize + 1 == series.len();
        let several = self.runs.get(at + 1).is_some_and(|r| *r.start() <= high);
        let (from, to) = ((*run.start()).max(low), (*run.end()).min(high));
        match (several, consecutive) {
            (false, true) => Found::Run((from - low) as usize..(to - low) as usize + 1),
            (false, false) => {
                let start = series.partition_point(|s| s.key.raw() < from);
                let end = series.partition_point(|s| s.key.raw() <= to);
                match start < end {
                    true => Found::Run(start..end),
                    false => Found::Nothing,
                }
            }
            (true, true) => Found::Runs,
            (true, false) => match frame.touches(&self.set) {
                true => Found::Scattered,
                false => Found::Nothing,
            },
        }
    }
}

/// The first and the last key of `frame`, raw: `None` for a frame of no series.
#[inline]
pub(super) fn frame_span(frame: &Frame) -> Option<(u32, u32)> {
    let series = frame.series();
    let (first, last) = series.first().zip(series.last())?;
    Some((first.key.raw(), last.key.raw()))
}

/// Whether a set of keys spanning `span` may have one from `low` to `high`.
#[inline]
pub(super) fn meets(span: Option<(u32, u32)>, low: u32, high: u32) -> bool {
    span.is_some_and(|(lowest, highest)| lowest <= high && low <= highest)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::{NodeId, Samples, Series};
    use proptest::strategy::Strategy;

    fn frame(channels: &BTreeSet<u16>) -> Frame {
        let series = |n: u16| Series {
            key: ChannelKey::leased(NodeId(1), n),
            timestamps: vec![0],
            samples: Samples::F64(vec![0.0]),
        };
        Frame::new(channels.iter().map(|&n| series(n)).collect()).expect("distinct keys")
    }

    proptest::proptest! {
        /// Whatever the runs and the frame, what `find` reports agrees with a plain filter
        /// of the frame's series by the set: nothing when there is none, the exact
        /// positions when it names them or the runs give them, and series when it says they
        /// are scattered. Half the frames have consecutive keys, the usual kind.
        #[test]
        fn found_series_are_the_wanted_ones(
            channels in proptest::prop_oneof![
                proptest::collection::btree_set(0u16..48, 0..24),
                (0u16..40, 0u16..12).prop_map(|(low, n)| (low..low + n).collect()),
            ],
            wanted in proptest::collection::btree_set(0u16..48, 0..24),
        ) {
            let frame = frame(&channels);
            let set: BTreeSet<ChannelKey> =
                wanted.iter().map(|&n| ChannelKey::leased(NodeId(1), n)).collect();
            let plain: Vec<usize> = (0..frame.series().len())
                .filter(|&i| set.contains(&frame.series()[i].key))
                .collect();
            let keys = Keys::new(set);
            let at = |series: &Series| frame.series().iter().position(|s| s.key == series.key);
            let folded = |walk: crate::frame::Wanted<'_>| {
                walk.fold(Vec::new(), |mut folded, s| {
                    folded.extend(at(s));
                    folded
                })
            };
            match keys.find(&frame) {
                Found::Nothing => proptest::prop_assert!(plain.is_empty()),
                Found::Run(run) => {
                    proptest::prop_assert_eq!(&folded(frame.series_at(run.clone())), &plain);
                    proptest::prop_assert_eq!(run.collect::<Vec<_>>(), plain);
                }
                Found::Runs => {
                    let walked: Vec<usize> =
                        frame.series_in_runs(keys.runs()).filter_map(at).collect();
                    proptest::prop_assert_eq!(&folded(frame.series_in_runs(keys.runs())), &plain);
                    proptest::prop_assert_eq!(walked, plain);
                }
                Found::Scattered => proptest::prop_assert!(!plain.is_empty()),
            }
        }
    }

    proptest::proptest! {
        /// A set covers a frame exactly when it holds every key of the frame and those keys
        /// lie in one run of it.
        #[test]
        fn covering_is_holding_every_key_in_one_run(
            channels in proptest::collection::btree_set(0u16..32, 0..12),
            writable in proptest::collection::btree_set(0u16..32, 0..32),
        ) {
            let frame = frame(&channels);
            let held = channels.iter().all(|n| writable.contains(n));
            let (low, high) = (channels.first().copied(), channels.last().copied());
            let one_run = match (low, high) {
                (Some(low), Some(high)) => (low..=high).all(|n| writable.contains(&n)),
                _ => true,
            };
            let set = writable.iter().map(|&n| ChannelKey::leased(NodeId(1), n)).collect();
            proptest::prop_assert_eq!(Keys::new(set).covers(&frame), held && one_run);
        }
    }

    /// Where the frame's keys are consecutive, a set in one run finds its positions and a
    /// set in several finds them from the runs; in a frame with holes, one run still finds
    /// its positions by bisection. No walk in any of these, the usual shapes.
    #[test]
    fn consecutive_keys_are_found_without_a_walk() {
        let set = |ns: &mut dyn Iterator<Item = u16>| -> Keys {
            Keys::new(ns.map(|n| ChannelKey::leased(NodeId(1), n)).collect())
        };
        let consecutive = frame(&(0..100).collect());
        assert_eq!(set(&mut (10..20)).find(&consecutive), Found::Run(10..20));
        assert_eq!(
            set(&mut (10..15).chain(30..35)).find(&consecutive),
            Found::Runs
        );
        assert_eq!(set(&mut (200..210)).find(&consecutive), Found::Nothing);
        let even = frame(&(0..50).map(|n| n * 2).collect());
        assert_eq!(set(&mut (2..7)).find(&even), Found::Run(1..4));
        assert_eq!(set(&mut [2, 6].into_iter()).find(&even), Found::Scattered);
    }

    #[test]
    fn runs_join_consecutive_keys_only() {
        let keys = [1u16, 2, 3, 7, 9, 10].map(|n| ChannelKey::leased(NodeId(1), n));
        let raw = |n: u16| ChannelKey::leased(NodeId(1), n).raw();
        let runs = Keys::new(keys.into_iter().collect()).runs;
        assert_eq!(
            &*runs,
            &[raw(1)..=raw(3), raw(7)..=raw(7), raw(9)..=raw(10)]
        );
    }
}
