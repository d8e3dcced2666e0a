//! Three relay nodes in one process, talking over real TCP on 127.0.0.1. Each node leases one
//! channel and writes to it; each node streams the other two nodes' channels through its peer
//! taps. Every sample carries the time it was written, so each delivery measures end-to-end
//! latency: writer → storage → gateway tap → delta → peer server → TCP → peer tap → delta →
//! streamer.
//!
//! ```text
//! cargo run --release --example cluster -- [--rate FRAMES_PER_S] [--seconds S]
//! ```
//!
//! `--rate` is the number of frames written per second across the cluster (default 10,000);
//! every frame reaches two streamers, so twice as many are delivered.

use std::collections::BTreeSet;
use std::error::Error;
use std::time::{Duration, Instant};

use sigrelay::net::{ClusterMap, Credentials, Listener, Peers, Tcp, Transport};
use sigrelay::relay::{
    ChannelKey, Frame, NodeId, Relay, RelayConfig, Samples, Series, Streamer, StreamerConfig,
};
use sigrelay::rt::prelude::*;
use sigrelay::rt::Tokio;

const NODES: u16 = 3;
const CREDENTIALS: Credentials = Credentials {
    cluster: 0x5167,
    token: [0x5a; 32],
};

struct Args {
    rate: u64,
    seconds: u64,
}

fn args() -> Result<Args, String> {
    let mut parsed = Args {
        rate: 10_000,
        seconds: 5,
    };
    let mut given = std::env::args().skip(1);
    while let Some(flag) = given.next() {
        let value = given.next().ok_or(format!("{flag} needs a value"))?;
        let number = value
            .parse::<u64>()
            .map_err(|e| format!("{flag} {value}: {e}"))?;
        match flag.as_str() {
            "--rate" if number > 0 => parsed.rate = number,
            "--seconds" if number > 0 => parsed.seconds = number,
            _ => return Err(format!("unknown flag or zero value: {flag} {value}")),
        }
    }
    Ok(parsed)
}

fn key(node: u16) -> ChannelKey {
    ChannelKey::leased(NodeId(node), 1)
}

/// Binds every node's listener first (so the cluster map has real ports), then opens the
/// relays.
async fn start() -> Result<Vec<Relay>, Box<dyn Error>> {
    let mut listeners = Vec::new();
    let mut map = ClusterMap::new();
    for node in 1..=NODES {
        let listener = Tcp.bind("127.0.0.1:0").await?;
        map = map.with(NodeId(node), listener.local_address()?);
        listeners.push((node, listener));
    }
    let mut relays = Vec::new();
    for (node, listener) in listeners {
        let config = RelayConfig::new(NodeId(node), (1..=NODES).map(key));
        let peers = Peers::new(Tcp, map.clone(), CREDENTIALS, NodeId(node));
        relays.push(
            sigrelay::cluster::open(Tokio, config, peers, listener)
                .await
                .expect("a valid configuration"),
        );
    }
    Ok(relays)
}

/// Writes `rate` frames per second to `node`'s channel for `seconds`, each stamped with the
/// nanoseconds since `epoch`; returns how many it wrote.
async fn write(relay: Relay, node: u16, rate: u64, seconds: u64, epoch: Instant) -> u64 {
    let writer = relay.writer();
    let started = Instant::now();
    let mut written = 0;
    while started.elapsed() < Duration::from_secs(seconds) {
        let due = (started.elapsed().as_secs_f64() * rate as f64) as u64;
        while written < due {
            let series = Series {
                key: key(node),
                timestamps: vec![written as i64],
                samples: Samples::I64(vec![epoch.elapsed().as_nanos() as i64]),
            };
            let frame = Frame::new(vec![series]).expect("one key");
            writer
                .write(frame)
                .await
                .expect("this node leases its channel");
            written += 1;
        }
        Tokio.sleep(Duration::from_micros(500)).await;
    }
    written
}

/// Reads `streamer` until `until`; returns each delivery's latency in nanoseconds and how
/// many deliveries followed a gap marker.
async fn read(mut streamer: Streamer, until: Instant, epoch: Instant) -> (Vec<u64>, u64) {
    let (mut latencies, mut gaps) = (Vec::new(), 0);
    let remaining = until.saturating_duration_since(Instant::now());
    let mut end = std::pin::pin!(Tokio.sleep(remaining));
    loop {
        let delivery = sigrelay::select! {
            () = &mut end => break,
            delivery = streamer.recv() => delivery,
        };
        let Some(delivery) = delivery else { break };
        let now = epoch.elapsed().as_nanos() as i64;
        gaps += u64::from(delivery.follows_gap());
        for series in delivery.series() {
            if let Samples::I64(stamps) = &series.samples {
                latencies.extend(stamps.iter().map(|&at| (now - at).max(0) as u64));
            }
        }
    }
    drop(streamer.close().await);
    (latencies, gaps)
}

fn percentile(sorted: &[u64], p: f64) -> Duration {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    Duration::from_nanos(sorted.get(index).copied().unwrap_or(0))
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), Box<dyn Error>> {
    let Args { rate, seconds } = args()?;
    let epoch = Instant::now();
    let relays = start().await?;
    let mut readers = Vec::new();
    for (node, relay) in (1..=NODES).zip(&relays) {
        let others: BTreeSet<ChannelKey> = (1..=NODES).filter(|&n| n != node).map(key).collect();
        let streamer = relay
            .new_streamer(others, StreamerConfig::default())
            .await?;
        let until = Instant::now() + Duration::from_secs(seconds) + Duration::from_millis(300);
        readers.push(Tokio.spawn("reader", read(streamer, until, epoch)));
    }
    let per_node = rate / u64::from(NODES);
    let writers: Vec<_> = (1..=NODES)
        .zip(&relays)
        .map(|(node, relay)| {
            Tokio.spawn(
                "writer",
                write(relay.clone(), node, per_node, seconds, epoch),
            )
        })
        .collect();
    let mut written = 0;
    for writer in writers {
        written += writer.await?;
    }
    let (mut latencies, mut gaps) = (Vec::new(), 0);
    for reader in readers {
        let (got, gapped) = reader.await?;
        latencies.extend(got);
        gaps += gapped;
    }
    let closing = Instant::now();
    for relay in &relays {
        let report = relay.close(Duration::from_secs(1)).await?;
        assert!(report.is_clean(), "every streamer was closed: {report:?}");
    }
    let closed = closing.elapsed();
    latencies.sort_unstable();
    let secs = seconds as f64;
    println!("{NODES} nodes on 127.0.0.1 over TCP, {seconds} s");
    println!(
        "written    {written:>9} frames  {:>9.0} frames/s",
        written as f64 / secs
    );
    println!(
        "delivered  {:>9} frames  {:>9.0} frames/s  ({gaps} after a gap marker)",
        latencies.len(),
        latencies.len() as f64 / secs
    );
    println!(
        "latency    p50 {:?}  p99 {:?}  p99.9 {:?}  max {:?}",
        percentile(&latencies, 0.50),
        percentile(&latencies, 0.99),
        percentile(&latencies, 0.999),
        percentile(&latencies, 1.0),
    );
    println!("closed     all relays in {closed:?}");
    Ok(())
}
