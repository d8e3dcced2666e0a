//! The relay's delivery oracle: what a streamer saw, and the checks it must pass — only
//! demanded keys, per-channel order without duplicates, completeness after each ack in
//! lossless mode, and gap markers that count a lossy streamer's losses exactly.
//!
//! The oracle trusts nothing the relay says about itself: a delivery's series are checked
//! against the key sets the streamer asked for, not against the keys the delivery claims.
//! Completeness uses the one order the relay promises: frames of one path (leased channels
//! through storage, free channels straight to the delta) reach a streamer in write order.
//! So once a delivery of epoch `e` carries frame `j` of a path, every frame of that path
//! written after `e`'s ack and before `j` must have arrived on each of `e`'s keys it
//! touches — a key never delivered and a lost tail fail too, not only holes.

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
        let epochs = self.epochs_of_deliveries();
        self.check_order();
        self.check_complete(plan, &epochs);
        if complete {
            assert!(
                self.saw_marker(plan.last()),
                "the marker never arrived: {self:?}"
            );
        }
    }

    /// Only demanded keys: the epoch of each delivery — the first epoch not before the
    /// previous delivery's whose keys hold every series it carries — or `None` where that
    /// could also be the next epoch (the keys lie in both). Epochs never go back.
    fn epochs_of_deliveries(&self) -> Vec<Option<usize>> {
        let mut floor = 0;
        let mut epochs = Vec::new();
        for s in &self.seen {
            assert!(!s.series.is_empty(), "an empty delivery: {self:?}");
            let within = |e: &usize| s.series.iter().all(|(k, _)| self.epochs[*e].0.contains(k));
            let e = (floor..self.epochs.len()).find(within);
            let e =
                e.unwrap_or_else(|| panic!("series {:?} were never demanded: {self:?}", s.series));
            floor = e;
            let ambiguous = e + 1 < self.epochs.len() && within(&(e + 1));
            epochs.push((!ambiguous).then_some(e));
        }
        epochs
    }

    /// Per channel: strictly increasing values (in order, no duplicates).
    fn check_order(&self) {
        for (key, values) in self.by_key() {
            let ordered = values.windows(2).all(|w| w[0] < w[1]);
            assert!(ordered, "{key}: out of order or duplicated: {values:?}");
        }
    }

    /// Completeness after each ack, bounded by what the path delivered later in the epoch.
    fn check_complete(&self, plan: &Plan, epochs: &[Option<usize>]) {
        let got = self.by_key();
        for (s, epoch) in self.seen.iter().zip(epochs) {
            let Some(e) = *epoch else { continue };
            for &(carrier, j) in &s.series {
                for &key in self.epochs[e].0.iter().filter(|k| same_path(**k, carrier)) {
                    let start = self.window_start(key, e) as i64;
                    let wanted = (start..j).filter(|&i| plan.frames[i as usize].contains(&key));
                    let seen = got.get(&key).map_or(&[][..], Vec::as_slice);
                    let missing: Vec<i64> = wanted.filter(|i| !seen.contains(i)).collect();
                    assert!(
                        missing.is_empty(),
                        "{key}: frames {missing:?} missing after the ack, though frame {j} of its path arrived: {self:?}"
                    );
                }
            }
        }
    }

    /// The first write that must reach the streamer on `key` in epoch `e`: the one started
    /// after the ack of the first epoch of the run of epochs up to `e` that demand `key`.
    fn window_start(&self, key: ChannelKey, e: usize) -> u64 {
        let mut first = e;
        while first > 0 && self.epochs[first - 1].0.contains(&key) {
            first -= 1;
        }
        self.epochs[first].1
    }
}

/// Whether two channels' frames travel one path: both leased (through storage and the
/// gateway tap) or both free (straight to the delta).
fn same_path(a: ChannelKey, b: ChannelKey) -> bool {
    a.leaseholder().is_some() == b.leaseholder().is_some()
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
        assert_eq!(s.missed, lost, "gap before frame {index}: {journal:?}");
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

#[cfg(test)]
mod tests {
    use std::panic::{catch_unwind, AssertUnwindSafe};

    use sigrelay::relay::NodeId;

    use super::*;

    fn leased(n: u16) -> ChannelKey {
        ChannelKey::leased(NodeId(1), n)
    }

    fn keys(ks: &[ChannelKey]) -> BTreeSet<ChannelKey> {
        ks.iter().copied().collect()
    }

    fn plan(frames: &[&[ChannelKey]], lossy: &[ChannelKey]) -> Plan {
        let none = || Keys {
            first: BTreeSet::new(),
            second: BTreeSet::new(),
        };
        Plan {
            frames: frames.iter().map(|f| keys(f)).collect(),
            lossy: keys(lossy),
            readers: [none(), none()],
        }
    }

    /// A journal of one epoch (`demanded`, acked before any write) that saw `series`, one
    /// delivery each, claiming the demanded keys.
    fn journal(demanded: &[ChannelKey], series: &[(ChannelKey, i64)], missed: &[u64]) -> Journal {
        let seen = series
            .iter()
            .zip(missed.iter().chain(std::iter::repeat(&0)));
        Journal {
            epochs: vec![(keys(demanded), 0)],
            seen: seen
                .map(|(s, m)| Seen {
                    keys: keys(demanded),
                    series: vec![*s],
                    missed: *m,
                })
                .collect(),
        }
    }

    fn fails(check: impl FnOnce()) -> String {
        let outcome = catch_unwind(AssertUnwindSafe(check));
        let payload = outcome.expect_err("the oracle rejects the run");
        sigrelay::rt::JoinError::from_panic(payload.as_ref()).to_string()
    }

    #[test]
    fn a_complete_run_passes() {
        let plan = plan(&[&[leased(1), leased(2)], &[leased(2)]], &[]);
        let seen = [(leased(1), 0), (leased(2), 0), (leased(2), 1)];
        journal(&[leased(1), leased(2)], &seen, &[]).check(&plan, false);
    }

    #[test]
    fn a_series_of_a_key_never_demanded_fails_whatever_the_delivery_claims() {
        let plan = plan(&[&[leased(1), leased(3)]], &[]);
        let journal = journal(&[leased(1)], &[(leased(1), 0), (leased(3), 0)], &[]);
        assert!(fails(|| journal.check(&plan, false)).contains("never demanded"));
    }

    #[test]
    fn a_key_never_delivered_fails_once_its_path_moved_on() {
        let plan = plan(&[&[leased(1), leased(2)], &[leased(2)]], &[]);
        let journal = journal(
            &[leased(1), leased(2)],
            &[(leased(2), 0), (leased(2), 1)],
            &[],
        );
        let message = fails(|| journal.check(&plan, false));
        assert!(message.contains("1:1: frames [0] missing"), "{message}");
    }

    #[test]
    fn a_lost_tail_of_one_key_fails() {
        let plan = plan(&[&[leased(1)], &[leased(1)], &[leased(2)]], &[]);
        let journal = journal(
            &[leased(1), leased(2)],
            &[(leased(1), 0), (leased(2), 2)],
            &[],
        );
        let message = fails(|| journal.check(&plan, false));
        assert!(message.contains("1:1: frames [1] missing"), "{message}");
    }

    #[test]
    fn the_first_gap_marker_counts_exactly() {
        let plan = plan(&[&[leased(1)], &[leased(1)], &[leased(1)]], &[leased(1)]);
        check_lossy(&plan, &journal(&[leased(1)], &[(leased(1), 2)], &[2]));
        let silent = journal(&[leased(1)], &[(leased(1), 2)], &[0]);
        assert!(fails(|| check_lossy(&plan, &silent)).contains("gap before frame 2"));
        let overcounted = journal(&[leased(1)], &[(leased(1), 0), (leased(1), 2)], &[0, 2]);
        assert!(fails(|| check_lossy(&plan, &overcounted)).contains("gap before frame 2"));
    }
}
