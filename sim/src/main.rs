//! `sim`: the sigrelay harness command.
//!
//! For now it runs the runtime's own smoke scenario — a bounded pipeline with a slow stage —
//! under shuttle's random and PCT schedulers and reports schedules run, virtual time and the
//! event-log hash of the last run. Usage: `cargo run --release -p sim [ITERATIONS]`.

use std::process::ExitCode;
use std::time::Duration;

use sigrelay::check::{ShuttleCheck, Strategy};
use sigrelay::rt::prelude::*;
use sigrelay::rt::Tokio;

/// Three stages joined by bounded channels; the middle one sleeps, so the others block.
async fn pipeline<R: Runtime>(rt: R) {
    let (raw_tx, mut raw_rx) = rt.channel::<u64>("raw", 2);
    let (cooked_tx, mut cooked_rx) = rt.channel::<u64>("cooked", 2);
    let source = rt.spawn("source", async move {
        for i in 0..8 {
            raw_tx.send(i).await.expect("the cook is alive");
        }
    });
    let clock = rt.clone();
    let cook = rt.spawn("cook", async move {
        while let Some(v) = raw_rx.recv().await {
            clock.sleep(Duration::from_millis(v % 3)).await;
            cooked_tx.send(v * 2).await.expect("the sink is alive");
        }
    });
    let mut total = 0;
    while let Some(v) = cooked_rx.recv().await {
        total += v;
    }
    assert_eq!(total, (0..8).map(|v| v * 2).sum::<u64>());
    source.await.expect("the source ends");
    cook.await.expect("the cook ends");
}

fn main() -> ExitCode {
    let iterations = match std::env::args().nth(1).map(|a| a.parse::<usize>()) {
        None => 1_000,
        Some(Ok(n)) => n,
        Some(Err(e)) => {
            eprintln!("sim: ITERATIONS must be a whole number: {e}");
            return ExitCode::from(2);
        }
    };
    let mut failed = false;
    println!(
        "{:<10} {:>10} {:>14} {:>12} {:>18}",
        "strategy", "schedules", "virtual time", "wall", "last log hash"
    );
    for strategy in [Strategy::Random, Strategy::Pct { depth: 3 }] {
        let start = Tokio.now();
        match ShuttleCheck::new(strategy.clone(), iterations).try_run(pipeline) {
            Ok(summary) => {
                let last = summary.last.expect("a passing check ran at least once");
                println!(
                    "{:<10} {:>10} {:>14?} {:>12.2?} {:>18x}",
                    format!("{strategy:?}").split(' ').next().unwrap_or("?"),
                    summary.iterations,
                    last.virtual_time,
                    start.elapsed(),
                    last.log.hash()
                );
            }
            Err(failure) => {
                eprintln!("{failure}");
                failed = true;
            }
        }
    }
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
