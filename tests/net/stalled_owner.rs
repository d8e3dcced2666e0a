//! The peer tap's half of "why this cannot deadlock": a streamer whose owner stopped reading
//! fills its outlet, the delta waits on it, the delta's inlet fills, and the peer tap finds
//! no room for the frames it receives. Another streamer that now opens on a new channel of the
//! same peer needs that tap to read the peer's `Applied` — behind those frames. The tap waits
//! at most its patience per frame, drops what finds no room and owes a gap, so the open-ack
//! still comes, within a bounded simulated time; and the stalled streamer's next delivery,
//! once its owner reads again, carries the gap marker.

use std::collections::BTreeSet;
use std::time::Duration;

use sigrelay::check::TurmoilCheck;
use sigrelay::net::{Peers, Transport, TurmoilNet};
use sigrelay::relay::{RelayConfig, StreamerConfig};
use sigrelay::rt::prelude::*;
use sigrelay::rt::Turmoil;

use super::cluster::{leased_elsewhere as key, leaseholder, map, on_turmoil, CLUSTER, GATEWAY};

async fn an_open_ack_is_not_held_by_a_stalled_owner(rt: Turmoil) {
    let listener = TurmoilNet.bind("0.0.0.0:7000").await.expect("a free port");
    let peers = Peers::new(TurmoilNet, map(), CLUSTER, GATEWAY);
    let config = RelayConfig::new(GATEWAY, [key(1), key(2)]);
    let relay = sigrelay::cluster::open(rt.clone(), config, peers, listener)
        .await
        .expect("a valid configuration");
    let tight = StreamerConfig {
        capacity: 1,
        ..StreamerConfig::default()
    };
    let mut stalled = relay.new_streamer(BTreeSet::from([key(1)]), tight).await;
    let stalled_ref = stalled.as_mut().expect("a known key");
    assert!(stalled_ref.recv().await.is_some(), "frames flow");
    rt.sleep(Duration::from_secs(1)).await;
    let asked = rt.now();
    let keys = BTreeSet::from([key(2)]);
    let opened = rt.timeout(
        Duration::from_secs(2),
        relay.new_streamer(keys, Default::default()),
    );
    let late = opened
        .await
        .expect("the open-ack came")
        .expect("a known key");
    let waited = rt.now() - asked;
    assert!(
        waited < Duration::from_millis(500),
        "the open-ack took {waited:?}"
    );
    let mut stalled = stalled.expect("open");
    let marked = async {
        while let Some(delivery) = stalled.recv().await {
            if delivery.follows_gap() {
                return true;
            }
        }
        false
    };
    assert!(marked.await, "the frames the tap dropped are owned up to");
    drop(late.close().await);
    drop(stalled.close().await);
    let report = relay.close(Duration::from_secs(1)).await.expect("closes");
    assert!(report.is_clean(), "{report:?}");
}

#[test]
fn an_open_ack_comes_while_another_owner_stalls_the_delta() {
    let check = TurmoilCheck::new(0x57a11).host("leaseholder", leaseholder);
    on_turmoil(check, an_open_ack_is_not_held_by_a_stalled_owner);
}
