//! Relays across 3–5 simulated nodes under network faults. Every node writes its own channel
//! and streams every other node's with two streamers (one opened at once, one at 0.5 s with
//! every peer up); each seed picks a cluster size and one fault — a partition
//! (both ways, one way, one node from all), a hold, a latency surge, or a crash and restart —
//! from 1 s to 2 s of simulated time. The journal's oracle then checks order, no duplicates,
//! lossless streams between faults, gap markers across them, the open-ack barrier, streaming
//! resumed within 2.5 s of the repair, and every surviving node closed with nothing running.
//!
//! `SIGRELAY_SEEDS=a..b` (or one seed) overrides the seed range; each failure prints the
//! command that replays it.

use std::cell::RefCell;
use std::collections::BTreeSet;
use std::ops::Range;
use std::rc::Rc;
use std::time::Duration;

use sigrelay::check::{NetFault, TurmoilCheck};
use sigrelay::net::{ClusterMap, Peers, Transport, TurmoilNet};
use sigrelay::relay::{
    ChannelKey, Frame, NodeId, Policy, Relay, RelayConfig, Samples, Series, Streamer,
    StreamerConfig,
};
use sigrelay::rt::prelude::*;
use sigrelay::rt::Turmoil;

use super::cluster::CLUSTER;
use super::journal::{Expect, Journal, Life};

const FAULT_AT: Duration = Duration::from_secs(1);
const HEALED: Duration = Duration::from_secs(2);
const WRITES_END: Duration = Duration::from_secs(5);
const READS_END: Duration = Duration::from_millis(5_500);
const CHECK_AT: Duration = Duration::from_secs(9);
const PERIOD: Duration = Duration::from_millis(10);
const LATE_OPEN: Duration = Duration::from_millis(500);

type Shared = Rc<RefCell<Journal>>;

fn host(node: u16) -> String {
    format!("n{node}")
}

/// The channels of `node` that streamer `which` wants: streamer 1 alone wants channel 2, so
/// its open-ack waits for every peer to apply a new key set.
fn wanted_of(node: u16, which: u8) -> impl Iterator<Item = ChannelKey> {
    let channels = [key(node), ChannelKey::leased(NodeId(node), 2)];
    channels.into_iter().take(usize::from(which) + 1)
}

fn key(node: u16) -> ChannelKey {
    ChannelKey::leased(NodeId(node), 1)
}

fn now() -> Duration {
    turmoil::sim_elapsed().expect("inside the simulation")
}

/// One seed's cluster: its size and its fault.
struct Plan {
    nodes: u16,
    fault: &'static str,
    check: TurmoilCheck,
    crashed: Option<u16>,
}

fn plan(seed: u64) -> Plan {
    let nodes = 3 + (seed / 6 % 3) as u16;
    let check = TurmoilCheck::new(seed).duration(CHECK_AT + Duration::from_secs(1));
    let (a, b, c) = (host(1), host(2), host(nodes));
    let both = |check: TurmoilCheck, on: NetFault, off: NetFault| {
        check.fault(FAULT_AT, on).fault(HEALED, off)
    };
    let (fault, check, crashed) = match seed % 6 {
        0 => (
            "partition",
            both(
                check,
                NetFault::Partition(a.clone(), b.clone()),
                NetFault::Repair(a, b),
            ),
            None,
        ),
        1 => (
            "one-way partition",
            both(
                check,
                NetFault::PartitionOneWay(a.clone(), b.clone()),
                NetFault::RepairOneWay(a, b),
            ),
            None,
        ),
        2 => (
            "hold",
            both(
                check,
                NetFault::Hold(a.clone(), c.clone()),
                NetFault::Release(a, c),
            ),
            None,
        ),
        3 => (
            "latency",
            both(
                check,
                NetFault::MaxLatency(Duration::from_millis(400)),
                NetFault::MaxLatency(Duration::from_millis(20)),
            ),
            None,
        ),
        4 => (
            "crash",
            both(check, NetFault::Crash(b.clone()), NetFault::Restart(b)),
            Some(2),
        ),
        _ => {
            let mut check = check;
            for other in 2..=nodes {
                let (a, o) = (host(1), host(other));
                check = both(
                    check,
                    NetFault::Partition(a.clone(), o.clone()),
                    NetFault::Repair(a, o),
                );
            }
            ("isolated node", check, None)
        }
    };
    Plan {
        nodes,
        fault,
        check,
        crashed,
    }
}

/// One node's life: open in the cluster, write its own channel, stream every other node's
/// from the start (streamer 0, opened while peers may still be starting) and from 0.5 s
/// (streamer 1, opened with every peer up), then close and record how that went.
async fn node(rt: Turmoil, node: u16, nodes: u16, journal: Shared) {
    let start = journal.borrow_mut().start(node);
    let map = (1..=nodes).fold(ClusterMap::new(), |map, n| {
        map.with(NodeId(n), format!("{}:7000", host(n)))
    });
    let peers = Peers::new(TurmoilNet, map, CLUSTER, NodeId(node));
    let listener = TurmoilNet
        .bind("0.0.0.0:7000")
        .await
        .expect("the port is free");
    let config = RelayConfig::new(NodeId(node), (1..=nodes).flat_map(|n| wanted_of(n, 1)));
    let relay = Relay::open_in_cluster(rt.clone(), config, peers, listener).await;
    let stream = |which: u8, from: Duration| {
        let (relay, journal) = (relay.clone(), journal.clone());
        let others = (1..=nodes).filter(|&n| n != node);
        let wanted: BTreeSet<ChannelKey> = others.flat_map(|n| wanted_of(n, which)).collect();
        let rt = rt.clone();
        async move {
            rt.sleep(from.saturating_sub(now())).await;
            let config = StreamerConfig {
                policy: Policy::Lossless,
                capacity: 256,
            };
            let streamer = relay.new_streamer(wanted, config).await;
            let life = (node, start, which);
            journal.borrow_mut().opened(life);
            read(&rt, streamer.expect("known keys"), life, &journal).await;
        }
    };
    let writer = relay.writer();
    let write = async {
        let mut n = 0;
        while now() < WRITES_END {
            let value = i64::from(start) * 1_000_000 + n;
            let series = wanted_of(node, 1).map(|key| {
                journal.borrow_mut().write(key, value, now());
                Series {
                    key,
                    timestamps: vec![value],
                    samples: Samples::I64(vec![value]),
                }
            });
            let frame = Frame::new(series.collect()).expect("distinct keys");
            writer.write(frame).await.expect("leased here");
            n += 1;
            rt.sleep(PERIOD).await;
        }
    };
    tokio::join!(write, stream(0, Duration::ZERO), stream(1, LATE_OPEN));
    let closed = relay.close(Duration::from_secs(1)).await;
    let left = relay.census().await.live;
    let outcome = match closed {
        Ok(report) if report.is_clean() && left.is_empty() => Ok(()),
        Ok(report) => Err(format!("{report:?}, still running: {left:?}")),
        Err(e) => Err(e.to_string()),
    };
    for which in 0..2 {
        journal
            .borrow_mut()
            .closed((node, start, which), outcome.clone());
    }
}

/// Records what `streamer` delivers until the reads end, then closes it (draining).
async fn read(rt: &Turmoil, mut streamer: Streamer<Turmoil>, life: Life, journal: &Shared) {
    let end = rt.sleep(READS_END.saturating_sub(now()));
    let mut end = std::pin::pin!(end);
    loop {
        sigrelay::select! {
            () = &mut end => break,
            delivery = streamer.recv() => match delivery {
                Some(delivery) => journal.borrow_mut().delivered(life, &delivery, now()),
                None => break,
            },
        }
    }
    for delivery in streamer.close().await {
        journal.borrow_mut().delivered(life, &delivery, now());
    }
}

/// Runs one seed; the violations found, if any.
fn run(seed: u64) -> Result<String, String> {
    let Plan {
        nodes,
        fault,
        mut check,
        crashed,
    } = plan(seed);
    let journal: Shared = Rc::default();
    for n in 1..=nodes {
        let journal = journal.clone();
        check = check.host(&host(n), move |rt| node(rt, n, nodes, journal.clone()));
    }
    let ran = check.try_run(|rt| async move { rt.sleep(CHECK_AT).await });
    let header = format!("seed {seed}: {nodes} nodes, {fault}");
    ran.map_err(|failure| format!("{header}: {failure}"))?;
    let journal = journal.borrow();
    let start = |n: u16| match crashed == Some(n) {
        true => 2,
        false => 1,
    };
    let lives = (1..=nodes).flat_map(|n| [(n, start(n), 0), (n, start(n), 1)]);
    let lives: Vec<Life> = lives.collect();
    let resume = lives.iter().flat_map(|&life| {
        let others = (1..=nodes).filter(move |&o| o != life.0);
        others.flat_map(move |o| wanted_of(o, life.2).map(move |key| (life, key)))
    });
    let strict_open = (1..=nodes)
        .filter(|&n| crashed != Some(n))
        .map(|n| (n, 1, 1));
    let expect = Expect {
        must_close: lives.clone(),
        strict_open: strict_open.collect(),
        healed: HEALED,
        resume_within: Duration::from_millis(2_500),
        resume: resume.collect(),
    };
    let violations = journal.violations(&expect);
    match violations.is_empty() {
        true => Ok(format!(
            "{header}: {} values delivered, {} after a gap marker",
            journal.deliveries(),
            journal.gaps()
        )),
        false => Err(format!("{header}:\n{violations}")),
    }
}

fn seeds() -> Range<u64> {
    let Ok(given) = std::env::var("SIGRELAY_SEEDS") else {
        return 0..60;
    };
    let parse = |s: &str| {
        s.trim()
            .parse::<u64>()
            .expect("SIGRELAY_SEEDS is a..b or one seed")
    };
    match given.split_once("..") {
        Some((a, b)) => parse(a)..parse(b),
        None => parse(&given)..parse(&given) + 1,
    }
}

#[test]
fn relays_across_nodes_survive_faults() {
    let mut failures = Vec::new();
    for seed in seeds() {
        match run(seed) {
            Ok(summary) => eprintln!("{summary}"),
            Err(failure) => failures.push(format!(
                "{failure}\n  replay: SIGRELAY_SEEDS={seed} cargo test --all-features --test net relays_across_nodes_survive_faults"
            )),
        }
    }
    assert!(
        failures.is_empty(),
        "{} seeds failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
