//! The pipeline against a sequential loop and `futures::StreamExt::buffer_unordered(N)`, side
//! by side in one run, on one CPU-light, latency-bound workload: each item takes three
//! dependent round trips of one timer tick, and the consumer spends about 100 µs of CPU on
//! each result. `buffer_unordered` only advances its futures while the consumer polls it, so
//! an item's next round trip waits for the consumer; the pipeline's workers are tasks that
//! keep going. Prints the median of three runs per width and the ratios buffer_unordered /
//! pipeline and sequential / pipeline (above 1: the pipeline is faster; target at N = 8 and
//! 64: at least 1).
//!
//! Run with `cargo bench --bench pipeline`.

use std::hint::black_box;
use std::num::NonZeroUsize;
use std::time::{Duration, Instant};

use futures::stream::{self, StreamExt};
use sigrelay::patterns::pipeline::{Pipeline, PipelineConfig};
use sigrelay::rt::Tokio;

const ITEMS: u64 = 400;
const RUNS: usize = 3;

async fn round_trips(item: u64) -> u64 {
    for _ in 0..3 {
        tokio::time::sleep(Duration::from_micros(200)).await;
    }
    item
}

fn consume(item: u64) -> u64 {
    let spin = Instant::now();
    let mut acc = item;
    while spin.elapsed() < Duration::from_micros(100) {
        acc = black_box(acc.wrapping_mul(6364136223846793005).wrapping_add(1));
    }
    acc
}

async fn sequential() -> u64 {
    let mut total = 0;
    for i in 0..ITEMS {
        total ^= consume(round_trips(i).await);
    }
    total
}

async fn unordered(width: usize) -> u64 {
    let mut results = stream::iter(0..ITEMS)
        .map(round_trips)
        .buffer_unordered(width);
    let mut total = 0;
    while let Some(v) = results.next().await {
        total ^= consume(v);
    }
    total
}

async fn pipeline(width: usize) -> u64 {
    let config = PipelineConfig {
        buffer: NonZeroUsize::new(width).expect("positive"),
        ..PipelineConfig::default()
    };
    let width = NonZeroUsize::new(width).expect("positive");
    let running = Pipeline::<Tokio, u64, ()>::new(&Tokio, "bench", config, stream::iter(0..ITEMS))
        .stage(
            "round-trips",
            width,
            |i| async move { Ok(round_trips(i).await) },
        )
        .finish();
    let mut output = running.output;
    let mut total = 0;
    while let Some(v) = output.next().await {
        total ^= consume(v);
    }
    running.report.await.expect("the pipeline ends");
    total
}

fn median<F: std::future::Future<Output = u64>>(
    rt: &tokio::runtime::Runtime,
    run: impl Fn() -> F,
) -> Duration {
    let mut times: Vec<Duration> = (0..RUNS)
        .map(|_| {
            let start = Instant::now();
            black_box(rt.block_on(run()));
            start.elapsed()
        })
        .collect();
    times.sort();
    times[RUNS / 2]
}

fn main() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let seq = median(&rt, sequential);
    println!("{ITEMS} items, 3 round trips each, 100 µs of consumer CPU per item");
    println!("sequential          {:>9.1} ms", seq.as_secs_f64() * 1e3);
    for width in [8, 64] {
        let unordered_time = median(&rt, || unordered(width));
        let pipeline_time = median(&rt, || pipeline(width));
        let ms = |d: Duration| d.as_secs_f64() * 1e3;
        println!(
            "N = {width:>3}  pipeline {:>9.1} ms  buffer_unordered {:>9.1} ms  \
             buffer_unordered/pipeline {:.2}  sequential/pipeline {:.1}",
            ms(pipeline_time),
            ms(unordered_time),
            unordered_time.as_secs_f64() / pipeline_time.as_secs_f64(),
            seq.as_secs_f64() / pipeline_time.as_secs_f64(),
        );
    }
}
