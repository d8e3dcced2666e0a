//! Closing a relay whose peer is unreachable is bounded by local work alone: with the link
//! to the leaseholder held or partitioned (so no message can make a round trip), closing the
//! streamer and the relay takes no simulated time beyond a few scheduler ticks, and leaves
//! nothing running. Closing the last streamer of a leaseholder's channels ends its peer tap
//! at once, even while the tap's dial hangs.

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

/// Closing the only streamer of a leaseholder's channels ends the peer tap at once, even
/// while its dial hangs on a held link: the tap does not wait out the handshake deadline.
async fn tap_ends_while_it_dials(rt: Turmoil) {
    let listener = TurmoilNet.bind("0.0.0.0:7000").await.expect("a free port");
    let peers = Peers::new(TurmoilNet, map(), CLUSTER, GATEWAY);
    let deadline = peers.handshake_deadline;
    let config = RelayConfig::new(GATEWAY, [key(1)]);
    let relay = sigrelay::cluster::open(rt.clone(), config, peers, listener)
        .await
        .expect("a valid configuration");
    turmoil::hold("main", "leaseholder");
    let keys = BTreeSet::from([key(1)]);
    let streamer = relay.new_streamer(keys, Default::default()).await;
    rt.sleep(deadline / 5).await;
    let taps = |census: sigrelay::signal::Census| {
        let live = census.live.into_iter().map(|r| r.path.to_string());
        live.filter(|path| path.contains("tap-"))
            .collect::<Vec<_>>()
    };
    assert_eq!(taps(relay.census().await).len(), 1, "the tap dials again");
    drop(streamer.expect("open").close().await);
    rt.sleep(deadline / 20).await;
    assert_eq!(taps(relay.census().await), Vec::<String>::new());
    let report = relay.close(Duration::from_secs(1)).await.expect("closes");
    assert!(report.is_clean(), "{report:?}");
}

#[test]
fn a_closed_tap_stops_dialling() {
    on_turmoil(check(0xc1060), tap_ends_while_it_dials);
}
