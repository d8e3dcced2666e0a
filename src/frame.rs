//! Frames: what the relay moves. A frame is a set of series, one per channel, each a run of
//! timestamped samples. A written frame is one allocation shared by every streamer that
//! receives it: delivering it clones a pointer, and a streamer reads only the series of the
//! keys it wants, through an iterator that allocates nothing.

use std::collections::BTreeSet;
use std::fmt;
use std::ops::RangeInclusive;
use std::sync::Arc;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A node of the cluster. Node 0 is reserved: it leases no channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct NodeId(pub u16);

/// A channel key: the node that holds the channel's lease in the high 16 bits, the channel's
/// number on that node in the low 16. Free channels (leaseholder 0) have no leaseholder:
/// their writes go straight to the delta.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ChannelKey(u32);

impl ChannelKey {
    /// Channel `local` leased by `node`.
    ///
    /// # Panics
    /// If `node` is node 0, which leases nothing: use [`ChannelKey::free`].
    pub fn leased(node: NodeId, local: u16) -> Self {
        assert!(
            node.0 != 0,
            "node 0 leases no channel; free channels use ChannelKey::free"
        );
        ChannelKey((u32::from(node.0) << 16) | u32::from(local))
    }

    /// Free channel `local`: no leaseholder, not stored.
    pub fn free(local: u16) -> Self {
        ChannelKey(u32::from(local))
    }

    /// The node holding the lease, or `None` for a free channel.
    pub fn leaseholder(self) -> Option<NodeId> {
        let node = (self.0 >> 16) as u16;
        (node != 0).then_some(NodeId(node))
    }

    /// The key as one number.
    pub fn raw(self) -> u32 {
        self.0
    }
}

impl fmt::Display for ChannelKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.leaseholder() {
            Some(node) => write!(f, "{}:{}", node.0, self.0 & 0xffff),
            None => write!(f, "free:{}", self.0),
        }
    }
}

/// Samples of one channel.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Samples {
    /// 64-bit floats.
    F64(Vec<f64>),
    /// 64-bit integers.
    I64(Vec<i64>),
}

impl Samples {
    /// How many samples.
    pub fn len(&self) -> usize {
        match self {
            Samples::F64(v) => v.len(),
            Samples::I64(v) => v.len(),
        }
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The samples of one channel with their timestamps (nanoseconds).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Series {
    /// The channel.
    pub key: ChannelKey,
    /// One timestamp per sample.
    pub timestamps: Vec<i64>,
    /// The samples.
    pub samples: Samples,
}

/// Why a frame could not be built.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FrameError {
    /// Two series of one frame have the same key.
    DuplicateKey(ChannelKey),
    /// A series has a different number of timestamps and samples.
    LengthMismatch {
        /// The channel.
        key: ChannelKey,
        /// Its timestamps.
        timestamps: usize,
        /// Its samples.
        samples: usize,
    },
}

impl fmt::Display for FrameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FrameError::DuplicateKey(k) => write!(f, "channel {k} appears twice in one frame"),
            FrameError::LengthMismatch {
                key,
                timestamps,
                samples,
            } => write!(
                f,
                "channel {key}: {timestamps} timestamps for {samples} samples"
            ),
        }
    }
}

impl std::error::Error for FrameError {}

/// A group of writers: a writer may carry one, every frame it writes says so, and a streamer
/// may exclude groups so it receives nothing their writers write (Synnax's control
/// subjects and excluded groups).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct WriterGroup(pub u32);

impl fmt::Display for WriterGroup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "group {}", self.0)
    }
}

/// A frame of telemetry: series ordered by key, and the group of the writer that wrote it.
/// Cloning shares it.
#[derive(Debug, Clone, PartialEq)]
pub struct Frame {
    series: Arc<[Series]>,
    group: Option<WriterGroup>,
}

impl Frame {
    /// A frame of these series, ordered by key.
    pub fn new(mut series: Vec<Series>) -> Result<Self, FrameError> {
        series.sort_by_key(|s| s.key);
        if let Some(pair) = series.windows(2).find(|w| w[0].key == w[1].key) {
            return Err(FrameError::DuplicateKey(pair[0].key));
        }
        if let Some(s) = series
            .iter()
            .find(|s| s.timestamps.len() != s.samples.len())
        {
            let (timestamps, samples) = (s.timestamps.len(), s.samples.len());
            return Err(FrameError::LengthMismatch {
                key: s.key,
                timestamps,
                samples,
            });
        }
        Ok(Frame {
            series: series.into(),
            group: None,
        })
    }

    /// Every series, ordered by key.
    pub fn series(&self) -> &[Series] {
        &self.series
    }

    /// The group of the writer that wrote the frame, if it had one.
    pub fn group(&self) -> Option<WriterGroup> {
        self.group
    }

    /// The same series, written by `group`. Shares the series: allocates nothing.
    pub fn with_group(self, group: Option<WriterGroup>) -> Frame {
        Frame { group, ..self }
    }

    /// The series of `key`, if the frame has one.
    pub fn get(&self, key: ChannelKey) -> Option<&Series> {
        let i = self.series.binary_search_by_key(&key, |s| s.key).ok()?;
        Some(&self.series[i])
    }

    /// The series whose keys are in `keys`, in key order, without allocating. A key set
    /// wholly below or above the frame's keys finds nothing at once. Otherwise each key is
    /// found in the series after the one found last (that series first, then by bisection),
    /// unless there are many more keys than series: then each series within the keys' span
    /// is looked up in the keys.
    pub fn wanted<'a>(&'a self, keys: &'a BTreeSet<ChannelKey>) -> Wanted<'a> {
        let (Some(first), Some(last)) = (self.series.first(), self.series.last()) else {
            return Wanted(Walk::Done);
        };
        let (Some(&low), Some(&high)) = (keys.first(), keys.last()) else {
            return Wanted(Walk::Done);
        };
        if high < first.key || last.key < low {
            return Wanted(Walk::Done);
        }
        if keys.len() <= KEYS_WALKED_PER_SERIES * self.series.len() {
            return Wanted(Walk::ByKey(&self.series, keys.iter()));
        }
        let from = self.series.partition_point(|s| s.key < low);
        let to = self.series.partition_point(|s| s.key <= high);
        Wanted(Walk::BySeries(self.series[from..to].iter(), keys))
    }

    /// The series at `positions`, which a caller found to be the ones it wants.
    #[inline]
    pub(crate) fn series_at(&self, positions: std::ops::Range<usize>) -> Wanted<'_> {
        Wanted(Walk::Run(self.series[positions].iter()))
    }

    /// The series whose raw keys lie in `runs` (ascending, disjoint), for a frame whose keys
    /// are consecutive: each run's positions follow from the frame's first key, and no key
    /// is looked up.
    #[inline]
    pub(crate) fn series_in_runs<'a>(&'a self, runs: &'a [RangeInclusive<u32>]) -> Wanted<'a> {
        let base = self.series.first().map_or(0, |s| s.key.raw());
        let walk = RunWalk {
            series: &self.series,
            base,
            runs: runs.iter(),
            run: [].iter(),
        };
        Wanted(Walk::Runs(walk))
    }

    /// Whether the frame has a series of any key in `keys`.
    pub fn touches(&self, keys: &BTreeSet<ChannelKey>) -> bool {
        self.wanted(keys).next().is_some()
    }

    /// Whether two handles share one frame.
    pub fn ptr_eq(&self, other: &Frame) -> bool {
        Arc::ptr_eq(&self.series, &other.series)
    }
}

/// A frame travels as its writer's group and its series; decoding checks it as
/// [`Frame::new`] does.
impl Serialize for Frame {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        (self.group, self.series()).serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for Frame {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let (group, series) = <(Option<WriterGroup>, Vec<Series>)>::deserialize(deserializer)?;
        let frame = Frame::new(series).map_err(serde::de::Error::custom)?;
        Ok(frame.with_group(group))
    }
}

/// Up to how many keys per series [`Frame::wanted`] walks the keys rather than the series.
const KEYS_WALKED_PER_SERIES: usize = 8;

/// The series of a frame that a key set wants: see [`Frame::wanted`].
#[derive(Debug, Clone)]
pub struct Wanted<'a>(Walk<'a>);

#[derive(Debug, Clone)]
enum Walk<'a> {
    /// Nothing is wanted.
    Done,
    /// The wanted series are these consecutive ones.
    Run(std::slice::Iter<'a, Series>),
    /// The wanted series are those of runs of keys, in a frame of consecutive keys.
    Runs(RunWalk<'a>),
    /// Each key is found in the series left after the last find.
    ByKey(
        &'a [Series],
        std::collections::btree_set::Iter<'a, ChannelKey>,
    ),
    /// Many more keys than series: each series is looked up in the keys.
    BySeries(std::slice::Iter<'a, Series>, &'a BTreeSet<ChannelKey>),
}

impl<'a> Iterator for Wanted<'a> {
    type Item = &'a Series;

    #[inline]
    fn next(&mut self) -> Option<&'a Series> {
        match &mut self.0 {
            Walk::Done => None,
            Walk::Run(series) => series.next(),
            Walk::Runs(walk) => walk.next(),
            Walk::ByKey(series, keys) => keys.find_map(|&key| {
                let at = match series.first() {
                    Some(next) if next.key == key => 0,
                    _ => series.partition_point(|s| s.key < key),
                };
                let found = series.get(at).filter(|s| s.key == key);
                *series = &series[at + usize::from(found.is_some())..];
                found
            }),
            Walk::BySeries(series, keys) => series.find(|s| keys.contains(&s.key)),
        }
    }

    /// A run of series is folded as the slice it is, with no walk to step per series.
    #[inline]
    fn fold<B, F: FnMut(B, &'a Series) -> B>(self, init: B, mut f: F) -> B {
        match self.0 {
            Walk::Run(series) => series.fold(init, f),
            walk => {
                let mut acc = init;
                for series in Wanted(walk) {
                    acc = f(acc, series);
                }
                acc
            }
        }
    }
}

/// The series of runs of raw keys in a frame whose keys are consecutive from `base`.
#[derive(Debug, Clone)]
struct RunWalk<'a> {
    series: &'a [Series],
    base: u32,
    runs: std::slice::Iter<'a, RangeInclusive<u32>>,
    run: std::slice::Iter<'a, Series>,
}

impl<'a> RunWalk<'a> {
    #[inline]
    fn next(&mut self) -> Option<&'a Series> {
        loop {
            if let Some(series) = self.run.next() {
                return Some(series);
            }
            let run = self.runs.next()?;
            let from = run.start().saturating_sub(self.base) as usize;
            let to = (run.end().saturating_sub(self.base) as usize + 1).min(self.series.len());
            if *run.end() >= self.base && from < to {
                self.run = self.series[from..to].iter();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn series(key: ChannelKey, n: usize) -> Series {
        let timestamps = (0..n as i64).collect();
        Series {
            key,
            timestamps,
            samples: Samples::F64(vec![1.5; n]),
        }
    }

    proptest::proptest! {
        /// `wanted` (stepped or folded) and `touches` agree with a plain filter of the
        /// series by the keys, for key sets smaller and larger than the frame, overlapping
        /// it or not.
        #[test]
        fn wanted_is_the_series_of_the_keys(
            channels in proptest::collection::btree_set(0u16..64, 0..24),
            keys in proptest::collection::btree_set(0u16..64, 0..64),
        ) {
            let key = |n: u16| ChannelKey::leased(NodeId(1), n);
            let frame = Frame::new(channels.iter().map(|&n| series(key(n), 1)).collect())
                .expect("distinct keys");
            let keys: BTreeSet<ChannelKey> = keys.into_iter().map(key).collect();
            let plain: Vec<ChannelKey> = frame
                .series()
                .iter()
                .map(|s| s.key)
                .filter(|k| keys.contains(k))
                .collect();
            let wanted: Vec<ChannelKey> = frame.wanted(&keys).map(|s| s.key).collect();
            proptest::prop_assert_eq!(&wanted, &plain);
            let folded = frame.wanted(&keys).fold(Vec::new(), |mut folded, s| {
                folded.push(s.key);
                folded
            });
            proptest::prop_assert_eq!(&folded, &plain);
            proptest::prop_assert_eq!(frame.touches(&keys), !plain.is_empty());
        }
    }

    #[test]
    fn keys_tell_their_leaseholder() {
        let leased = ChannelKey::leased(NodeId(3), 7);
        assert_eq!(
            (leased.leaseholder(), leased.to_string()),
            (Some(NodeId(3)), "3:7".into())
        );
        assert_eq!(ChannelKey::free(7).leaseholder(), None);
        assert_ne!(ChannelKey::free(7), ChannelKey::leased(NodeId(1), 7));
    }

    #[test]
    fn frames_are_ordered_checked_and_shared() {
        let (a, b) = (
            ChannelKey::leased(NodeId(1), 2),
            ChannelKey::leased(NodeId(1), 1),
        );
        let frame = Frame::new(vec![series(a, 3), series(b, 3)]).expect("valid");
        assert_eq!(
            frame.series().iter().map(|s| s.key).collect::<Vec<_>>(),
            [b, a]
        );
        assert_eq!(frame.get(a).map(|s| s.samples.len()), Some(3));
        let wanted = BTreeSet::from([a]);
        assert_eq!(
            frame.wanted(&wanted).map(|s| s.key).collect::<Vec<_>>(),
            [a]
        );
        assert!(frame.clone().ptr_eq(&frame));
        assert!(!frame.touches(&BTreeSet::from([ChannelKey::free(1)])));
        assert_eq!(
            Frame::new(vec![series(a, 1), series(a, 1)]),
            Err(FrameError::DuplicateKey(a))
        );
        let mut bad = series(a, 2);
        bad.timestamps.pop();
        let mismatch = FrameError::LengthMismatch {
            key: a,
            timestamps: 1,
            samples: 2,
        };
        assert_eq!(Frame::new(vec![bad]), Err(mismatch));
    }
}
