//! What a simulated cluster run records, in the order it happened (turmoil runs every host on
//! one thread, so the journal's order is the run's), and the oracle that checks it: order,
//! no duplicates, lossless between faults, explicit gaps across them, the open-ack barrier,
//! resumption after repair, and a clean close.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

use sigrelay::relay::{ChannelKey, Delivery, Samples};

/// One streamer of one incarnation of a node: node number, how often the node had started,
/// and which of its streamers.
pub type Life = (u16, u32, u8);

/// Everything one run recorded.
#[derive(Debug, Default)]
pub struct Journal {
    step: u64,
    starts: BTreeMap<u16, u32>,
    /// Per channel: each value as its write started, with step and time.
    writes: BTreeMap<ChannelKey, Vec<(i64, u64, Duration)>>,
    /// When each life's streamer was acknowledged (step).
    opened: BTreeMap<Life, u64>,
    /// Per life and channel: each value delivered, when, and whether it followed a gap marker.
    seen: BTreeMap<(Life, ChannelKey), Vec<Seen>>,
    /// Each life's close: what it reported.
    closed: BTreeMap<Life, Result<(), String>>,
    /// Peer connections each node (and start) served when its reads ended.
    serving: BTreeMap<(u16, u32), usize>,
    /// The routines each node (and start) was running when its reads ended.
    routines: BTreeMap<(u16, u32), Vec<String>>,
}

#[derive(Debug, Clone, Copy)]
struct Seen {
    value: i64,
    at: Duration,
    after_gap: bool,
}

/// What the oracle expects of a run.
#[derive(Debug, Clone)]
pub struct Expect {
    /// Lives whose node never crashed after they began: they must close cleanly.
    pub must_close: Vec<Life>,
    /// Lives that opened while every peer was reachable: their first delivery must follow
    /// the open-ack barrier exactly, with no gap marker.
    pub strict_open: Vec<Life>,
    /// All faults are healed from here on.
    pub healed: Duration,
    /// Streaming must have resumed this long after `healed`.
    pub resume_within: Duration,
    /// Channels that must resume, and the lives that must see them resume.
    pub resume: Vec<(Life, ChannelKey)>,
    /// Peer connections a node may serve once the faults are long healed: one per peer.
    pub peers: usize,
    /// The first fault: before it, a strict life's deliveries never follow a gap marker.
    pub faults_from: Duration,
}

impl Journal {
    /// Node `node` starts again; returns how often it has started.
    pub fn start(&mut self, node: u16) -> u32 {
        let starts = self.starts.entry(node).or_default();
        *starts += 1;
        *starts
    }

    fn tick(&mut self) -> u64 {
        self.step += 1;
        self.step
    }

    /// A write of `value` to `key` starts.
    pub fn write(&mut self, key: ChannelKey, value: i64, at: Duration) {
        let step = self.tick();
        self.writes.entry(key).or_default().push((value, step, at));
    }

    /// `life`'s streamer was acknowledged.
    pub fn opened(&mut self, life: Life) {
        let step = self.tick();
        self.opened.insert(life, step);
    }

    /// `life`'s streamer received `delivery`.
    pub fn delivered(&mut self, life: Life, delivery: &Delivery, at: Duration) {
        self.tick();
        for series in delivery.series() {
            let Samples::I64(values) = &series.samples else {
                continue;
            };
            let seen = self.seen.entry((life, series.key)).or_default();
            for &value in values {
                let after_gap = delivery.follows_gap();
                seen.push(Seen {
                    value,
                    at,
                    after_gap,
                });
            }
        }
    }

    /// Node `node`, in its `start`th run, was running `routines` when its reads ended.
    pub fn running(&mut self, node: u16, start: u32, routines: Vec<String>) {
        self.tick();
        let serving = routines
            .iter()
            .filter(|path| path.contains("/peer-"))
            .count();
        self.serving.insert((node, start), serving);
        self.routines.insert((node, start), routines);
    }

    /// `life` closed its streamer and relay.
    pub fn closed(&mut self, life: Life, outcome: Result<(), String>) {
        self.tick();
        self.closed.insert(life, outcome);
    }

    /// Every violation of the relay's guarantees in this run, one per line.
    pub fn violations(&self, expect: &Expect) -> String {
        let mut out = String::new();
        for (&(life, key), seen) in &self.seen {
            let strict = expect.strict_open.contains(&life);
            let fault_free = strict.then_some(expect.faults_from);
            self.check_stream(life, key, seen, fault_free, &mut out);
        }
        for &(life, key) in &expect.resume {
            self.check_resumed(life, key, expect, &mut out);
        }
        for (&(node, start), &connections) in &self.serving {
            if connections > expect.peers {
                let peers = expect.peers;
                writeln!(out, "node {node} (start {start}) still serves {connections} peer connections for {peers} peers: dead peers stay connected").unwrap();
            }
        }
        for life in &expect.must_close {
            match self.closed.get(life) {
                Some(Ok(())) => {}
                Some(Err(why)) => writeln!(out, "{life:?} closed badly: {why}").unwrap(),
                None => writeln!(out, "{life:?} never finished closing").unwrap(),
            }
        }
        out
    }

    fn check_stream(
        &self,
        life: Life,
        key: ChannelKey,
        seen: &[Seen],
        fault_free_until: Option<Duration>,
        out: &mut String,
    ) {
        let Some(first) = seen.first() else { return };
        if fault_free_until.is_some() && first.after_gap {
            writeln!(out, "{life:?} {key}: opened with every peer up, yet the first delivery follows a gap marker").unwrap();
        }
        let before_faults = |s: &&Seen| fault_free_until.is_some_and(|f| s.at < f);
        for s in seen
            .iter()
            .skip(1)
            .filter(before_faults)
            .filter(|s| s.after_gap)
        {
            let (v, at) = (s.value, s.at);
            writeln!(
                out,
                "{life:?} {key}: {v} follows a gap marker at {at:?}, before any fault"
            )
            .unwrap();
        }
        let first_after_ack = self.opened.get(&life).and_then(|&acked| {
            let writes = self.writes.get(&key)?;
            writes.iter().find(|w| w.1 > acked).map(|w| w.0)
        });
        if let Some(promised) = first_after_ack {
            if first.value > promised && !first.after_gap {
                let v = first.value;
                writeln!(out, "{life:?} {key}: first value {v} skips {promised}, written after the open-ack, with no gap marker").unwrap();
            }
        }
        for pair in seen.windows(2) {
            let (a, b) = (pair[0], pair[1]);
            if b.value <= a.value {
                let (x, y) = (a.value, b.value);
                writeln!(out, "{life:?} {key}: {y} after {x} (order or duplicate)").unwrap();
            } else if b.value != a.value + 1 && !b.after_gap {
                let (x, y) = (a.value, b.value);
                writeln!(out, "{life:?} {key}: {y} after {x} with no gap marker").unwrap();
            }
        }
    }

    fn check_resumed(&self, life: Life, key: ChannelKey, expect: &Expect, out: &mut String) {
        let by = expect.healed + expect.resume_within;
        let written_after = |value: i64| {
            let writes = self.writes.get(&key).into_iter().flatten();
            writes
                .filter(|w| w.0 == value)
                .any(|w| w.2 >= expect.healed)
        };
        let seen = self.seen.get(&(life, key)).into_iter().flatten();
        let resumed = seen.filter(|s| s.at <= by).any(|s| written_after(s.value));
        if !resumed {
            writeln!(
                out,
                "{life:?} {key}: nothing written after the repair at {:?} arrived by {by:?}",
                expect.healed
            )
            .unwrap();
            let running = self.routines.get(&(life.0, life.1));
            let running = running.map_or(String::new(), |r| r.join(", "));
            writeln!(out, "  node {} was running: {running}", life.0).unwrap();
        }
    }

    #[cfg(test)]
    fn saw(&mut self, life: Life, key: ChannelKey, value: i64, at_ms: u64, after_gap: bool) {
        let at = Duration::from_millis(at_ms);
        let seen = self.seen.entry((life, key)).or_default();
        seen.push(Seen {
            value,
            at,
            after_gap,
        });
    }

    /// How many values were delivered in all.
    pub fn deliveries(&self) -> usize {
        self.seen.values().map(Vec::len).sum()
    }

    /// How many deliveries followed a gap marker.
    pub fn gaps(&self) -> usize {
        let all = self.seen.values().flatten();
        all.filter(|s| s.after_gap).count()
    }
}

#[cfg(test)]
mod tests {
    use sigrelay::relay::NodeId;

    use super::*;

    fn expect(strict: Life) -> Expect {
        Expect {
            must_close: Vec::new(),
            strict_open: vec![strict],
            healed: Duration::from_secs(3),
            resume_within: Duration::from_secs(1),
            resume: Vec::new(),
            peers: 2,
            faults_from: Duration::from_secs(1),
        }
    }

    /// A gap marker on a later delivery of a life opened with every peer up, before any
    /// fault, is a violation; the same marker after the first fault is not.
    #[test]
    fn a_gap_marker_before_any_fault_fails_on_every_delivery() {
        let (life, key) = ((1, 1, 1), ChannelKey::leased(NodeId(2), 1));
        let mut journal = Journal::default();
        journal.saw(life, key, 0, 100, false);
        journal.saw(life, key, 3, 200, true);
        let violations = journal.violations(&expect(life));
        assert!(
            violations.contains("3 follows a gap marker at 200ms, before any fault"),
            "{violations}"
        );
        let mut after = Journal::default();
        after.saw(life, key, 0, 100, false);
        after.saw(life, key, 3, 1_200, true);
        assert_eq!(after.violations(&expect(life)), "");
    }
}
