//! The cost of the `Runtime` trait on tokio: the same workloads written against raw tokio and
//! against `R: Runtime` with `R = Tokio`, run side by side in one process, interleaved round
//! by round so machine noise hits both alike. Prints the median time per message and the
//! ratio trait / raw (target: at most 1.05).
//!
//! Run with `cargo bench --bench rt_overhead`.

use std::hint::black_box;
use std::time::{Duration, Instant};

use sigrelay::rt::{Receiver, Runtime, Sender, Tokio};
use tokio::sync::mpsc;

const ROUND_TRIPS: u64 = 100_000;
const FAN_IN_MESSAGES: u64 = 400_000;
const PRODUCERS: u64 = 4;
const ROUNDS: usize = 15;

async fn raw_ping_pong(n: u64) {
    let (ping_tx, mut ping_rx) = mpsc::channel::<u64>(1);
    let (pong_tx, mut pong_rx) = mpsc::channel::<u64>(1);
    let echo = tokio::spawn(async move {
        while let Some(v) = ping_rx.recv().await {
            pong_tx.send(v).await.expect("the pinger is alive");
        }
    });
    for i in 0..n {
        ping_tx.send(i).await.expect("the echo is alive");
        black_box(pong_rx.recv().await);
    }
    drop(ping_tx);
    echo.await.expect("the echo ends");
}

async fn trait_ping_pong<R: Runtime>(rt: R, n: u64) {
    let (ping_tx, mut ping_rx) = rt.channel::<u64>("ping", 1);
    let (pong_tx, mut pong_rx) = rt.channel::<u64>("pong", 1);
    let echo = rt.spawn("echo", async move {
        while let Some(v) = ping_rx.recv().await {
            pong_tx.send(v).await.expect("the pinger is alive");
        }
    });
    for i in 0..n {
        ping_tx.send(i).await.expect("the echo is alive");
        black_box(pong_rx.recv().await);
    }
    drop(ping_tx);
    echo.await.expect("the echo ends");
}

async fn raw_fan_in(n: u64) {
    let (tx, mut rx) = mpsc::channel::<u64>(64);
    for p in 0..PRODUCERS {
        let tx = tx.clone();
        tokio::spawn(async move {
            for i in 0..n / PRODUCERS {
                tx.send(p * n + i).await.expect("the consumer is alive");
            }
        });
    }
    drop(tx);
    while let Some(v) = rx.recv().await {
        black_box(v);
    }
}

async fn trait_fan_in<R: Runtime>(rt: R, n: u64) {
    let (tx, mut rx) = rt.channel::<u64>("fan-in", 64);
    for p in 0..PRODUCERS {
        let tx = tx.clone();
        let _producer = rt.spawn("producer", async move {
            for i in 0..n / PRODUCERS {
                tx.send(p * n + i).await.expect("the consumer is alive");
            }
        });
    }
    drop(tx);
    while let Some(v) = rx.recv().await {
        black_box(v);
    }
}

fn time<F: std::future::Future>(rt: &tokio::runtime::Runtime, work: F) -> Duration {
    let start = Instant::now();
    rt.block_on(work);
    start.elapsed()
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn compare(
    label: &str,
    messages: u64,
    raw: impl Fn() -> Duration,
    via_trait: impl Fn() -> Duration,
) {
    let (_, _) = (raw(), via_trait());
    let mut raw_samples = Vec::new();
    let mut trait_samples = Vec::new();
    for round in 0..ROUNDS {
        if round % 2 == 0 {
            raw_samples.push(raw());
            trait_samples.push(via_trait());
        } else {
            trait_samples.push(via_trait());
            raw_samples.push(raw());
        }
    }
    let (raw, via) = (median(raw_samples), median(trait_samples));
    let per = |d: Duration| d.as_nanos() as f64 / messages as f64;
    println!(
        "{label:<28} raw {:>8.1} ns/msg   trait {:>8.1} ns/msg   ratio {:.3}",
        per(raw),
        per(via),
        via.as_secs_f64() / raw.as_secs_f64()
    );
}

fn main() {
    let flavours = [
        (
            "current-thread",
            tokio::runtime::Builder::new_current_thread().build(),
        ),
        (
            "multi-thread(2)",
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .build(),
        ),
    ];
    println!(
        "rt_overhead: median of {ROUNDS} interleaved rounds; ratio = trait / raw (target <= 1.05)"
    );
    for (flavour, rt) in flavours {
        let rt = rt.expect("a tokio runtime builds");
        compare(
            &format!("ping-pong, {flavour}"),
            ROUND_TRIPS * 2,
            || time(&rt, raw_ping_pong(ROUND_TRIPS)),
            || time(&rt, trait_ping_pong(Tokio, ROUND_TRIPS)),
        );
        compare(
            &format!("4-to-1 fan-in, {flavour}"),
            FAN_IN_MESSAGES,
            || time(&rt, raw_fan_in(FAN_IN_MESSAGES)),
            || time(&rt, trait_fan_in(Tokio, FAN_IN_MESSAGES)),
        );
    }
}
