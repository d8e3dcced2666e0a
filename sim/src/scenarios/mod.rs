//! The scenarios the harness sweeps: async bodies written against `R: Runtime`.

mod relay;
mod signal;

use std::time::Duration;

use sigrelay::bugs::Bugs;
use sigrelay::rt::prelude::*;

/// The future of one scenario run, boxed so that scenarios fit in one table.
pub type BoxedBody = std::pin::Pin<Box<dyn std::future::Future<Output = ()>>>;

/// A named scenario and the body it runs.
#[derive(Debug, Clone, Copy)]
pub struct Scenario {
    /// The name given to `--scenario`.
    pub name: &'static str,
    /// What a passing run shows.
    pub proves: &'static str,
    /// The body, run once per seed under shuttle, with the bugs to reintroduce.
    pub run: fn(sigrelay::rt::Shuttle, Bugs) -> BoxedBody,
}

/// Every scenario, in the order `list` prints them.
pub const ALL: &[Scenario] = &[
    Scenario {
        name: "pipeline",
        proves: "a three-stage bounded pipeline with a slow stage delivers every value and ends",
        run: |rt, _| Box::pin(pipeline(rt)),
    },
    Scenario {
        name: "fan-in",
        proves: "four producers with seeded jitter feed one consumer through a small buffer without loss",
        run: |rt, _| Box::pin(fan_in(rt)),
    },
    Scenario {
        name: "relay-churn",
        proves: "writer, lossy, updating, early-closing and racing streamers, relay close: only demanded keys, in order, complete after each ack, exact gap counts, nothing left running",
        run: |rt, bugs| Box::pin(relay::churn(rt, bugs)),
    },
    Scenario {
        name: "relay-open-ack",
        proves: "the open-ack is a delivery barrier: three streamers opening at once each receive the frame they write right after their ack (B6)",
        run: |rt, bugs| Box::pin(relay::open_ack(rt, bugs)),
    },
    Scenario {
        name: "signal-shutdown",
        proves: "drain, then cancel, then abort: the report names exactly the routines that had to be stopped, and none is left",
        run: |rt, bugs| Box::pin(signal::shutdown_order(rt, bugs)),
    },
    Scenario {
        name: "signal-first-failure",
        proves: "a group's first real failure is returned, never a sibling's cancellation (B7)",
        run: |rt, bugs| Box::pin(signal::first_failure(rt, bugs)),
    },
    Scenario {
        name: "signal-restart-cancel",
        proves: "a restarting routine cancelled at any moment ends with its panic (B8)",
        run: |rt, bugs| Box::pin(signal::restart_under_cancel(rt, bugs)),
    },
    Scenario {
        name: "signal-restart-return",
        proves: "a restartable routine that returns normally runs once (B9)",
        run: |rt, bugs| Box::pin(signal::restart_after_return(rt, bugs)),
    },
];

/// Looks a scenario up by name.
pub fn find(name: &str) -> Option<&'static Scenario> {
    ALL.iter().chain(testing::BROKEN).find(|s| s.name == name)
}

/// Scenarios that fail on purpose, for the harness's own tests; empty outside them.
pub mod testing {
    use super::*;

    /// The deliberately broken scenarios.
    #[cfg(test)]
    pub const BROKEN: &[Scenario] = &[Scenario {
        name: "broken",
        proves: "that failures are caught",
        run: |rt, _| Box::pin(deadlocks(rt)),
    }];
    /// The deliberately broken scenarios.
    #[cfg(not(test))]
    pub const BROKEN: &[Scenario] = &[];

    /// Two tasks that each wait for the other first.
    #[cfg(test)]
    pub async fn deadlocks<R: Runtime>(rt: R) {
        let (a_tx, mut a_rx) = rt.channel::<u8>("a", 1);
        let (b_tx, mut b_rx) = rt.channel::<u8>("b", 1);
        let first = rt.spawn("first", async move {
            let _ = a_rx.recv().await;
            let _ = b_tx.send(1).await;
        });
        let _ = b_rx.recv().await;
        let _ = a_tx.send(1).await;
        let _ = first.await;
    }
}

/// Three stages joined by bounded channels; the middle one sleeps, so the others block.
pub async fn pipeline<R: Runtime>(rt: R) {
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

/// Four producers sleep a seeded random time between sends into one small buffer.
pub async fn fan_in<R: Runtime>(rt: R) {
    let (tx, mut rx) = rt.channel::<(u64, u64)>("fan-in", 2);
    for producer in 0..4u64 {
        let (tx, clock, mut rng) = (tx.clone(), rt.clone(), rt.rng());
        let _producer = rt.spawn(&format!("producer-{producer}"), async move {
            for seq in 0..5 {
                clock.sleep(Duration::from_millis(rng.below(4))).await;
                tx.send((producer, seq))
                    .await
                    .expect("the consumer is alive");
            }
        });
    }
    drop(tx);
    let mut next = [0u64; 4];
    while let Some((producer, seq)) = rx.recv().await {
        assert_eq!(seq, next[producer as usize], "per-producer order holds");
        next[producer as usize] += 1;
    }
    assert_eq!(next, [5; 4], "every value arrives");
}
