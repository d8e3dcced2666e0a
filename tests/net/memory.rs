//! The in-memory network on tokio and under shuttle: bytes arrive whole and in order, a
//! writer whose reader does not read waits once the pipe's buffer is full, closing an end is
//! an end of stream for the other, and addresses are refused or taken as on a real network;
//! with latency every write arrives no sooner than its delay and in order; a hold silences
//! a connection without breaking it, and a release delivers what it held; lost writes break
//! their connections at the rate asked; a chaos plan crashes and partitions what the seed
//! draws, when it says, and nothing else.

use std::io::ErrorKind;
use std::time::Duration;

use sigrelay::net::{Chaos, ChaosError, Fault, Listener, MemoryListener, MemoryNet, Transport};
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

/// Opens a connection, writes one byte and says whether the write was lost (and the other
/// end then sees the stream end).
async fn one_write_lost(net: &MemoryNet, listener: &mut MemoryListener) -> bool {
    let mut client = net.connect("memory:9").await.expect("listening");
    let (mut server, _from) = listener.accept().await.expect("a caller");
    match client.write_all(b"x").await {
        Ok(()) => false,
        Err(e) => {
            assert_eq!(e.kind(), ErrorKind::ConnectionReset, "a loss is a reset");
            let mut rest = Vec::new();
            let read = server
                .read_to_end(&mut rest)
                .await
                .expect("an end, not an error");
            assert_eq!(read, 0, "the lost write never arrives");
            true
        }
    }
}

async fn loss_breaks_connections_at_the_drawn_rate<R: Runtime>(rt: R) {
    for (per_million, lost) in [(0, 0..=0), (1_000_000, 40..=40), (500_000, 8..=32)] {
        let net = MemoryNet::new().with_loss(&rt, per_million);
        let mut listener = net.bind("memory:9").await.expect("free");
        let mut n = 0;
        for _ in 0..40 {
            n += usize::from(one_write_lost(&net, &mut listener).await);
        }
        assert!(
            lost.contains(&n),
            "{n} of 40 writes lost at {per_million} per million"
        );
    }
}

/// Connects to each address every millisecond until `end`; returns when each was refused.
async fn refusals<R: Runtime>(rt: R, net: MemoryNet, end: Duration) -> Vec<(String, Duration)> {
    let (start, mut refused) = (rt.now(), Vec::new());
    while rt.now().saturating_duration_since(start) < end {
        for address in ["memory:21", "memory:22"] {
            if net.connect(address).await.is_err() {
                refused.push((
                    address.to_string(),
                    rt.now().saturating_duration_since(start),
                ));
            }
        }
        rt.sleep(Duration::from_millis(1)).await;
    }
    refused
}

/// `slack`: how far apart the prober's clock and the plan's may read for one instant. Under
/// shuttle both read the same virtual instant; on tokio each starts its clock when it is
/// first polled, and both wake on the same timer tick, so a probe lands on a fault's edge.
///
/// `late`: how late a timer may fire. Timers fire no sooner than asked; tokio's round up to
/// its millisecond tick. Both backends run this on a clock that moves only when every task
/// waits (tokio's paused), so a loaded machine delays no timer.
async fn chaos_plays_the_faults_the_seed_draws<R: Runtime>(rt: R, slack: Duration, late: Duration) {
    let net = MemoryNet::new();
    let _listeners = [
        net.bind("memory:21").await.expect("free"),
        net.bind("memory:22").await.expect("free"),
    ];
    let ms = Duration::from_millis;
    let plan = Chaos {
        addresses: vec!["memory:21".into(), "memory:22".into()],
        faults: vec![Fault::Crash, Fault::Partition],
        count: 6,
        gap: (ms(2), ms(6)),
        outage: (ms(3), ms(8)),
    };
    let prober = rt.spawn(
        "prober",
        refusals(rt.clone(), net.clone(), ms(90) + 6 * late),
    );
    let played = net.chaos(&rt, &plan).await.expect("a valid plan");
    let refused = prober.await.expect("the prober ends");
    assert_eq!(played.len(), 6);
    let mut end = Duration::ZERO;
    for fault in &played {
        let gap = fault.at.saturating_sub(end);
        assert!((ms(2)..=ms(6) + late).contains(&gap), "the gap: {played:?}");
        let outage = fault.outage;
        assert!(
            (ms(3)..=ms(8) + late).contains(&outage),
            "the outage: {played:?}"
        );
        end = fault.at + fault.outage;
        let (from, to) = (fault.at.saturating_sub(slack), end + slack);
        let during = |(a, t): &&(String, Duration)| *a == fault.address && *t >= from && *t < to;
        let seen = refused.iter().filter(during).count();
        match fault.fault {
            Fault::Crash => assert!(seen >= 2, "a crash refuses callers: {fault:?} {refused:?}"),
            Fault::Partition => assert_eq!(seen, 0, "a partition refuses none: {fault:?}"),
        }
    }
    for (address, at) in &refused {
        let crashed = played.iter().any(|f| {
            f.fault == Fault::Crash
                && f.address == *address
                && *at + slack >= f.at
                && *at <= f.at + f.outage + slack
        });
        assert!(
            crashed,
            "{address} refused at {at:?} outside every crash: {played:?}"
        );
    }
    let bad = Chaos {
        addresses: Vec::new(),
        ..plan.clone()
    };
    assert_eq!(net.chaos(&rt, &bad).await, Err(ChaosError::NoAddresses));
    let bad = Chaos {
        gap: (ms(2), ms(1)),
        ..plan
    };
    assert_eq!(
        net.chaos(&rt, &bad).await,
        Err(ChaosError::EmptyRange("gap"))
    );
}

#[test]
fn on_tokio() {
    super::cluster::on_tokio(pipes_are_bounded_ordered_and_closable(sigrelay::rt::Tokio));
    super::cluster::on_tokio(latency_delays_and_a_hold_silences(sigrelay::rt::Tokio));
    super::cluster::on_tokio(loss_breaks_connections_at_the_drawn_rate(
        sigrelay::rt::Tokio,
    ));
    super::cluster::on_paused_tokio(chaos_plays_the_faults_the_seed_draws(
        sigrelay::rt::Tokio,
        Duration::from_millis(1),
        Duration::from_millis(2),
    ));
}

#[test]
fn under_shuttle() {
    super::cluster::on_shuttle(200, 0x3e3, pipes_are_bounded_ordered_and_closable);
    super::cluster::on_shuttle(200, 0x3e4, latency_delays_and_a_hold_silences);
    super::cluster::on_shuttle(100, 0x3e5, loss_breaks_connections_at_the_drawn_rate);
    super::cluster::on_shuttle(100, 0x3e6, |rt| {
        chaos_plays_the_faults_the_seed_draws(rt, Duration::ZERO, Duration::from_millis(2))
    });
}
