//! Relay fan-out against tokio's broadcast channel, side by side in one run: one writer, 100
//! channels, frames of 100 f64 samples per channel, and 1, 16 or 256 streamers wanting 10
//! keys each (and 16 wanting every key). The relay path is the real one — writer, storage,
//! gateway tap, delta, streamer outlets — with lossless streamers; the broadcast receivers
//! filter the same frames by the same keys, through a channel as large as the run, so it
//! never lags. Prints delivered frames/s, the ratio relay / broadcast (target at 16
//! streamers: at least 0.8) and heap allocations per delivered frame, counted by a global
//! allocator (target when a streamer wants every key: 0).
//!
//! Run with `cargo bench --bench relay_fanout`.

use std::alloc::{GlobalAlloc, Layout, System};
use std::collections::BTreeSet;
use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use sigrelay::relay::{
    ChannelKey, Frame, NodeId, Relay, RelayConfig, Samples, Series, Streamer, StreamerConfig,
};
use sigrelay::rt::Tokio;
use tokio::sync::broadcast;

struct Counting;

static ALLOCATIONS: AtomicU64 = AtomicU64::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

const CHANNELS: u16 = 100;
const SAMPLES: usize = 100;
const NODE: NodeId = NodeId(1);
const ROUNDS: usize = 5;

fn key(n: u16) -> ChannelKey {
    ChannelKey::leased(NODE, n % CHANNELS + 1)
}

/// Distinct frames to write, built before timing starts (a written frame is one allocation
/// made by its writer, not by the relay).
fn frames(n: usize) -> Vec<Frame> {
    let series = |ch: u16, i: usize| Series {
        key: key(ch),
        timestamps: (0..SAMPLES as i64).map(|t| t + i as i64).collect(),
        samples: Samples::F64(vec![i as f64; SAMPLES]),
    };
    let frame = |i| Frame::new((0..CHANNELS).map(|ch| series(ch, i)).collect());
    (0..n).map(|i| frame(i).expect("distinct keys")).collect()
}

/// Streamer `i`'s keys: ten consecutive channels, or every channel.
fn wanted(i: usize, all: bool) -> BTreeSet<ChannelKey> {
    match all {
        true => (0..CHANNELS).map(key).collect(),
        false => (0..10).map(|k| key(i as u16 * 10 + k)).collect(),
    }
}

/// What a consumer does with a frame: reads every sample of its keys.
fn consume<'a>(series: impl Iterator<Item = &'a Series>) -> usize {
    let samples = series.map(|s| match &s.samples {
        Samples::F64(v) => v.len(),
        Samples::I64(v) => v.len(),
    });
    black_box(samples.sum())
}

struct Measured {
    delivered: u64,
    seconds: f64,
    allocations: u64,
}

impl Measured {
    fn per_second(&self) -> f64 {
        self.delivered as f64 / self.seconds
    }

    fn allocations_per_frame(&self) -> f64 {
        self.allocations as f64 / self.delivered as f64
    }
}

async fn relay(streamers: usize, all: bool, frames: &[Frame]) -> Measured {
    let channels = (0..CHANNELS).map(key);
    let relay = Relay::open(Tokio, RelayConfig::new(NODE, channels))
        .await
        .expect("a valid configuration");
    let config = StreamerConfig {
        capacity: 64,
        ..StreamerConfig::default()
    };
    let mut opened: Vec<Streamer<Tokio>> = Vec::new();
    for i in 0..streamers {
        let streamer = relay.new_streamer(wanted(i, all), config.clone()).await;
        opened.push(streamer.expect("known keys"));
    }
    let expected = frames.len() as u64;
    let readers: Vec<_> = opened
        .into_iter()
        .map(|mut streamer| {
            tokio::spawn(async move {
                let mut n = 0;
                while n < expected {
                    let delivery = streamer.recv().await.expect("open");
                    consume(delivery.series());
                    n += 1;
                }
                streamer
            })
        })
        .collect();
    let writer = relay.writer();
    tokio::task::yield_now().await;
    let before = ALLOCATIONS.load(Ordering::Relaxed);
    let start = Instant::now();
    for frame in frames {
        writer.write(frame.clone()).await.expect("known keys");
    }
    let mut streamers = Vec::new();
    for reader in readers {
        streamers.push(reader.await.expect("the reader ends"));
    }
    let measured = Measured {
        delivered: expected * streamers.len() as u64,
        seconds: start.elapsed().as_secs_f64(),
        allocations: ALLOCATIONS.load(Ordering::Relaxed) - before,
    };
    for streamer in streamers {
        drop(streamer.close().await);
    }
    let report = relay.close(std::time::Duration::from_secs(1)).await;
    assert!(report.expect("clean close").is_clean());
    measured
}

async fn broadcast(receivers: usize, all: bool, frames: &[Frame]) -> Measured {
    let (tx, _) = broadcast::channel::<Frame>(frames.len());
    let expected = frames.len() as u64;
    let subscribed: Vec<_> = (0..receivers)
        .map(|i| (tx.subscribe(), wanted(i, all)))
        .collect();
    let readers: Vec<_> = subscribed
        .into_iter()
        .map(|(mut rx, keys)| {
            tokio::spawn(async move {
                let mut n = 0;
                while n < expected {
                    let frame = rx.recv().await.expect("never lags: capacity is the run");
                    consume(frame.wanted(&keys));
                    n += 1;
                }
            })
        })
        .collect();
    tokio::task::yield_now().await;
    let before = ALLOCATIONS.load(Ordering::Relaxed);
    let start = Instant::now();
    for frame in frames {
        tx.send(frame.clone()).expect("receivers are alive");
    }
    for reader in readers {
        reader.await.expect("the reader ends");
    }
    Measured {
        delivered: expected * receivers as u64,
        seconds: start.elapsed().as_secs_f64(),
        allocations: ALLOCATIONS.load(Ordering::Relaxed) - before,
    }
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime builds");
    let cases = [
        (1, false, 10_000),
        (16, false, 5_000),
        (256, false, 500),
        (16, true, 5_000),
    ];
    println!(
        "{:<22} {:>14} {:>14} {:>7} {:>13} {:>13}",
        "streamers x keys",
        "relay frames/s",
        "bcast frames/s",
        "ratio",
        "relay alloc/f",
        "bcast alloc/f"
    );
    for (streamers, all, n) in cases {
        let frames = frames(n);
        let mut rounds: Vec<(Measured, Measured)> = (0..ROUNDS)
            .map(|_| {
                runtime.block_on(async {
                    let relay = relay(streamers, all, &frames).await;
                    let bcast = broadcast(streamers, all, &frames).await;
                    (relay, bcast)
                })
            })
            .collect();
        rounds.sort_by(|a, b| ratio(a).total_cmp(&ratio(b)));
        let (relay, bcast) = &rounds[ROUNDS / 2];
        let label = format!("{streamers} x {}", if all { "all 100" } else { "10" });
        println!(
            "{label:<22} {:>14.0} {:>14.0} {:>7.2} {:>13.4} {:>13.4}",
            relay.per_second(),
            bcast.per_second(),
            ratio(&rounds[ROUNDS / 2]),
            relay.allocations_per_frame(),
            bcast.allocations_per_frame(),
        );
    }
}

/// Relay throughput over broadcast throughput in one round.
fn ratio((relay, bcast): &(Measured, Measured)) -> f64 {
    relay.per_second() / bcast.per_second()
}
