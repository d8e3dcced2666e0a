//! Admitting a peer never holds a node up: a caller that says nothing does not delay a
//! relay's close, and a caller that sends its hello but never reads the answer is given up
//! at the handshake deadline instead of holding the server's write forever. Each body runs
//! on the in-memory network under shuttle (virtual time) and on tokio.

use std::time::Duration;

use sigrelay::net::{
    ClusterMap, Connection, Listener, MemoryListener, MemoryNet, Message, PeerError, Peers,
    Transport,
};
use sigrelay::relay::{ChannelKey, NodeId, RelayConfig};
use sigrelay::rt::prelude::*;

use super::cluster::CLUSTER;

const ME: NodeId = NodeId(1);

/// The address `listener` has and the peers of node 1 listening there.
fn node_one(net: &MemoryNet, listener: &MemoryListener) -> (String, Peers<MemoryNet>) {
    let address = listener.local_address().expect("bound");
    let map = ClusterMap::new().with(ME, &address);
    (address, Peers::new(net.clone(), map, CLUSTER, ME))
}

pub async fn a_silent_caller_does_not_delay_close<R: Runtime>(rt: R) {
    let net = MemoryNet::new();
    let listener = net.bind("memory:0").await.expect("a free port");
    let (address, peers) = node_one(&net, &listener);
    let config = RelayConfig::new(ME, [ChannelKey::leased(ME, 1)]);
    let relay = sigrelay::cluster::open(rt.clone(), config, peers, listener).await;
    let relay = relay.expect("a valid configuration");
    let _silent = net.connect(&address).await.expect("listening");
    rt.sleep(Duration::from_millis(10)).await;
    let started = rt.now();
    let report = relay.close(Duration::from_secs(1)).await.expect("closes");
    let took = rt.now().saturating_duration_since(started);
    assert!(report.is_clean(), "{report:?}");
    assert!(
        took < Duration::from_millis(100),
        "close waited on the handshake: {took:?}"
    );
}

pub async fn a_caller_that_never_reads_is_given_up<R: Runtime>(rt: R) {
    let net = MemoryNet::new().with_capacity(4);
    let mut listener = net.bind("memory:0").await.expect("a free port");
    let (address, peers) = node_one(&net, &listener);
    let caller = rt.spawn("caller", {
        let (net, address) = (net.clone(), address.clone());
        async move {
            let stream = net.connect(&address).await.expect("listening");
            let mut connection = Connection::new(stream, 4096);
            let hello = Message::Hello(CLUSTER.hello(NodeId(2)));
            connection.send(&hello).await.expect("the server reads");
            std::future::pending::<()>().await;
        }
    });
    let (stream, _) = listener.accept().await.expect("a caller");
    let started = rt.now();
    let admitted = peers.admit(&rt, stream).await;
    let took = rt.now().saturating_duration_since(started);
    assert!(matches!(admitted, Err(PeerError::TimedOut)), "{admitted:?}");
    assert!(
        took <= peers.handshake_deadline + Duration::from_millis(5),
        "{took:?}"
    );
    caller.abort();
}

#[test]
fn under_shuttle() {
    super::cluster::on_shuttle(50, 0xad17, a_silent_caller_does_not_delay_close);
    super::cluster::on_shuttle(50, 0xad17, a_caller_that_never_reads_is_given_up);
}

#[test]
fn on_tokio() {
    super::cluster::on_tokio(async {
        let both = async {
            a_silent_caller_does_not_delay_close(sigrelay::rt::Tokio).await;
            a_caller_that_never_reads_is_given_up(sigrelay::rt::Tokio).await;
        };
        let finished = sigrelay::rt::Tokio
            .timeout(Duration::from_secs(30), both)
            .await;
        assert!(finished.is_ok(), "admission held the bodies for 30 s");
    });
}
