//! Closing a relay whose peer is unreachable is bounded by local work alone: with the link
//! to the leaseholder held or partitioned (so no message can make a round trip), closing the
//! streamer and the relay takes no simulated time beyond a few scheduler ticks, and leaves
//! nothing running.

use std::collections::BTreeSet;
use std::time::Duration;

use sigrelay::check::TurmoilCheck;
use sigrelay::net::{Peers, Transport, TurmoilNet};
use sigrelay::relay::RelayConfig;
use sigrelay::rt::prelude::*;
use sigrelay::rt::Turmoil;

use super::cluster::{leased_elsewhere as key, leaseholder, map, on_turmoil, CLUSTER, GATEWAY};

async fn close_while_cut_off(rt: Turmoil, cut: fn()) {
    let listener = TurmoilNet.bind("0.0.0.0:7000").await.expect("a free port");
    let peers = Peers::new(TurmoilNet, map(), CLUSTER, GATEWAY);
    let config = RelayConfig::new(GATEWAY, [key(1)]);
    let relay = sigrelay::cluster::open(rt.clone(), config, peers, listener)
        .await
        .expect("a valid configuration");
    let keys = BTreeSet::from([key(1)]);
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
