//! Closing a relay whose peer is unreachable is bounded by local work alone: with the link
//! to the leaseholder held or partitioned (so no message can make a round trip), closing the
//! streamer and the relay takes no simulated time beyond a few scheduler ticks, and leaves
//! nothing running.

use std::collections::BTreeSet;
use std::time::Duration;

use sigrelay::check::TurmoilCheck;
use sigrelay::net::{ClusterMap, Peers, Transport, TurmoilNet};
use sigrelay::relay::{ChannelKey, Frame, NodeId, Relay, RelayConfig, Samples, Series};
use sigrelay::rt::prelude::*;
use sigrelay::rt::Turmoil;

use super::cluster::{on_turmoil, CLUSTER};

const LEASEHOLDER: NodeId = NodeId(2);
const GATEWAY: NodeId = NodeId(1);

fn key() -> ChannelKey {
    ChannelKey::leased(LEASEHOLDER, 1)
}

fn map() -> ClusterMap {
    ClusterMap::new()
        .with(LEASEHOLDER, "leaseholder:7000")
        .with(GATEWAY, "main:7000")
}

/// The leaseholder: writes a frame every 5 ms, forever.
async fn leaseholder(rt: Turmoil) {
    let listener = TurmoilNet.bind("0.0.0.0:7000").await.expect("a free port");
    let peers = Peers::new(TurmoilNet, map(), CLUSTER, LEASEHOLDER);
    let config = RelayConfig::new(LEASEHOLDER, [key()]);
    let relay = Relay::open_in_cluster(rt.clone(), config, peers, listener).await;
    for value in 0.. {
        let series = Series {
            key: key(),
            timestamps: vec![value],
            samples: Samples::I64(vec![value]),
        };
        let frame = Frame::new(vec![series]).expect("one key");
        relay.writer().write(frame).await.expect("leased here");
        rt.sleep(Duration::from_millis(5)).await;
    }
}

async fn close_while_cut_off(rt: Turmoil, cut: fn()) {
    let listener = TurmoilNet.bind("0.0.0.0:7000").await.expect("a free port");
    let peers = Peers::new(TurmoilNet, map(), CLUSTER, GATEWAY);
    let config = RelayConfig::new(GATEWAY, [key()]);
    let relay = Relay::open_in_cluster(rt.clone(), config, peers, listener).await;
    let keys = BTreeSet::from([key()]);
    let mut streamer = relay.new_streamer(keys, Default::default()).await;
    let streamer_ref = streamer.as_mut().expect("a known key");
    for _ in 0..3 {
        assert!(
            streamer_ref.recv().await.is_some(),
            "frames arrive before the cut"
        );
    }
    cut();
    rt.sleep(Duration::from_millis(100)).await;
    let started = rt.now();
    drop(streamer.expect("open").close().await);
    let report = relay.close(Duration::from_secs(1)).await.expect("closes");
    let took = rt.now() - started;
    assert!(report.is_clean(), "{report:?}");
    assert!(relay.census().await.live.is_empty(), "nothing left running");
    assert!(
        took < Duration::from_millis(20),
        "close waited on the network: {took:?}"
    );
}

fn check(seed: u64) -> TurmoilCheck {
    TurmoilCheck::new(seed).host("leaseholder", leaseholder)
}

#[test]
fn close_with_the_link_held() {
    on_turmoil(check(0xc105e), |rt| {
        close_while_cut_off(rt, || turmoil::hold("main", "leaseholder"))
    });
}

#[test]
fn close_with_the_link_partitioned() {
    on_turmoil(check(0xc105f), |rt| {
        close_while_cut_off(rt, || turmoil::partition("main", "leaseholder"))
    });
}
