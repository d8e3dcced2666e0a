//! Three relays over the in-memory network under shuttle — every write delayed by up to
//! 2 ms, drawn from the seed — one of them a slow reader: node 1
//! writes its channel in bursts; node 2 streams it and reads slowly, so its delta, its peer
//! tap and the connection from node 1 fill up, and node 1's peer server, whose streamer is
//! lossy, drops frames for it; node 3 streams it and reads at once. On both readers the
//! values arrive in order, never twice, and every loss — in node 1's server or node 2's
//! tap — is announced by a gap marker on the next delivery. Then every node closes with
//! nothing left running.

use std::collections::BTreeSet;
use std::time::Duration;

use sigrelay::bugs::Bugs;
use sigrelay::net::{ClusterMap, Credentials, Listener, MemoryNet, Peers, Transport};
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
/// Silence after which a reader takes the stream for ended.
const QUIET: Duration = Duration::from_millis(500);
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

/// The scenario's body (see the module doc).
pub async fn slow_peer<R: Runtime>(rt: R, _bugs: Bugs) {
    let net = MemoryNet::new().with_capacity(PIPE);
    let relays = cluster(&rt, net.with_latency(&rt, Duration::ZERO, MAX_LATENCY)).await;
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
    let writer = relays[0].writer();
    for burst in 0..BURSTS {
        for value in burst * BURST..(burst + 1) * BURST {
            writer.write(frame(value)).await.expect("node 1 is open");
        }
        rt.sleep(Duration::from_millis(50)).await;
    }
    for reader in readers {
        let seen = reader.await.expect("the reader ends");
        assert!(!seen.values.is_empty(), "a reader gets something: {seen:?}");
    }
    for relay in &relays {
        let report = relay.close(Duration::from_secs(1)).await.expect("closes");
        assert!(report.is_clean(), "{report:?}");
    }
}
