//! Writes across nodes and writer groups across nodes, each body written once against
//! `R: Runtime` and `T: Transport` and run with real TCP on loopback, with the in-memory
//! network on tokio and under shuttle (random and PCT schedules), and in turmoil: a
//! frame written on any node lands on its leaseholder and reaches streamers on every node,
//! whole and in order; a streamer excluding a group gets nothing its writers wrote, through
//! the gateway and through peer taps; an unreachable leaseholder is a typed error; and
//! across a partition (turmoil) or a cut (the in-memory network, under shuttle and on
//! tokio) nothing is written twice and the loss is a gap marker.

use std::collections::BTreeSet;
use std::time::Duration;

use sigrelay::cluster::Writer;
use sigrelay::net::{ClusterMap, Listener, MemoryNet, Peers, Transport, TurmoilNet};
use sigrelay::relay::{
    ChannelKey, Frame, NodeId, Relay, RelayConfig, Samples, Series, Streamer, StreamerConfig,
    WriteError, WriterGroup,
};
use sigrelay::rt::prelude::*;
use sigrelay::rt::Turmoil;

use super::cluster::{
    across_nodes, leased_elsewhere, map, on_turmoil, CLUSTER, GATEWAY, LEASEHOLDER,
};

const NODES: u16 = 3;
const EXCLUDED: WriterGroup = WriterGroup(7);

/// Channel 1 of node `n`.
fn key(n: u16) -> ChannelKey {
    ChannelKey::leased(NodeId(n), 1)
}

fn frame(key: ChannelKey, value: i64) -> Frame {
    let series = Series {
        key,
        timestamps: vec![value],
        samples: Samples::I64(vec![value]),
    };
    Frame::new(vec![series]).expect("one key")
}

/// Three nodes, each leasing its channel 1 and knowing the others', and their peers.
async fn cluster<R: Runtime, T: Transport>(rt: &R, net: T) -> Vec<(Relay<R>, Peers<T>)> {
    let mut listeners = Vec::new();
    let mut map = ClusterMap::new();
    for n in 1..=NODES {
        let listener = net.bind("127.0.0.1:0").await.expect("a free port");
        map = map.with(NodeId(n), listener.local_address().expect("bound"));
        listeners.push(listener);
    }
    let mut nodes = Vec::new();
    for (n, listener) in (1..=NODES).zip(listeners) {
        let config = RelayConfig::new(NodeId(n), (1..=NODES).map(key));
        let peers = Peers::new(net.clone(), map.clone(), CLUSTER, NodeId(n));
        let relay = sigrelay::cluster::open(rt.clone(), config, peers.clone(), listener);
        nodes.push((relay.await.expect("a valid configuration"), peers));
    }
    nodes
}

async fn streamer<R: Runtime>(relay: &Relay<R>, exclude: &[WriterGroup]) -> Streamer<R> {
    let config = StreamerConfig {
        exclude: exclude.iter().copied().collect(),
        capacity: 256,
        ..StreamerConfig::default()
    };
    let opened = relay.new_streamer(BTreeSet::from([key(2)]), config).await;
    opened.expect("a channel of the cluster")
}

/// Values of channel 2 a streamer receives until `last`, each with its writer's group.
async fn values<R: Runtime>(rt: &R, streamer: &mut Streamer<R>, last: i64) -> Vec<i64> {
    let mut got = Vec::new();
    while got.last() != Some(&last) {
        let delivery = rt.timeout(Duration::from_secs(10), streamer.recv()).await;
        let delivery = delivery.expect("frames keep coming").expect("open");
        assert!(!delivery.follows_gap(), "a gap with no fault");
        for series in delivery.series() {
            let value = series.timestamps[0];
            let group = (value >= 1000).then_some(EXCLUDED);
            assert_eq!(delivery.group(), group, "the group of value {value}");
            got.push(value);
        }
    }
    got
}

/// Node 1 and node 3 write node 2's channel, one of them in the excluded group: every node's
/// streamer gets every frame in order, and the excluding ones (node 2 through its gateway,
/// node 3 through its peer tap) get none of the group's.
pub async fn writes_reach_every_node_and_groups_are_excluded<R: Runtime, T: Transport>(
    rt: R,
    net: T,
) {
    let nodes = cluster(&rt, net).await;
    let mut all = Vec::new();
    let mut excluding = Vec::new();
    for (relay, _) in &nodes {
        all.push(streamer(relay, &[]).await);
        excluding.push(streamer(relay, &[EXCLUDED]).await);
    }
    let plain = Writer::new(&nodes[0].0, nodes[0].1.clone());
    let grouped = Writer::new(&nodes[2].0, nodes[2].1.clone()).in_group(EXCLUDED);
    for value in 0..50 {
        plain
            .write(frame(key(2), value))
            .await
            .expect("node 2 is up");
        let excluded = grouped.write(frame(key(2), 1000 + value)).await;
        excluded.expect("node 2 is up");
    }
    plain.write(frame(key(2), 50)).await.expect("node 2 is up");
    let every: Vec<i64> = (0..50).flat_map(|v| [v, 1000 + v]).chain([50]).collect();
    for (n, streamer) in (1..).zip(&mut all) {
        assert_eq!(
            values(&rt, streamer, 50).await,
            every,
            "node {n}, whole and in order"
        );
    }
    for (n, streamer) in (1..).zip(&mut excluding) {
        let got = values(&rt, streamer, 50).await;
        assert_eq!(
            got,
            (0..=50).collect::<Vec<_>>(),
            "node {n} excludes the group"
        );
    }
    for streamer in all.into_iter().chain(excluding) {
        drop(streamer.close().await);
    }
    for (relay, _) in &nodes {
        let report = relay.close(Duration::from_secs(1)).await.expect("closes");
        assert!(report.is_clean(), "{report:?}");
        assert!(relay.census().await.live.is_empty(), "nothing left running");
    }
}

/// A leaseholder nobody listens for: the write says so and hands the frame back. A frame
/// with a channel the cluster does not serve is refused whole, before any part is written.
pub async fn an_unreachable_leaseholder_is_a_typed_error<R: Runtime, T: Transport>(rt: R, net: T) {
    let listener = net.bind("127.0.0.1:0").await.expect("a free port");
    let here = listener.local_address().expect("bound");
    let gone = net.bind("127.0.0.1:0").await.expect("a free port");
    let gone_address = gone.local_address().expect("bound");
    drop(gone);
    let map = ClusterMap::new()
        .with(NodeId(1), here)
        .with(NodeId(4), gone_address);
    let peers = Peers::new(net, map, CLUSTER, NodeId(1));
    let config = RelayConfig::new(NodeId(1), [key(1), key(4)]);
    let relay = sigrelay::cluster::open(rt.clone(), config, peers.clone(), listener).await;
    let relay = relay.expect("a valid configuration");
    let writer = Writer::new(&relay, peers);
    let written = writer.write(frame(key(4), 1)).await;
    match written {
        Err(WriteError::Unreachable {
            leaseholder,
            frame: back,
        }) => {
            assert_eq!(leaseholder, NodeId(4));
            assert_eq!(back, frame(key(4), 1), "the frame is handed back");
        }
        other => panic!("expected an unreachable leaseholder, got {other:?}"),
    }
    let unknown = ChannelKey::leased(NodeId(1), 9);
    let series = [key(4), unknown].map(|key| frame(key, 2).series()[0].clone());
    let mixed = Frame::new(series.to_vec()).expect("distinct keys");
    match writer.write(mixed.clone()).await {
        Err(WriteError::UnknownChannel(key, back)) => {
            assert_eq!(key, unknown);
            assert_eq!(back, mixed, "refused whole, before any part is written");
        }
        other => panic!("expected an unknown channel, got {other:?}"),
    }
    writer
        .write(frame(key(1), 1))
        .await
        .expect("this node's own channel");
    let report = relay.close(Duration::from_secs(1)).await.expect("closes");
    assert!(report.is_clean());
    assert!(relay.census().await.live.is_empty(), "nothing left running");
}

/// The leaseholder host: serves its channels 1–3, and writes nothing itself.
async fn serving_leaseholder(rt: Turmoil) {
    let listener = TurmoilNet.bind("0.0.0.0:7000").await.expect("a free port");
    let peers = Peers::new(TurmoilNet, map(), CLUSTER, LEASEHOLDER);
    let config = RelayConfig::new(LEASEHOLDER, (1..=3).map(leased_elsewhere));
    let relay = sigrelay::cluster::open(rt.clone(), config, peers, listener).await;
    let _relay = relay.expect("a valid configuration");
    std::future::pending::<()>().await;
}

/// Writes from `main` to the leaseholder host's channel while a partition cuts them apart
/// for a while: what was confirmed before the cut and after the heal arrives, nothing
/// arrives twice or out of order, and the loss shows as a gap marker.
async fn writes_across_a_partition(rt: Turmoil) {
    let listener = TurmoilNet.bind("0.0.0.0:7000").await.expect("a free port");
    let peers = Peers::new(TurmoilNet, map(), CLUSTER, GATEWAY);
    let written_key = leased_elsewhere(3);
    let config = RelayConfig::new(GATEWAY, [leased_elsewhere(1), written_key]);
    let relay = sigrelay::cluster::open(rt.clone(), config, peers.clone(), listener).await;
    let relay = relay.expect("a valid configuration");
    let cut = || turmoil::partition("main", "leaseholder");
    let heal = || turmoil::repair("main", "leaseholder");
    writes_across_a_cut(&rt, &relay, peers, written_key, cut, heal).await;
    let report = relay.close(Duration::from_secs(1)).await.expect("closes");
    assert!(report.is_clean(), "{report:?}");
}

/// The same over the in-memory network: node 1 writes and streams the channel node 2
/// leases, and node 2 is cut off from its callers for 20 writes.
pub async fn writes_across_a_memory_cut<R: Runtime>(rt: R) {
    let net = MemoryNet::new();
    let mut listeners = Vec::new();
    let mut map = ClusterMap::new();
    for n in 1..=2 {
        let listener = net.bind("memory:0").await.expect("a free port");
        map = map.with(NodeId(n), listener.local_address().expect("bound"));
        listeners.push(listener);
    }
    let leaseholder_address = map.address(NodeId(2)).expect("mapped").to_string();
    let mut relays = Vec::new();
    for (n, listener) in (1..=2).zip(listeners) {
        let config = RelayConfig::new(NodeId(n), [key(1), key(2)]);
        let peers = Peers::new(net.clone(), map.clone(), CLUSTER, NodeId(n));
        let relay = sigrelay::cluster::open(rt.clone(), config, peers.clone(), listener);
        relays.push((relay.await.expect("a valid configuration"), peers));
    }
    let (cut, heal) = (
        || net.cut(&leaseholder_address),
        || net.heal(&leaseholder_address),
    );
    let (gateway, peers) = &relays[0];
    writes_across_a_cut(&rt, gateway, peers.clone(), key(2), cut, heal).await;
    for (relay, _) in &relays {
        let report = relay.close(Duration::from_secs(1)).await.expect("closes");
        assert!(report.is_clean(), "{report:?}");
    }
}

/// Writes 300 frames to `written_key` from `relay`, which streams that channel too; `cut`
/// runs before the 100th write and `heal` before the 120th. What was confirmed before the
/// cut arrives, nothing arrives twice, out of order or unwritten, and the loss is a gap
/// marker.
async fn writes_across_a_cut<R: Runtime, T: Transport>(
    rt: &R,
    relay: &Relay<R>,
    peers: Peers<T>,
    written_key: ChannelKey,
    cut: impl FnOnce(),
    heal: impl FnOnce(),
) {
    let config = StreamerConfig {
        capacity: 1024,
        ..StreamerConfig::default()
    };
    let streamer = relay
        .new_streamer(BTreeSet::from([written_key]), config)
        .await;
    let mut streamer = streamer.expect("a channel of the cluster");
    let writer = Writer::new(relay, peers);
    let (mut confirmed, mut unconfirmed) = (Vec::new(), Vec::new());
    let (mut cut, mut heal) = (Some(cut), Some(heal));
    for value in 0..300 {
        if value == 100 {
            cut.take().expect("once")();
        }
        if value == 120 {
            heal.take().expect("once")();
        }
        match writer.write(frame(written_key, value)).await {
            Ok(()) => confirmed.push(value),
            Err(WriteError::Unconfirmed { .. }) => unconfirmed.push(value),
            Err(WriteError::Unreachable { .. }) => {}
            Err(other) => panic!("an unexpected refusal: {other}"),
        }
        rt.sleep(Duration::from_millis(10)).await;
    }
    let last = *confirmed
        .last()
        .expect("writes after the heal are confirmed");
    let (mut got, mut gaps) = (Vec::new(), 0);
    while got.last() != Some(&last) {
        let delivery = rt.timeout(Duration::from_secs(10), streamer.recv()).await;
        let delivery = delivery.expect("frames keep coming").expect("open");
        gaps += u32::from(delivery.follows_gap());
        got.extend(delivery.series().map(|s| s.timestamps[0]));
    }
    assert!(
        got.windows(2).all(|w| w[0] < w[1]),
        "no duplicate, in order: {got:?}"
    );
    let unexplained: Vec<_> = got
        .iter()
        .filter(|v| !confirmed.contains(v) && !unconfirmed.contains(v))
        .collect();
    assert!(
        unexplained.is_empty(),
        "never written, yet received: {unexplained:?}"
    );
    let before: Vec<i64> = confirmed.iter().copied().filter(|&v| v < 100).collect();
    assert!(
        before.iter().all(|v| got.contains(v)),
        "every write before the cut arrives"
    );
    assert!(
        confirmed.iter().any(|&v| v >= 120),
        "writes after the heal are confirmed"
    );
    assert!(gaps >= 1, "the cut is a gap marker");
    assert!(confirmed.len() < 300, "the partition refused writes");
    drop(streamer.close().await);
}

#[test]
fn a_write_across_a_partition_is_never_doubled() {
    let check = sigrelay::check::TurmoilCheck::new(0x3217e)
        .host("leaseholder", serving_leaseholder)
        .duration(Duration::from_secs(120));
    on_turmoil(check, writes_across_a_partition);
}

#[test]
fn a_write_across_a_memory_cut_is_never_doubled() {
    super::cluster::on_shuttle(SHUTTLE_RUNS, 0x3217c, writes_across_a_memory_cut);
    super::cluster::on_tokio(writes_across_a_memory_cut(sigrelay::rt::Tokio));
}

/// Schedules of each body under each of shuttle's random and PCT strategies.
const SHUTTLE_RUNS: usize = 20;
const SEED: u64 = 0x3217;

across_nodes!(
    writes_reach_every_node_and_groups_are_excluded,
    an_unreachable_leaseholder_is_a_typed_error,
);
