//! The handshake over a real transport: a peer with the cluster's id and token is welcomed
//! and streams; a wrong token, a wrong cluster or a first message that is not a hello is
//! refused with its reason, and nothing is streamed to it. One body, on tokio TCP over
//! loopback and on turmoil's network.

use sigrelay::check::TurmoilCheck;
use sigrelay::net::{
    Connection, Credentials, Listener, Message, PeerError, Refusal, Tcp, Transport, TurmoilNet,
};
use sigrelay::relay::{ChannelKey, Frame, NodeId, Samples, Series};
use sigrelay::rt::prelude::*;
use sigrelay::rt::Tokio;

use super::cluster::{on_tokio, on_turmoil, peers, CLUSTER, SERVER};

const CLIENT: NodeId = NodeId(2);

fn sample() -> Frame {
    let series = Series {
        key: ChannelKey::leased(SERVER, 1),
        timestamps: vec![1],
        samples: Samples::F64(vec![0.5]),
    };
    Frame::new(vec![series]).expect("valid")
}

/// Admits callers; sends each welcomed one a frame, then closes.
async fn serve<R: Runtime, T: Transport>(rt: R, transport: T, mut listener: T::Listener) {
    let server = peers(transport, SERVER, "", CLUSTER);
    while let Ok((stream, _)) = listener.accept().await {
        if let Ok((mut connection, node)) = server.admit(&rt, stream).await {
            assert_eq!(node, CLIENT);
            connection
                .send(&Message::Frame(sample()))
                .await
                .expect("the caller reads");
        }
    }
}

/// The caller's side: right credentials stream; wrong ones are refused and stream nothing.
async fn callers<R: Runtime, T: Transport>(rt: R, transport: T, server: String) {
    let right = peers(transport.clone(), CLIENT, &server, CLUSTER);
    let mut connection = right.dial(&rt, SERVER).await.expect("welcomed");
    assert_eq!(
        connection.recv().await.expect("a frame"),
        Some(Message::Frame(sample()))
    );
    let token = Credentials {
        token: [8; 32],
        ..CLUSTER
    };
    let refused = peers(transport.clone(), CLIENT, &server, token)
        .dial(&rt, SERVER)
        .await;
    assert!(
        matches!(refused, Err(PeerError::Refused(Refusal::Token))),
        "{refused:?}"
    );
    let cluster = Credentials {
        cluster: 0xc2,
        ..CLUSTER
    };
    let refused = peers(transport.clone(), CLIENT, &server, cluster)
        .dial(&rt, SERVER)
        .await;
    let expected = Refusal::Cluster {
        theirs: 0xc2,
        ours: 0xc1,
    };
    assert!(
        matches!(&refused, Err(PeerError::Refused(r)) if *r == expected),
        "{refused:?}"
    );
    assert_eq!(
        refused.expect_err("refused").to_string(),
        "refused: cluster 0xc2, this node is in 0xc1"
    );
    let stream = transport
        .connect(&server)
        .await
        .expect("the server listens");
    let mut rude = Connection::new(stream, 1024);
    rude.send(&Message::Applied).await.expect("sent");
    assert_eq!(
        rude.recv().await.expect("a reply"),
        Some(Message::Refused(Refusal::NoHello))
    );
    assert_eq!(
        rude.recv().await.expect("then the end"),
        None,
        "nothing streamed after a refusal"
    );
    let unknown = right.dial(&rt, NodeId(9)).await;
    assert!(
        matches!(unknown, Err(PeerError::UnknownNode(NodeId(9)))),
        "{unknown:?}"
    );
}

#[test]
fn tokio_tcp_on_loopback() {
    on_tokio(async {
        let listener = Tcp.bind("127.0.0.1:0").await.expect("a free port");
        let address = listener.local_address().expect("bound");
        let server = Tokio.spawn("server", serve(Tokio, Tcp, listener));
        callers(Tokio, Tcp, address).await;
        server.abort();
    });
}

#[test]
fn turmoil_network() {
    let check = TurmoilCheck::new(0x5167_2e1a).host("server", |rt| async move {
        let listener = TurmoilNet
            .bind("0.0.0.0:7000")
            .await
            .expect("the port is free");
        serve(rt, TurmoilNet, listener).await;
    });
    on_turmoil(check, |rt| {
        callers(rt, TurmoilNet, "server:7000".to_string())
    });
}
