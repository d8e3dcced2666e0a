//! The in-memory network on tokio and under shuttle: bytes arrive whole and in order, a
//! writer whose reader does not read waits once the pipe's buffer is full, closing an end is
//! an end of stream for the other, and addresses are refused or taken as on a real network;
//! with latency every write arrives no sooner than its delay and in order; a hold silences
//! a connection without breaking it, and a release delivers what it held.

use std::io::ErrorKind;
use std::time::Duration;

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

async fn latency_delays_and_a_hold_silences<R: Runtime>(rt: R) {
    let (min, max) = (Duration::from_millis(5), Duration::from_millis(15));
    let net = MemoryNet::new().with_latency(&rt, min, max);
    let mut listener = net.bind("memory:7").await.expect("free");
    let mut client = net.connect("memory:7").await.expect("listening");
    let (mut server, _from) = listener.accept().await.expect("a caller");
    let sent = rt.now();
    for chunk in [b"ab", b"cd", b"ef"] {
        client.write_all(chunk).await.expect("open");
    }
    let mut got = [0u8; 6];
    server
        .read_exact(&mut got)
        .await
        .expect("all of it arrives");
    let took = rt.now().saturating_duration_since(sent);
    assert_eq!(&got, b"abcdef", "in the order written");
    assert!(took >= min, "no write arrives before its delay: {took:?}");
    net.hold("memory:7");
    client
        .write_all(b"g")
        .await
        .expect("a held connection takes writes");
    let mut one = [0u8; 1];
    let silent = rt.timeout(Duration::from_millis(100), server.read_exact(&mut one));
    assert!(silent.await.is_err(), "nothing arrives while held");
    net.release("memory:7");
    server
        .read_exact(&mut one)
        .await
        .expect("released, not broken");
    assert_eq!(&one, b"g");
}

#[test]
fn on_tokio() {
    super::cluster::on_tokio(pipes_are_bounded_ordered_and_closable(sigrelay::rt::Tokio));
    super::cluster::on_tokio(latency_delays_and_a_hold_silences(sigrelay::rt::Tokio));
}

#[test]
fn under_shuttle() {
    super::cluster::on_shuttle(200, 0x3e3, pipes_are_bounded_ordered_and_closable);
    super::cluster::on_shuttle(200, 0x3e4, latency_delays_and_a_hold_silences);
}
