//! The in-memory network on tokio and under shuttle: bytes arrive whole and in order, a
//! writer whose reader does not read waits once the pipe's buffer is full, closing an end is
//! an end of stream for the other, and addresses are refused or taken as on a real network.

use std::io::ErrorKind;

use sigrelay::net::{Listener, MemoryNet, Transport};
use sigrelay::rt::prelude::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

async fn pipes_are_bounded_ordered_and_closable<R: Runtime>(rt: R) {
    let net = MemoryNet::new().with_capacity(8);
    let mut listener = net.bind("memory:0").await.expect("a free port");
    let address = listener.local_address().expect("bound");
    let again = net.bind(&address).await.err().map(|e| e.kind());
    assert_eq!(again, Some(ErrorKind::AddrInUse));
    let refused = net.connect("memory:1").await.err().map(|e| e.kind());
    assert_eq!(refused, Some(ErrorKind::ConnectionRefused));
    let mut client = net.connect(&address).await.expect("listening");
    let (mut server, _from) = listener.accept().await.expect("a caller");
    let full = rt.timeout(
        std::time::Duration::from_millis(10),
        client.write_all(&[7; 20]),
    );
    assert!(
        full.await.is_err(),
        "a writer waits once 8 bytes wait unread"
    );
    let writer = rt.spawn("writer", async move {
        client
            .write_all(&(0..40).collect::<Vec<u8>>())
            .await
            .expect("open");
        drop(client);
    });
    let mut got = Vec::new();
    server
        .read_to_end(&mut got)
        .await
        .expect("an end of stream");
    writer.await.expect("the writer finishes");
    assert_eq!(got.len(), 48, "8 of the first write, then 40");
    assert_eq!(&got[8..], &(0..40).collect::<Vec<u8>>()[..], "in order");
    let mut client = net.connect(&address).await.expect("listening");
    drop(listener.accept().await.expect("a caller"));
    let broken = client.write_all(b"x").await.err().map(|e| e.kind());
    assert_eq!(broken, Some(ErrorKind::BrokenPipe), "the other end is gone");
    drop(listener);
    let gone = net.connect(&address).await.err().map(|e| e.kind());
    assert_eq!(
        gone,
        Some(ErrorKind::ConnectionRefused),
        "unbound with its listener"
    );
}

#[test]
fn on_tokio() {
    super::cluster::on_tokio(pipes_are_bounded_ordered_and_closable(sigrelay::rt::Tokio));
}

#[test]
fn under_shuttle() {
    use sigrelay::check::{ShuttleCheck, Strategy};
    for strategy in [Strategy::Random, Strategy::Pct { depth: 3 }] {
        let check = ShuttleCheck::new(strategy, 200).seed(0x3e3);
        check.run(pipes_are_bounded_ordered_and_closable);
    }
}
