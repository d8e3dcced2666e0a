//! A gateway's peer taps follow its streamers' demand. A streamer opened on keys the node
//! already taps for another streamer still gets its open-ack only once the leaseholder has
//! applied them: while the leaseholder's replies are held (its accepted streams pass a
//! `gate.rs` gate), the second open stays pending, and the first frame written after both
//! open-acks reaches both. A closed streamer's keys leave the leaseholder's storage taps
//! though no later demand asks for them, and the last close leaves none.

use std::collections::BTreeSet;
use std::pin::pin;
use std::sync::Arc;
use std::time::Duration;

use sigrelay::net::{ClusterMap, Listener, Peers, Transport};
use sigrelay::relay::{ChannelKey, Frame, NodeId, Relay, RelayConfig, Samples, Series};
use sigrelay::rt::prelude::*;

use super::cluster::{across_nodes, CLUSTER};
use super::gate::{Gate, Gated};

const HOLDER: NodeId = NodeId(1);
const GATEWAY: NodeId = NodeId(2);
/// How long an open-ack that waits on the leaseholder is seen to stay pending.
const PENDING: Duration = Duration::from_millis(100);

fn keys(channels: &[u16]) -> BTreeSet<ChannelKey> {
    let key = |&n: &u16| ChannelKey::leased(HOLDER, n);
    channels.iter().map(key).collect()
}

fn frame(channel: u16, value: i64) -> Frame {
    let series = Series {
        key: ChannelKey::leased(HOLDER, channel),
        timestamps: vec![value],
        samples: Samples::I64(vec![value]),
    };
    Frame::new(vec![series]).expect("one key")
}

/// The leaseholder of channels 1 and 2, whose accepted streams pass `gate`, and a gateway.
async fn two_nodes<R: Runtime, T: Transport>(rt: &R, net: T, gate: Arc<Gate>) -> [Relay<R>; 2] {
    let gated = Gated {
        inner: net.clone(),
        gate,
    };
    let held = gated.bind("127.0.0.1:0").await.expect("a free port");
    let free = net.bind("127.0.0.1:0").await.expect("a free port");
    let map = ClusterMap::new()
        .with(HOLDER, held.local_address().expect("bound"))
        .with(GATEWAY, free.local_address().expect("bound"));
    let config = |node| RelayConfig::new(node, keys(&[1, 2]));
    let holder = Peers::new(gated, map.clone(), CLUSTER, HOLDER);
    let holder = sigrelay::cluster::open(rt.clone(), config(HOLDER), holder, held);
    let holder = holder.await.expect("a valid configuration");
    let gateway = Peers::new(net, map, CLUSTER, GATEWAY);
    let gateway = sigrelay::cluster::open(rt.clone(), config(GATEWAY), gateway, free);
    [holder, gateway.await.expect("a valid configuration")]
}

/// Waits until `holder` taps exactly `want`, failing with `why` if it never does.
async fn settles<R: Runtime>(rt: &R, holder: &Relay<R>, want: &[&[u16]], why: &str) {
    let want: Vec<BTreeSet<ChannelKey>> = want.iter().map(|c| keys(c)).collect();
    for _ in 0..1000 {
        if holder.storage().taps().await == want {
            return;
        }
        rt.sleep(Duration::from_millis(1)).await;
    }
    let taps = holder.storage().taps().await;
    panic!("{why}: the leaseholder taps {taps:?}, not {want:?}");
}

pub async fn peer_taps_follow_demand_and_hold_open_acks<R: Runtime, T: Transport>(rt: R, net: T) {
    let gate = Arc::new(Gate::default());
    let [holder, gateway] = two_nodes(&rt, net, gate.clone()).await;
    gate.close();
    let opener = gateway.clone();
    let first = rt.spawn("first", async move {
        let opened = opener.new_streamer(keys(&[1, 2]), Default::default()).await;
        opened.expect("known keys")
    });
    gate.until_a_write_is_held(&rt).await;
    let mut second = pin!(gateway.new_streamer(keys(&[2]), Default::default()));
    let early = rt.timeout(PENDING, second.as_mut()).await;
    assert!(
        early.is_err(),
        "a streamer of keys already tapped was acked before the leaseholder applied them"
    );
    gate.open();
    let mut second = second.await.expect("known keys");
    let mut first = first.await.expect("the opener ends");
    assert_eq!(holder.storage().taps().await, [keys(&[1, 2])]);
    holder
        .writer()
        .write(frame(2, 0))
        .await
        .expect("leased here");
    for streamer in [&mut first, &mut second] {
        let delivery = streamer.recv().await.expect("open");
        let got: Vec<_> = delivery
            .series()
            .map(|s| (s.key, s.timestamps[0]))
            .collect();
        assert_eq!(
            got,
            [(ChannelKey::leased(HOLDER, 2), 0)],
            "after the open-ack"
        );
    }
    assert!(first.close().await.is_empty(), "nothing more was written");
    settles(
        &rt,
        &holder,
        &[&[2]],
        "a closed streamer's keys stay tapped",
    )
    .await;
    assert!(second.close().await.is_empty(), "nothing more was written");
    settles(&rt, &holder, &[], "no streamer is left").await;
    for relay in [&gateway, &holder] {
        let report = relay.close(Duration::from_secs(1)).await;
        assert!(report.expect("no routine fails").is_clean());
    }
}

/// Schedules of the body under each of shuttle's random and PCT strategies.
const SHUTTLE_RUNS: usize = 20;
const SEED: u64 = 0x7a95;

across_nodes!(peer_taps_follow_demand_and_hold_open_acks);
