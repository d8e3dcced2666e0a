//! Three relays in this process over real TCP on 127.0.0.1 — the cluster example, checked:
//! every node writes its channel and streams the other two, and with no fault on the way
//! every streamer receives every frame written after its open-ack, in order, with no gap
//! marker; closing every relay leaves nothing running.

use std::collections::BTreeSet;
use std::time::Duration;

use sigrelay::net::{ClusterMap, Listener, Peers, Tcp, Transport};
use sigrelay::relay::{ChannelKey, Frame, NodeId, Relay, RelayConfig, Samples, Series, Streamer};
use sigrelay::rt::prelude::*;
use sigrelay::rt::Tokio;

use super::cluster::{on_tokio, CLUSTER};

const NODES: u16 = 3;
const FRAMES: i64 = 300;

fn key(node: u16) -> ChannelKey {
    ChannelKey::leased(NodeId(node), 1)
}

async fn open_cluster() -> Vec<Relay> {
    let mut listeners = Vec::new();
    let mut map = ClusterMap::new();
    for node in 1..=NODES {
        let listener = Tcp.bind("127.0.0.1:0").await.expect("a free port");
        let address = listener.local_address().expect("bound");
        map = map.with(NodeId(node), address);
        listeners.push((node, listener));
    }
    let mut relays = Vec::new();
    for (node, listener) in listeners {
        let config = RelayConfig::new(NodeId(node), (1..=NODES).map(key));
        let peers = Peers::new(Tcp, map.clone(), CLUSTER, NodeId(node));
        relays.push(
            sigrelay::cluster::open(Tokio, config, peers, listener)
                .await
                .expect("a valid configuration"),
        );
    }
    relays
}

fn frame(node: u16, value: i64) -> Frame {
    let series = Series {
        key: key(node),
        timestamps: vec![value],
        samples: Samples::I64(vec![value]),
    };
    Frame::new(vec![series]).expect("one key")
}

/// Reads every frame of the other nodes, checks they came whole and in order, and closes.
async fn read_all(node: u16, mut streamer: Streamer) {
    let mut seen = Vec::new();
    while seen.len() < 2 * FRAMES as usize {
        let delivery = Tokio
            .timeout(Duration::from_secs(10), streamer.recv())
            .await;
        let delivery = delivery.expect("frames keep coming").expect("open");
        assert!(!delivery.follows_gap(), "node {node}: a gap with no fault");
        seen.extend(delivery.series().map(|s| (s.key, s.timestamps[0])));
    }
    for other in (1..=NODES).filter(|&n| n != node) {
        let values: Vec<i64> = seen
            .iter()
            .filter(|s| s.0 == key(other))
            .map(|s| s.1)
            .collect();
        assert_eq!(
            values,
            (0..FRAMES).collect::<Vec<_>>(),
            "node {node} from node {other}"
        );
    }
    assert!(
        streamer.close().await.is_empty(),
        "nothing beyond what was written"
    );
}

#[test]
fn three_nodes_stream_each_other_over_tcp() {
    on_tokio(async {
        let relays = open_cluster().await;
        let mut streamers = Vec::new();
        for (node, relay) in (1..=NODES).zip(&relays) {
            let others: BTreeSet<ChannelKey> =
                (1..=NODES).filter(|&n| n != node).map(key).collect();
            let opened = relay.new_streamer(others, Default::default()).await;
            streamers.push(opened.expect("known keys"));
        }
        let readers: Vec<_> = (1..=NODES)
            .zip(streamers)
            .map(|(node, streamer)| Tokio.spawn("reader", read_all(node, streamer)))
            .collect();
        for value in 0..FRAMES {
            for (node, relay) in (1..=NODES).zip(&relays) {
                let written = relay.writer().write(frame(node, value)).await;
                written.expect("this node leases its channel");
            }
            Tokio.sleep(Duration::from_micros(200)).await;
        }
        for reader in readers {
            reader.await.expect("the reader finishes");
        }
        for relay in &relays {
            let report = relay.close(Duration::from_secs(1)).await.expect("closes");
            assert!(report.is_clean());
            assert!(relay.census().await.live.is_empty(), "nothing left running");
        }
    });
}
