//! The relay's delivery oracle: what a streamer saw, and the checks it must pass — only
//! demanded keys, per-channel order without duplicates, completeness after each ack in
//! lossless mode, and gap markers that count a lossy streamer's losses exactly.

use std::collections::{BTreeMap, BTreeSet};

use sigrelay::relay::{ChannelKey, Delivery};
use sigrelay::rt::Rng;
use sigrelay::signal::Census;

use super::subset;

/// What the seed decided: the keys of each written frame (the last one, the marker, has
/// every key), the lossy streamer's keys, and each lossless reader's first and second keys.
#[derive(Debug)]
pub(super) struct Plan {
    pub(super) frames: Vec<BTreeSet<ChannelKey>>,
    pub(super) lossy: BTreeSet<ChannelKey>,
    pub(super) readers: [Keys; 2],
}

/// A reader's keys before and after its update.
#[derive(Debug)]
pub(super) struct Keys {
    pub(super) first: BTreeSet<ChannelKey>,
    pub(super) second: BTreeSet<ChannelKey>,
}

impl Plan {
    pub(super) fn draw(rng: &mut Rng, frames: usize, universe: &[ChannelKey]) -> Self {
        let mut written: Vec<_> = (0..frames).map(|_| subset(rng, universe)).collect();
        written.push(universe.iter().copied().collect());
        let leased = universe.iter().filter(|k| k.leaseholder().is_some());
        let leased: Vec<ChannelKey> = leased.copied().collect();
        let mut keys = || Keys {
            first: subset(rng, universe),
            second: subset(rng, universe),
        };
        let readers = [keys(), keys()];
        let lossy = subset(rng, &leased);
        Plan {
            frames: written,
            lossy,
            readers,
        }
    }

    fn last(&self) -> i64 {
        self.frames.len() as i64 - 1
    }
}

/// One delivery as seen: the streamer's keys at fan-out, the series, the gap marker.
#[derive(Debug)]
struct Seen {
    keys: BTreeSet<ChannelKey>,
    series: Vec<(ChannelKey, i64)>,
    missed: u64,
}

/// Everything one streamer saw, and when its keys were acknowledged.
#[derive(Debug, Default)]
pub(super) struct Journal {
    /// Each key set with the number of writes started before its ack.
    epochs: Vec<(BTreeSet<ChannelKey>, u64)>,
    seen: Vec<Seen>,
}

impl Journal {
    pub(super) fn record(&mut self, delivery: &Delivery) {
        let series = delivery.series().map(|s| (s.key, s.timestamps[0]));
        self.seen.push(Seen {
            keys: delivery.keys().clone(),
            series: series.collect(),
            missed: delivery.missed(),
        });
    }

    /// The streamer's keys are now `keys`; `started` writes had begun before the ack.
    pub(super) fn acked(&mut self, keys: BTreeSet<ChannelKey>, started: u64) {
        self.epochs.push((keys, started));
    }

    /// Whether the marker frame `last` arrived on every key of the current epoch.
    pub(super) fn saw_marker(&self, last: i64) -> bool {
        let (keys, _) = self.epochs.last().expect("acked");
        let got = self.seen.iter().flat_map(|s| &s.series);
        let got: BTreeSet<ChannelKey> = got.filter(|(_, v)| *v == last).map(|(k, _)| *k).collect();
        keys.is_subset(&got)
    }

    fn by_key(&self) -> BTreeMap<ChannelKey, Vec<i64>> {
        let mut by_key: BTreeMap<ChannelKey, Vec<i64>> = BTreeMap::new();
        for (key, value) in self.seen.iter().flat_map(|s| &s.series) {
            by_key.entry(*key).or_default().push(*value);
        }
        by_key
    }
}

impl Journal {
    /// The lossless checks; `complete` also requires the marker on every key of the last
    /// epoch (the streamer read to the end).
    pub(super) fn check(&self, plan: &Plan, complete: bool) {
        for s in &self.seen {
            assert_eq!(s.missed, 0, "a lossless streamer missed frames: {s:?}");
        }
        self.check_keys();
        self.check_order();
        for (key, values) in self.by_key() {
            let start = self.window_start(key);
            let max = *values.last().expect("seen at least once");
            let wanted = (start as i64..=max).filter(|&i| plan.frames[i as usize].contains(&key));
            let missing: Vec<i64> = wanted.filter(|i| !values.contains(i)).collect();
            assert!(
                missing.is_empty(),
                "{key}: frames {missing:?} missing after the ack: {self:?}"
            );
        }
        if complete {
            assert!(
                self.saw_marker(plan.last()),
                "the marker never arrived: {self:?}"
            );
        }
    }

    /// Only demanded keys: each delivery is non-empty, through the keys of an acked or
    /// requested epoch, and epochs never go back.
    fn check_keys(&self) {
        let mut epoch = 0;
        for s in &self.seen {
            assert!(!s.series.is_empty(), "an empty delivery: {self:?}");
            let at = self.epochs[epoch..].iter().position(|(k, _)| *k == s.keys);
            let at =
                at.unwrap_or_else(|| panic!("keys {:?} were never demanded: {self:?}", s.keys));
            epoch += at;
        }
    }

    /// Per channel: strictly increasing values (in order, no duplicates).
    fn check_order(&self) {
        for (key, values) in self.by_key() {
            let ordered = values.windows(2).all(|w| w[0] < w[1]);
            assert!(ordered, "{key}: out of order or duplicated: {values:?}");
        }
    }

    /// The first write that must reach the streamer on `key`: the one started after the ack
    /// of the first epoch of the run of epochs that demand `key` up to the last delivery.
    fn window_start(&self, key: ChannelKey) -> u64 {
        let first = self.epochs.iter().position(|(keys, _)| keys.contains(&key));
        let first = first.expect("delivered keys were demanded");
        self.epochs[first].1
    }
}

/// The lossy streamer: order, only its keys, and gap markers that count exactly the frames
/// touching its keys between two deliveries (its keys are leased, so its frames travel one
/// path, in write order).
pub(super) fn check_lossy(plan: &Plan, journal: &Journal) {
    journal.check_order();
    let touching = |i: usize| !plan.frames[i].is_disjoint(&plan.lossy);
    let mut previous: Option<usize> = None;
    for s in &journal.seen {
        assert_eq!(s.keys, plan.lossy, "the lossy streamer's keys never change");
        let index = s.series[0].1 as usize;
        let from = previous.map_or(0, |p| p + 1);
        let lost = (from..index).filter(|&i| touching(i)).count() as u64;
        match previous {
            Some(_) => assert_eq!(s.missed, lost, "gap before frame {index}: {journal:?}"),
            None => assert!(s.missed <= lost, "gap before frame {index}: {journal:?}"),
        }
        previous = Some(index);
    }
}

/// The close force-closed the lossy streamer (id 1) and at most the racer (id 4), and left
/// nothing running.
pub(super) fn check_close(forced: &[String], census: &Census) {
    let path = |id: u32| format!("relay/streamers/streamer-{id}");
    assert_eq!(forced.first(), Some(&path(1)), "forced: {forced:?}");
    assert!(
        forced[1..].iter().all(|p| *p == path(4)),
        "forced: {forced:?}"
    );
    assert!(census.live.is_empty(), "left running: {:?}", census.live);
}
