//! Three relays over the in-memory network under shuttle — every write delayed by up to
//! 2 ms, drawn from the seed — one of them a slow reader: node 1
//! writes its channel in bursts; node 2 streams it and reads slowly, so its delta, its peer
//! tap and the connection from node 1 fill up, and node 1's peer server, whose streamer is
//! lossy, drops frames for it; node 3 streams it and reads at once. On both readers the
//! values arrive in order, never twice, and every loss — in node 1's server or node 2's
//! tap — is announced by a gap marker on the next delivery. Then every node closes with
//! nothing left running. `cluster-chaos` runs the same cluster with faults drawn from the
//! seed besides: writes lost (each loss breaks its connection) and, while node 1 writes,
//! crashes and partitions of the nodes' addresses; once the faults are over and the peers
//! have redialled, node 1 writes a value every 20 ms for 2 s, and both readers must get
//! some of them.

use std::collections::BTreeSet;
use std::time::Duration;

use sigrelay::bugs::Bugs;
use sigrelay::net::{Chaos, ClusterMap, Credentials, Fault, Listener, MemoryNet, Peers, Transport};
use sigrelay::relay::{
    ChannelKey, Frame, NodeId, Relay, RelayConfig, Samples, Series, Streamer, StreamerConfig,
};
use sigrelay::rt::prelude::*;

const NODES: u16 = 3;
const BURSTS: i64 = 4;
const BURST: i64 = 40;
/// Bytes each way on a connection: a few frames, so a reader that stops soon holds its
/// server up.
const PIPE: usize = 256;
/// The longest delay of a write on the network; each is drawn from the seed.
const MAX_LATENCY: Duration = Duration::from_millis(2);
/// Deliveries a peer server holds for a slow peer.
const PEER_BUFFER: usize = 2;
/// Longer than the cluster's patience, so the slow node's tap drops frames.
const SLOW_READ: Duration = Duration::from_millis(30);
/// Silence after which a reader takes the stream for ended: longer than a peer's longest
/// redial backoff, so a reader outlasts the faults of `cluster-chaos`.
const QUIET: Duration = Duration::from_secs(3);
/// How long `cluster-chaos` waits after its faults before it writes again: every peer has
/// redialled by then.
const HEALED: Duration = Duration::from_millis(1_200);
/// What `cluster-chaos` writes then: this many values, one per [`TRICKLE_PERIOD`], so that
/// a loss among them (which breaks a connection) is followed by a redial and later values.
const TRICKLE: i64 = 100;
const TRICKLE_PERIOD: Duration = Duration::from_millis(20);
const CLUSTER: Credentials = Credentials {
    cluster: 0x51,
    token: [5; 32],
};

fn key(node: u16) -> ChannelKey {
    ChannelKey::leased(NodeId(node), 1)
}

fn frame(value: i64) -> Frame {
    let series = Series {
        key: key(1),
        timestamps: vec![value],
        samples: Samples::I64(vec![value]),
    };
    Frame::new(vec![series]).expect("one key")
}

async fn cluster<R: Runtime>(rt: &R, net: MemoryNet) -> Vec<Relay<R>> {
    let mut listeners = Vec::new();
    let mut map = ClusterMap::new();
    for n in 1..=NODES {
        let listener = net
            .bind(&format!("n{n}:7000"))
            .await
            .expect("a free address");
        map = map.with(NodeId(n), listener.local_address().expect("bound"));
        listeners.push(listener);
    }
    let mut relays = Vec::new();
    for (n, listener) in (1..=NODES).zip(listeners) {
        let config = RelayConfig::new(NodeId(n), (1..=NODES).map(key));
        let peers = Peers {
            peer_buffer: PEER_BUFFER,
            ..Peers::new(net.clone(), map.clone(), CLUSTER, NodeId(n))
        };
        let relay = sigrelay::cluster::open(rt.clone(), config, peers, listener).await;
        relays.push(relay.expect("a valid configuration"));
    }
    relays
}

/// What a reader saw: values in arrival order, and how many deliveries followed a gap.
#[derive(Debug, Default)]
struct Seen {
    values: Vec<i64>,
    gaps: u64,
}

/// Reads `streamer` until it is quiet for [`QUIET`], sleeping `pause` after each delivery;
/// checks order, no duplicates and that every loss is announced.
async fn read<R: Runtime>(rt: R, node: u16, mut streamer: Streamer<R>, pause: Duration) -> Seen {
    let mut seen = Seen::default();
    while let Ok(Some(delivery)) = rt.timeout(QUIET, streamer.recv()).await {
        let next = seen.values.last().map_or(0, |v| v + 1);
        for series in delivery.series() {
            let value = series.timestamps[0];
            assert!(
                value >= next,
                "node {node}: {value} after {next} - 1: out of order or twice"
            );
            assert!(
                value == next || delivery.follows_gap(),
                "node {node}: values {next}..{value} lost without a gap marker"
            );
            seen.values.push(value);
        }
        seen.gaps += u64::from(delivery.follows_gap());
        rt.sleep(pause).await;
    }
    drop(streamer.close().await);
    seen
}

/// Writes lost per million under `cluster-chaos`.
const LOSS: u32 = 1_000;

/// `cluster-chaos`'s faults: three crashes or partitions of any node's address while node 1
/// writes.
fn chaos_plan() -> Chaos {
    let ms = Duration::from_millis;
    Chaos {
        addresses: (1..=NODES).map(|n| format!("n{n}:7000")).collect(),
        faults: vec![Fault::Crash, Fault::Partition],
        count: 3,
        gap: (ms(5), ms(50)),
        outage: (ms(5), ms(40)),
    }
}

/// `cluster-slow-peer`'s body (see the module doc).
pub async fn slow_peer<R: Runtime>(rt: R, _bugs: Bugs) {
    let net = MemoryNet::new().with_capacity(PIPE);
    let net = net.with_latency(&rt, Duration::ZERO, MAX_LATENCY);
    stream_through(rt, net, None).await;
}

/// `cluster-chaos`'s body (see the module doc).
pub async fn chaos<R: Runtime>(rt: R, _bugs: Bugs) {
    let net = MemoryNet::new().with_capacity(PIPE);
    let net = net.with_latency(&rt, Duration::ZERO, MAX_LATENCY);
    let net = net.with_loss(&rt, LOSS);
    stream_through(rt, net, Some(chaos_plan())).await;
}

/// Node 1 writes in bursts, nodes 2 (slowly) and 3 read, while `chaos` plays, if given.
async fn stream_through<R: Runtime>(rt: R, net: MemoryNet, chaos: Option<Chaos>) {
    let relays = cluster(&rt, net.clone()).await;
    let mut readers = Vec::new();
    for (node, pause) in [(2, SLOW_READ), (3, Duration::ZERO)] {
        let config = StreamerConfig {
            capacity: 2,
            ..StreamerConfig::default()
        };
        let relay = &relays[usize::from(node) - 1];
        let streamer = relay.new_streamer(BTreeSet::from([key(1)]), config).await;
        let streamer = streamer.expect("a channel of the cluster");
        let reader = rt.clone();
        readers.push(rt.spawn(
            &format!("reader-{node}"),
            read(reader, node, streamer, pause),
        ));
    }
    let faults = chaos.map(|plan| {
        let (net, faulty) = (net.clone(), rt.clone());
        rt.spawn("chaos", async move { net.chaos(&faulty, &plan).await })
    });
    let writer = relays[0].writer();
    let mut bursts = 0..BURSTS;
    for burst in bursts.by_ref() {
        for value in burst * BURST..(burst + 1) * BURST {
            writer.write(frame(value)).await.expect("node 1 is open");
        }
        rt.sleep(Duration::from_millis(50)).await;
    }
    let last_burst = match faults {
        None => 0,
        Some(faults) => {
            let played = faults.await.expect("the chaos task ends");
            played.expect("a valid plan");
            rt.sleep(HEALED).await;
            let first = bursts.end * BURST;
            for value in first..first + TRICKLE {
                writer.write(frame(value)).await.expect("node 1 is open");
                rt.sleep(TRICKLE_PERIOD).await;
            }
            first
        }
    };
    for reader in readers {
        let seen = reader.await.expect("the reader ends");
        let resumed = seen.values.last().is_some_and(|v| *v >= last_burst);
        assert!(
            resumed,
            "the reader gets what is written after the faults: {seen:?}"
        );
    }
    for relay in &relays {
        let report = relay.close(Duration::from_secs(1)).await.expect("closes");
        assert!(report.is_clean(), "{report:?}");
    }
}
