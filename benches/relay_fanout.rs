//! Relay fan-out against tokio's broadcast channel, side by side in one run: one writer task, 100
//! channels, frames of 100 f64 samples per channel, and 1, 16 or 256 streamers wanting 10
//! keys each (and 16 wanting every key); in the sparse case each frame carries 10 of the 100
//! channels and 10 streamers want disjoint tens, so each frame is for one of them; in the
//! strided case 16 streamers want every tenth channel, keys no run joins. The relay
//! path is the real one — writer, storage, gateway tap, delta, streamer outlets — with
//! lossless streamers; the broadcast receivers filter the same frames by the same keys,
//! through a channel as large as the run, so it never lags. On both sides the writer is a
//! task on the two-worker runtime, as in an application, not the thread blocked on the
//! runtime: three threads on two cores would trade the core on every full outlet and
//! measure the futex, not the fan-out. Prints frames delivered to a
//! consumer that wants them per second, the ratio relay / broadcast and heap allocations
//! per delivered frame, counted by a global allocator.
//!
//! With `-- --instructions` it counts instructions per delivered frame of each side under
//! callgrind instead (a run less a run that writes no frame), and their ratio broadcast /
//! relay: the relay's speed as a share of broadcast's, a measure this noisy machine does
//! not move.
//!
//! Run with `cargo bench --bench relay_fanout [-- --instructions]`.

#[path = "support/callgrind.rs"]
mod callgrind;

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

/// What each consumer wants, and what each frame carries.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Shape {
    /// Every frame carries every channel; consumer `i` wants ten consecutive ones.
    Ten,
    /// Every frame carries every channel; every consumer wants them all.
    All,
    /// Frame `i` carries the `i % 10`th ten channels; consumer `i` wants the `i`th ten.
    Sparse,
    /// Every frame carries every channel; consumer `i` wants every tenth one from `i`: no
    /// two of its keys are consecutive, so no delivery holds its series as one run.
    Strided,
}

/// One case of the bench.
struct Case {
    name: &'static str,
    consumers: usize,
    shape: Shape,
    frames: usize,
}

const CASES: [Case; 6] = [
    Case {
        name: "1 x 10",
        consumers: 1,
        shape: Shape::Ten,
        frames: 10_000,
    },
    Case {
        name: "16 x 10",
        consumers: 16,
        shape: Shape::Ten,
        frames: 5_000,
    },
    Case {
        name: "256 x 10",
        consumers: 256,
        shape: Shape::Ten,
        frames: 500,
    },
    Case {
        name: "16 x all 100",
        consumers: 16,
        shape: Shape::All,
        frames: 5_000,
    },
    Case {
        name: "10 x 10 sparse",
        consumers: 10,
        shape: Shape::Sparse,
        frames: 20_000,
    },
    Case {
        name: "16 x 10 strided",
        consumers: 16,
        shape: Shape::Strided,
        frames: 5_000,
    },
];

/// Distinct frames to write, built before timing starts (a written frame is one allocation
/// made by its writer, not by the relay).
fn frames(n: usize, shape: Shape) -> Vec<Frame> {
    let series = |ch: u16, i: usize| Series {
        key: key(ch),
        timestamps: (0..SAMPLES as i64).map(|t| t + i as i64).collect(),
        samples: Samples::F64(vec![i as f64; SAMPLES]),
    };
    let channels = |i: usize| match shape {
        Shape::Sparse => (i % 10) as u16 * 10..(i % 10) as u16 * 10 + 10,
        Shape::Ten | Shape::All | Shape::Strided => 0..CHANNELS,
    };
    let frame = |i| Frame::new(channels(i).map(|ch| series(ch, i)).collect());
    (0..n).map(|i| frame(i).expect("distinct keys")).collect()
}

/// `n` frames cycling through ten distinct ones (a clone is a reference count): under
/// callgrind, building `n` distinct frames would cost more than the relay does. The ten are
/// built whatever `n`, so that a run of no frame has built them too and the difference of
/// two runs holds only the writes.
fn cycled(n: usize, shape: Shape) -> Vec<Frame> {
    let pool = frames(10, shape);
    (0..n).map(|i| pool[i % pool.len()].clone()).collect()
}

/// Consumer `i`'s keys.
fn wanted(i: usize, shape: Shape) -> BTreeSet<ChannelKey> {
    match shape {
        Shape::All => (0..CHANNELS).map(key).collect(),
        Shape::Ten | Shape::Sparse => (0..10).map(|k| key(i as u16 * 10 + k)).collect(),
        Shape::Strided => (0..10).map(|k| key(i as u16 + k * 10)).collect(),
    }
}

/// How many of `n` frames touch consumer `i`'s keys: what it must get. Counted, not looked
/// up, so that the instruction counts hold only the two sides' work.
fn touching(n: usize, shape: Shape, i: usize) -> u64 {
    let n = n as u64;
    match shape {
        Shape::Ten | Shape::All | Shape::Strided => n,
        Shape::Sparse => n / 10 + u64::from((i as u64 % 10) < n % 10),
    }
}

/// What a consumer does with a frame: reads each series of its keys (its sample count).
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

async fn relay(streamers: usize, shape: Shape, frames: &[Frame]) -> Measured {
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
        let streamer = relay.new_streamer(wanted(i, shape), config.clone()).await;
        opened.push(streamer.expect("known keys"));
    }
    let mut delivered = 0;
    let readers: Vec<_> = opened
        .into_iter()
        .enumerate()
        .map(|(i, mut streamer)| {
            let expected = touching(frames.len(), shape, i);
            delivered += expected;
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
    let frames = frames.to_vec();
    let before = ALLOCATIONS.load(Ordering::Relaxed);
    let start = Instant::now();
    tokio::spawn(async move {
        for frame in frames {
            writer.write(frame).await.expect("known keys");
        }
    })
    .await
    .expect("the writer ends");
    let mut streamers = Vec::new();
    for reader in readers {
        streamers.push(reader.await.expect("the reader ends"));
    }
    let measured = Measured {
        delivered,
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

async fn broadcast(receivers: usize, shape: Shape, frames: &[Frame]) -> Measured {
    let (tx, _) = broadcast::channel::<Frame>(frames.len().max(1));
    let expected = frames.len() as u64;
    let subscribed: Vec<_> = (0..receivers)
        .map(|i| (tx.subscribe(), wanted(i, shape)))
        .collect();
    let delivered = (0..receivers)
        .map(|i| touching(frames.len(), shape, i))
        .sum();
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
    let frames = frames.to_vec();
    let before = ALLOCATIONS.load(Ordering::Relaxed);
    let start = Instant::now();
    tokio::spawn(async move {
        for frame in frames {
            tx.send(frame).expect("receivers are alive");
        }
    })
    .await
    .expect("the writer ends");
    for reader in readers {
        reader.await.expect("the reader ends");
    }
    Measured {
        delivered,
        seconds: start.elapsed().as_secs_f64(),
        allocations: ALLOCATIONS.load(Ordering::Relaxed) - before,
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime builds")
}

/// Wall clock: both sides of each case back to back, five rounds, the median round by ratio.
fn wall_clock() {
    let runtime = runtime();
    println!(
        "{:<22} {:>14} {:>14} {:>7} {:>13} {:>13}",
        "streamers x keys",
        "relay frames/s",
        "bcast frames/s",
        "ratio",
        "relay alloc/f",
        "bcast alloc/f"
    );
    for case in &CASES {
        let frames = frames(case.frames, case.shape);
        let mut rounds: Vec<(Measured, Measured)> = (0..ROUNDS)
            .map(|_| {
                runtime.block_on(async {
                    let relay = relay(case.consumers, case.shape, &frames).await;
                    let bcast = broadcast(case.consumers, case.shape, &frames).await;
                    (relay, bcast)
                })
            })
            .collect();
        rounds.sort_by(|a, b| ratio(a).total_cmp(&ratio(b)));
        let (relay, bcast) = &rounds[ROUNDS / 2];
        println!(
            "{:<22} {:>14.0} {:>14.0} {:>7.2} {:>13.4} {:>13.4}",
            case.name,
            relay.per_second(),
            bcast.per_second(),
            ratio(&rounds[ROUNDS / 2]),
            relay.allocations_per_frame(),
            bcast.allocations_per_frame(),
        );
    }
}

/// Instructions per delivered frame of each side of each case under callgrind, and the
/// ratio broadcast / relay.
fn instruction_counts() -> Result<(), String> {
    println!(
        "{:<22} {:>16} {:>16} {:>7}",
        "streamers x keys", "relay instr/f", "bcast instr/f", "ratio"
    );
    for (at, case) in CASES.iter().enumerate() {
        let n = case.frames / 5;
        let delivered: u64 = (0..case.consumers)
            .map(|i| touching(n, case.shape, i))
            .sum();
        let per_frame = |side: &'static str| {
            let run = |n: usize| {
                ["--one", &at.to_string(), side, &n.to_string()]
                    .map(String::from)
                    .to_vec()
            };
            let extra = callgrind::per_repetition(run, n)? * n as f64;
            Ok::<f64, String>(extra / delivered as f64)
        };
        let (relay, bcast) = (per_frame("relay")?, per_frame("broadcast")?);
        println!(
            "{:<22} {relay:>16.0} {bcast:>16.0} {:>7.2}",
            case.name,
            bcast / relay
        );
    }
    Ok(())
}

/// `--one CASE relay|broadcast N`: one side of case number CASE over N frames.
fn one(args: &[String]) -> Result<(), String> {
    let [at, side, n] = args else {
        return Err(format!("--one takes CASE relay|broadcast N, not {args:?}"));
    };
    let case = at
        .parse::<usize>()
        .ok()
        .and_then(|at| CASES.get(at))
        .ok_or_else(|| format!("no case {at:?}: there are {}", CASES.len()))?;
    let n = n.parse().map_err(|e| format!("frames {n:?}: {e}"))?;
    let frames = cycled(n, case.shape);
    let runtime = runtime();
    match side.as_str() {
        "relay" => drop(runtime.block_on(relay(case.consumers, case.shape, &frames))),
        "broadcast" => drop(runtime.block_on(broadcast(case.consumers, case.shape, &frames))),
        other => return Err(format!("side {other:?} is neither relay nor broadcast")),
    }
    Ok(())
}

fn main() {
    callgrind::main("relay_fanout", wall_clock, instruction_counts, one);
}

/// Relay throughput over broadcast throughput in one round.
fn ratio((relay, bcast): &(Measured, Measured)) -> f64 {
    relay.per_second() / bcast.per_second()
}
