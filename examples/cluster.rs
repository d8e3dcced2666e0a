//! Relay nodes in one process (three by default), talking over real TCP on 127.0.0.1. Each
//! node leases one channel and writes to it; each node streams every other node's channel
//! through its peer taps. Every sample carries the time it was written, so each delivery measures end-to-end
//! latency: writer → storage → gateway tap → delta → peer server → TCP → peer tap → delta →
//! streamer.
//!
//! ```text
//! cargo run --release --example cluster -- [--rate FRAMES_PER_S] [--seconds S] [--nodes N]
//! ```
//!
//! `--rate` is the number of frames written per second across the cluster (default 10,000);
//! every frame reaches the streamers of the other `N - 1` nodes (`--nodes`, 2 to 16), so
//! `N - 1` times as many are delivered. Besides the latency percentiles it prints the
//! process's CPU time (user and system, all threads, read from `/proc/self/stat`, so Linux
//! only) per delivered frame.

use std::collections::BTreeSet;
use std::error::Error;
use std::time::{Duration, Instant};

use sigrelay::net::{ClusterMap, Credentials, Listener, Peers, Tcp, Transport};
use sigrelay::relay::{
    ChannelKey, Frame, NodeId, Relay, RelayConfig, Samples, Series, Streamer, StreamerConfig,
};
use sigrelay::rt::prelude::*;
use sigrelay::rt::Tokio;

/// How many nodes `--nodes` may ask for.
const MOST_NODES: u16 = 16;
const CREDENTIALS: Credentials = Credentials {
    cluster: 0x5167,
    token: [0x5a; 32],
};

struct Args {
    rate: u64,
    seconds: u64,
    nodes: u16,
}

fn args() -> Result<Args, String> {
    let mut parsed = Args {
        rate: 10_000,
        seconds: 5,
        nodes: 3,
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
            "--nodes" if (2..=u64::from(MOST_NODES)).contains(&number) => {
                parsed.nodes = number as u16;
            }
            "--nodes" => return Err(format!("--nodes {value}: from 2 to {MOST_NODES}")),
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
async fn start(nodes: u16) -> Result<Vec<Relay>, Box<dyn Error>> {
    let mut listeners = Vec::new();
    let mut map = ClusterMap::new();
    for node in 1..=nodes {
        let listener = Tcp.bind("127.0.0.1:0").await?;
        map = map.with(NodeId(node), listener.local_address()?);
        listeners.push((node, listener));
    }
    let mut relays = Vec::new();
    for (node, listener) in listeners {
        let config = RelayConfig::new(NodeId(node), (1..=nodes).map(key));
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
/// many deliveries followed a gap marker. Room for `expected` latencies is made first, so
/// that growing the vector does not stall the reader.
async fn read(
    mut streamer: Streamer,
    until: Instant,
    epoch: Instant,
    expected: usize,
) -> (Vec<u64>, u64) {
    let (mut latencies, mut gaps) = (Vec::with_capacity(expected), 0);
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

/// The CPU time this process has used so far, user and system, every thread.
fn cpu_time() -> Result<Duration, Box<dyn Error>> {
    let stat = std::fs::read_to_string("/proc/self/stat")?;
    let after_name = stat
        .rsplit_once(')')
        .ok_or("no command name in /proc/self/stat")?
        .1;
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    let ticks = |at: usize| -> Result<u64, Box<dyn Error>> {
        let field = fields.get(at).ok_or("a short /proc/self/stat")?;
        Ok(field.parse::<u64>()?)
    };
    // utime and stime, fields 14 and 15, in the kernel's fixed 100 ticks per second.
    let (user, system) = (ticks(11)?, ticks(12)?);
    Ok(Duration::from_millis((user + system) * 10))
}

fn percentile(sorted: &[u64], p: f64) -> Duration {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    Duration::from_nanos(sorted.get(index).copied().unwrap_or(0))
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), Box<dyn Error>> {
    let Args {
        rate,
        seconds,
        nodes,
    } = args()?;
    let epoch = Instant::now();
    let relays = start(nodes).await?;
    let mut readers = Vec::new();
    for (node, relay) in (1..=nodes).zip(&relays) {
        let others: BTreeSet<ChannelKey> = (1..=nodes).filter(|&n| n != node).map(key).collect();
        let streamer = relay
            .new_streamer(others, StreamerConfig::default())
            .await?;
        let until = Instant::now() + Duration::from_secs(seconds) + Duration::from_millis(300);
        let expected = rate * (seconds + 1) * u64::from(nodes - 1) / u64::from(nodes);
        let expected = usize::try_from(expected)?;
        readers.push(Tokio.spawn("reader", read(streamer, until, epoch, expected)));
    }
    let cpu_at_start = cpu_time()?;
    let per_node = rate / u64::from(nodes);
    let writers: Vec<_> = (1..=nodes)
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
    let cpu = cpu_time()? - cpu_at_start;
    let closing = Instant::now();
    for relay in &relays {
        let report = relay.close(Duration::from_secs(1)).await?;
        assert!(report.is_clean(), "every streamer was closed: {report:?}");
    }
    let closed = closing.elapsed();
    latencies.sort_unstable();
    let secs = seconds as f64;
    println!("{nodes} nodes on 127.0.0.1 over TCP, {seconds} s");
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
    println!(
        "cpu        {:?} per delivered frame  ({cpu:?} in all)",
        cpu.checked_div(latencies.len().max(1) as u32)
            .unwrap_or_default(),
    );
    println!("closed     all relays in {closed:?}");
    Ok(())
}
