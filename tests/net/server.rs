//! The peer server over a real transport: a peer's key set is acknowledged by `Applied` only
//! once applied, so a frame written right after arrives; only the peer's keys travel; and
//! closing the relay stops the server first, which closes its streamer and the connection.
//! The same body runs on tokio TCP, turmoil and the in-memory network under shuttle.

use std::collections::BTreeSet;
use std::time::Duration;

use sigrelay::check::TurmoilCheck;
use sigrelay::net::{Message, Tcp, Transport, TurmoilNet};
use sigrelay::relay::{ChannelKey, Frame, NodeId, Relay, RelayConfig, Samples, Series};
use sigrelay::rt::prelude::*;
use sigrelay::rt::Tokio;

use super::cluster::{on_tokio, on_turmoil, peers, port, CLUSTER, SERVER};

fn key(n: u16) -> ChannelKey {
    ChannelKey::leased(SERVER, n)
}

fn frame(keys: &[ChannelKey], value: i64) -> Frame {
    let series = keys.iter().map(|&key| Series {
        key,
        timestamps: vec![value],
        samples: Samples::I64(vec![value]),
    });
    Frame::new(series.collect()).expect("distinct keys")
}

async fn serves_a_peer<R: Runtime, T: Transport>(rt: R, transport: T, bind: &str, dial: &str) {
    let relay = Relay::open(rt.clone(), RelayConfig::new(SERVER, [key(1), key(2)]))
        .await
        .expect("a valid configuration");
    let listener = transport.bind(bind).await.expect("a free port");
    let dial = dial.replace("{port}", &port(&listener));
    let server = peers(transport.clone(), SERVER, "", CLUSTER);
    sigrelay::cluster::serve(&relay, server, listener)
        .await
        .expect("the relay is open");
    let tap = peers(transport, NodeId(2), &dial, CLUSTER);
    let mut connection = tap.dial(&rt, SERVER).await.expect("welcomed");
    let writer = relay.writer();
    for (keys, value) in [(vec![key(1)], 1), (vec![key(2)], 2)] {
        connection
            .send(&Message::Keys(keys.clone()))
            .await
            .expect("sent");
        assert_eq!(
            connection.recv().await.expect("a reply"),
            Some(Message::Applied)
        );
        writer
            .write(frame(&[key(1), key(2)], value))
            .await
            .expect("known keys");
        let got = connection.recv().await.expect("a frame");
        assert_eq!(
            got,
            Some(Message::Frame(frame(&keys, value))),
            "only the peer's keys"
        );
    }
    let report = relay
        .close(Duration::from_millis(50))
        .await
        .expect("no routine fails");
    assert!(
        report.is_clean(),
        "the server closed its streamer: {report:?}"
    );
    assert_eq!(connection.recv().await.expect("the end"), None);
    assert!(relay.census().await.live.is_empty());
    let unused: BTreeSet<ChannelKey> = BTreeSet::new();
    assert!(relay
        .new_streamer(unused, Default::default())
        .await
        .is_err());
}

#[test]
fn tokio_tcp_on_loopback() {
    let body = serves_a_peer(Tokio, Tcp, "127.0.0.1:0", "127.0.0.1:{port}");
    on_tokio(body);
}

#[test]
fn turmoil_network() {
    on_turmoil(TurmoilCheck::new(0x5167_2e1a), |rt| async move {
        serves_a_peer(rt, TurmoilNet, "0.0.0.0:7000", "main:{port}").await;
    });
}

#[test]
fn memory_network_under_shuttle() {
    use sigrelay::net::MemoryNet;
    super::cluster::on_shuttle(100, 0x5167_2e1a, |rt| {
        serves_a_peer(rt, MemoryNet::new(), "memory:0", "memory:{port}")
    });
}
