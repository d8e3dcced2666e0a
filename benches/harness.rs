//! The harness's own cost: the same small models under raw shuttle (threads and shuttle's
//! blocking primitives) and as async bodies through sigrelay's `Shuttle` backend (named
//! tasks, the event log, wait-for bookkeeping, the leak check), explored side by side in
//! one process, round by round so machine noise hits both alike. Prints schedules per
//! second of each and the ratio backend / raw (target: at least 0.5). With
//! `-- --instructions` it counts instructions per schedule of each side under callgrind
//! instead, a measure this noisy machine does not move.
//!
//! The models are the fixed forms of classic bugs, so every schedule runs to its end: two
//! tasks taking two locks in one order (the lock-order inversion, fixed), a token passed
//! around a ring of bounded channels, and four producers feeding one consumer through a
//! small buffer (the fan-in).
//!
//! Run with `cargo bench --bench harness --features rt-shuttle [-- --instructions]`.

#[path = "support/callgrind.rs"]
mod callgrind;

use std::sync::Arc;
use std::time::Instant;

use sigrelay::check::{ShuttleCheck, Strategy};
use sigrelay::rt::prelude::*;
use sigrelay::rt::Shuttle;

const SCHEDULES: usize = 3_000;
const ROUNDS: usize = 9;
/// Schedules per side under callgrind.
const COUNTED: usize = 500;
const RING: usize = 3;
const LAPS: u64 = 4;
const PRODUCERS: u64 = 4;
const VALUES: u64 = 5;

fn raw_lock_order() {
    let (a, b) = (
        Arc::new(shuttle::sync::Mutex::new(0u64)),
        Arc::new(shuttle::sync::Mutex::new(0u64)),
    );
    let workers: Vec<_> = (0..2)
        .map(|_| {
            let (a, b) = (a.clone(), b.clone());
            shuttle::thread::spawn(move || {
                let mut first = a.lock().expect("not poisoned");
                let mut second = b.lock().expect("not poisoned");
                *first += 1;
                *second += 1;
            })
        })
        .collect();
    workers.into_iter().for_each(|w| w.join().expect("ends"));
    assert_eq!(*a.lock().expect("not poisoned"), 2);
}

async fn lock_order(rt: Shuttle) {
    let (a, b) = (Arc::new(rt.mutex("a", 0u64)), Arc::new(rt.mutex("b", 0u64)));
    let mut workers = Vec::new();
    for i in 0..2 {
        let (a, b) = (a.clone(), b.clone());
        workers.push(rt.spawn(&format!("worker-{i}"), async move {
            let mut first = a.lock().await;
            let mut second = b.lock().await;
            *first += 1;
            *second += 1;
        }));
    }
    for w in workers {
        w.await.expect("ends");
    }
    assert_eq!(*a.lock().await, 2);
}

fn raw_ring() {
    let (txs, rxs): (Vec<_>, Vec<_>) = (0..RING)
        .map(|_| shuttle::sync::mpsc::sync_channel::<u64>(1))
        .unzip();
    let mut rxs: Vec<_> = rxs.into_iter().map(Some).collect();
    let stations: Vec<_> = (1..RING)
        .map(|i| {
            let (rx, tx) = (rxs[i].take().expect("once"), txs[(i + 1) % RING].clone());
            shuttle::thread::spawn(move || {
                while let Ok(token) = rx.recv() {
                    if tx.send(token + 1).is_err() {
                        return;
                    }
                }
            })
        })
        .collect();
    let (rx, tx) = (rxs[0].take().expect("once"), txs[1].clone());
    drop(txs);
    let mut token = 0;
    for _ in 0..LAPS {
        tx.send(token).expect("the ring is alive");
        token = rx.recv().expect("the token comes back");
    }
    drop(tx);
    stations.into_iter().for_each(|s| s.join().expect("ends"));
    assert_eq!(token, LAPS * RING as u64 - LAPS);
}

async fn ring(rt: Shuttle) {
    let (txs, rxs): (Vec<_>, Vec<_>) = (0..RING)
        .map(|i| rt.channel::<u64>(&format!("ring-{i}"), 1))
        .unzip();
    let mut rxs: Vec<_> = rxs.into_iter().map(Some).collect();
    let mut stations = Vec::new();
    for i in 1..RING {
        let (mut rx, tx) = (rxs[i].take().expect("once"), txs[(i + 1) % RING].clone());
        stations.push(rt.spawn(&format!("station-{i}"), async move {
            while let Some(token) = rx.recv().await {
                if tx.send(token + 1).await.is_err() {
                    return;
                }
            }
        }));
    }
    let (mut rx, tx) = (rxs[0].take().expect("once"), txs[1].clone());
    drop(txs);
    let mut token = 0;
    for _ in 0..LAPS {
        tx.send(token).await.expect("the ring is alive");
        token = rx.recv().await.expect("the token comes back");
    }
    drop(tx);
    for s in stations {
        s.await.expect("ends");
    }
    assert_eq!(token, LAPS * RING as u64 - LAPS);
}

fn raw_fan_in() {
    let (tx, rx) = shuttle::sync::mpsc::sync_channel::<u64>(2);
    for p in 0..PRODUCERS {
        let tx = tx.clone();
        shuttle::thread::spawn(move || {
            for v in 0..VALUES {
                tx.send(p * VALUES + v).expect("the consumer is alive");
            }
        });
    }
    drop(tx);
    assert_eq!(rx.iter().count() as u64, PRODUCERS * VALUES);
}

async fn fan_in(rt: Shuttle) {
    let (tx, mut rx) = rt.channel::<u64>("fan-in", 2);
    for p in 0..PRODUCERS {
        let tx = tx.clone();
        let _producer = rt.spawn(&format!("producer-{p}"), async move {
            for v in 0..VALUES {
                tx.send(p * VALUES + v)
                    .await
                    .expect("the consumer is alive");
            }
        });
    }
    drop(tx);
    let mut n = 0;
    while rx.recv().await.is_some() {
        n += 1;
    }
    assert_eq!(n, PRODUCERS * VALUES);
}

/// Schedules per second of `explore`, which runs `n` of them.
fn rate(n: usize, explore: impl FnOnce()) -> f64 {
    let start = Instant::now();
    explore();
    n as f64 / start.elapsed().as_secs_f64()
}

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    xs[xs.len() / 2]
}

struct Model {
    name: &'static str,
    raw: fn(),
    backend: fn(Shuttle) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()>>>,
}

const MODELS: [Model; 3] = [
    Model {
        name: "lock-order",
        raw: raw_lock_order,
        backend: |rt| Box::pin(lock_order(rt)),
    },
    Model {
        name: "bounded-ring",
        raw: raw_ring,
        backend: |rt| Box::pin(ring(rt)),
    },
    Model {
        name: "fan-in",
        raw: raw_fan_in,
        backend: |rt| Box::pin(fan_in(rt)),
    },
];

/// Which side of a model runs.
#[derive(Clone, Copy)]
enum Side {
    Raw,
    Backend,
}

impl Model {
    fn explore(&self, side: Side, n: usize) {
        match side {
            Side::Raw => shuttle::check_random(self.raw, n),
            Side::Backend => {
                ShuttleCheck::new(Strategy::Random, n).run(self.backend);
            }
        }
    }
}

/// Wall clock: rounds of both sides back to back, so noise hits both alike; the ratio is
/// the median of the rounds' own ratios.
fn wall_clock() {
    println!(
        "{:<14} {:>14} {:>14} {:>8}",
        "model", "raw shuttle/s", "backend/s", "ratio"
    );
    for model in &MODELS {
        let (mut raw, mut ours, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
        for _ in 0..ROUNDS {
            let r = rate(SCHEDULES, || model.explore(Side::Raw, SCHEDULES));
            let o = rate(SCHEDULES, || model.explore(Side::Backend, SCHEDULES));
            raw.push(r);
            ours.push(o);
            ratios.push(o / r);
        }
        let (raw, ours, ratio) = (median(raw), median(ours), median(ratios));
        println!("{:<14} {raw:>14.0} {ours:>14.0} {ratio:>8.2}", model.name);
    }
}

/// Instructions per schedule of each side under callgrind; the ratio is raw / backend, the
/// backend's speed as a share of raw shuttle's.
fn instruction_counts() -> Result<(), String> {
    println!(
        "{:<14} {:>16} {:>16} {:>8}",
        "model", "raw instr/sched", "backend instr/s.", "ratio"
    );
    for model in &MODELS {
        let run = |side: &'static str| {
            move |n: usize| {
                ["--one", model.name, side, &n.to_string()]
                    .map(String::from)
                    .to_vec()
            }
        };
        let raw = callgrind::per_repetition(run("raw"), COUNTED)?;
        let ours = callgrind::per_repetition(run("backend"), COUNTED)?;
        println!(
            "{:<14} {raw:>16.0} {ours:>16.0} {:>8.2}",
            model.name,
            raw / ours
        );
    }
    Ok(())
}

/// `--one MODEL raw|backend N`: explores N schedules of one side, for callgrind.
fn one(args: &[String]) -> Result<(), String> {
    let [name, side, n] = args else {
        return Err(format!("--one takes MODEL raw|backend N, not {args:?}"));
    };
    let model = MODELS
        .iter()
        .find(|m| m.name == name)
        .ok_or_else(|| format!("no model {name:?}"))?;
    let side = match side.as_str() {
        "raw" => Side::Raw,
        "backend" => Side::Backend,
        other => return Err(format!("side {other:?} is neither raw nor backend")),
    };
    let n = n.parse().map_err(|e| format!("schedules {n:?}: {e}"))?;
    model.explore(side, n);
    Ok(())
}

fn main() {
    callgrind::main("harness", wall_clock, instruction_counts, one);
}
