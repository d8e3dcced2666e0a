//! Writes to a peer are coalesced: while the peer server waits on a write the peer does not
//! take, the deliveries that queue up behind it go out together in one write once the link
//! moves again, in order and complete. The server's side of the link is a gated stream
//! (`gate.rs`) that holds writes until the test opens it and counts the writes it takes. The same body runs
//! on tokio TCP, turmoil and the in-memory network under shuttle.

use std::sync::Arc;
use std::time::Duration;

use sigrelay::check::TurmoilCheck;
use sigrelay::net::{Message, Tcp, Transport, TurmoilNet};
use sigrelay::relay::{ChannelKey, Frame, NodeId, Relay, RelayConfig, Samples, Series};
use sigrelay::rt::prelude::*;
use sigrelay::rt::Tokio;

use super::cluster::{on_shuttle, on_tokio, on_turmoil, peers, port, CLUSTER, SERVER};
use super::gate::{Gate, Gated};

/// Frames written while the server's write waits: fewer than a server holds for a peer.
const QUEUED: i64 = 32;

fn key() -> ChannelKey {
    ChannelKey::leased(SERVER, 1)
}

fn frame(value: i64) -> Frame {
    let series = Series {
        key: key(),
        timestamps: vec![value],
        samples: Samples::I64(vec![value]),
    };
    Frame::new(vec![series]).expect("one key")
}

async fn queued_deliveries_share_a_write<R: Runtime, T: Transport>(
    rt: R,
    transport: T,
    bind: &str,
    dial: &str,
) {
    let relay = Relay::open(rt.clone(), RelayConfig::new(SERVER, [key()]))
        .await
        .expect("a valid configuration");
    let gate = Arc::new(Gate::default());
    let gated = Gated {
        inner: transport,
        gate: gate.clone(),
    };
    let listener = gated.bind(bind).await.expect("a free port");
    let dial = dial.replace("{port}", &port(&listener));
    let server = peers(gated.clone(), SERVER, "", CLUSTER);
    sigrelay::cluster::serve(&relay, server, listener)
        .await
        .expect("the relay is open");
    let tap = peers(gated, NodeId(2), &dial, CLUSTER);
    let mut connection = tap.dial(&rt, SERVER).await.expect("welcomed");
    connection
        .send(&Message::Keys(vec![key()]))
        .await
        .expect("sent");
    let applied = connection.recv().await.expect("a reply");
    assert_eq!(applied, Some(Message::Applied));
    gate.close();
    let writer = relay.writer();
    writer.write(frame(0)).await.expect("leased here");
    gate.until_a_write_is_held(&rt).await;
    let before = gate.writes();
    for value in 1..=QUEUED {
        writer.write(frame(value)).await.expect("leased here");
    }
    rt.sleep(Duration::from_millis(50)).await;
    gate.open();
    for value in 0..=QUEUED {
        let got = connection.recv().await.expect("a frame");
        assert_eq!(
            got,
            Some(Message::Frame(frame(value))),
            "in order, none lost"
        );
    }
    let writes = gate.writes() - before;
    assert!(
        writes <= 3,
        "{} deliveries took {writes} writes: the queued ones were not coalesced",
        QUEUED + 1
    );
    let report = relay.close(Duration::from_millis(50)).await;
    assert!(report.expect("no routine fails").is_clean());
}

#[test]
fn tokio_tcp_on_loopback() {
    let body = queued_deliveries_share_a_write(Tokio, Tcp, "127.0.0.1:0", "127.0.0.1:{port}");
    on_tokio(body);
}

#[test]
fn turmoil_network() {
    on_turmoil(TurmoilCheck::new(0xc0a1_e5ce), |rt| async move {
        queued_deliveries_share_a_write(rt, TurmoilNet, "0.0.0.0:7000", "main:{port}").await;
    });
}

#[test]
fn memory_network_under_shuttle() {
    use sigrelay::net::MemoryNet;
    on_shuttle(50, 0xc0a1_e5ce, |rt| {
        queued_deliveries_share_a_write(rt, MemoryNet::new(), "memory:0", "memory:{port}")
    });
}
