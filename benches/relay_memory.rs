//! The relay's memory under a streamer that never reads: 10 million frames written through
//! a relay whose one streamer is lossy and never reads its outlet. The delta offers each
//! frame, finds the outlet full and counts it missed, so nothing may pile up anywhere: the
//! resident set after the last frame must be what it was after the first million. Prints
//! the resident set (`VmRSS`) at every million frames, the peak (`VmHWM`), and the verdict;
//! exits with a failure if the resident set grew by more than [`FLAT`] from the first
//! million to the last (Linux: read from `/proc/self/status`).
//!
//! Run with `cargo bench --bench relay_memory [-- FRAMES]`.

use std::collections::BTreeSet;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use sigrelay::relay::{
    ChannelKey, Frame, NodeId, Policy, Relay, RelayConfig, Samples, Series, StreamerConfig,
};
use sigrelay::rt::Tokio;

const NODE: NodeId = NodeId(1);
const FRAMES: u64 = 10_000_000;
const REPORT_EVERY: u64 = 1_000_000;
/// Growth of the resident set from the first report to the last that still counts as flat.
const FLAT: u64 = 1 << 20;

/// A field of `/proc/self/status` in bytes (the kernel writes kB).
fn status(field: &str) -> Result<u64, String> {
    let status = std::fs::read_to_string("/proc/self/status").map_err(|e| e.to_string())?;
    let line = status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .ok_or(format!("no {field} in /proc/self/status"))?;
    let kb = line.trim().trim_end_matches("kB").trim();
    kb.parse::<u64>()
        .map(|kb| kb * 1024)
        .map_err(|e| format!("{field} {kb:?}: {e}"))
}

fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / f64::from(1 << 20))
}

/// Writes `frames` frames (ten distinct ones in turn) through a relay with one lossy
/// streamer that never reads; returns the resident set at every report.
async fn run(frames: u64) -> Result<Vec<u64>, String> {
    let key = ChannelKey::leased(NODE, 1);
    let relay = Relay::open(Tokio, RelayConfig::new(NODE, [key]))
        .await
        .map_err(|e| e.to_string())?;
    let config = StreamerConfig {
        policy: Policy::Lossy {
            patience: Duration::ZERO,
        },
        capacity: 64,
        ..StreamerConfig::default()
    };
    let streamer = relay
        .new_streamer(BTreeSet::from([key]), config)
        .await
        .map_err(|e| e.to_string())?;
    let pool: Vec<Frame> = (0..10)
        .map(|i| {
            let series = Series {
                key,
                timestamps: vec![i; 16],
                samples: Samples::F64(vec![0.5; 16]),
            };
            Frame::new(vec![series]).expect("one key")
        })
        .collect();
    let writer = relay.writer();
    let mut resident = Vec::new();
    for n in 1..=frames {
        let frame = pool[(n % 10) as usize].clone();
        writer.write(frame).await.map_err(|e| e.to_string())?;
        if n % REPORT_EVERY == 0 {
            resident.push(status("VmRSS")?);
        }
    }
    drop(streamer);
    let report = relay.close(Duration::from_secs(1)).await;
    let report = report.map_err(|e| e.to_string())?;
    match report.is_clean() {
        true => Ok(resident),
        false => Err(format!("the relay did not close cleanly: {report:?}")),
    }
}

fn main() -> ExitCode {
    let frames = match std::env::args().skip(1).find(|a| a != "--bench") {
        None => FRAMES,
        Some(n) => {
            match n.parse::<u64>() {
                Ok(n) if n >= REPORT_EVERY => n,
                _ => {
                    eprintln!("relay_memory: FRAMES must be a number of at least {REPORT_EVERY}, not {n:?}");
                    return ExitCode::FAILURE;
                }
            }
        }
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime builds");
    let start = Instant::now();
    let resident = match runtime.block_on(run(frames)) {
        Ok(resident) => resident,
        Err(why) => {
            eprintln!("relay_memory: {why}");
            return ExitCode::FAILURE;
        }
    };
    for (i, bytes) in resident.iter().enumerate() {
        println!("after {:>3}M frames   VmRSS {}", i + 1, mib(*bytes));
    }
    let peak = status("VmHWM").unwrap_or(0);
    let (first, last) = (resident[0], resident[resident.len() - 1]);
    let grew = last.saturating_sub(first);
    println!(
        "{frames} frames in {:.1?}, one lossy streamer never reading: peak VmHWM {}, grew {} from the first million to the last",
        start.elapsed(),
        mib(peak),
        mib(grew),
    );
    if grew > FLAT {
        println!("NOT FLAT: more than {} of growth", mib(FLAT));
        return ExitCode::FAILURE;
    }
    println!("flat");
    ExitCode::SUCCESS
}
