//! sigrelay's own scenarios: async bodies written against `R: Runtime` and run under
//! shuttle, and whole simulated clusters run under turmoil. [`ALL`] is the table the `sim`
//! binary sweeps.

mod cluster;
mod grid;
mod patterns;
mod relay;
mod signal;

use std::time::Duration;

use sigrelay::relay::reached;
use sigrelay::rt::prelude::*;

use crate::scenario::{Body, Scenario};

/// Every scenario, in the order `list` prints them.
pub const ALL: &[Scenario] = &[
    Scenario {
        name: "pipeline",
        proves: "a three-stage bounded pipeline with a slow stage delivers every value and ends",
        body: Body::Shuttle(|rt, _| Box::pin(pipeline(rt))),
        default_seeds: None,
        hard_states: &[],
    },
    Scenario {
        name: "fan-in",
        proves: "four producers with seeded jitter feed one consumer through a small buffer without loss",
        body: Body::Shuttle(|rt, _| Box::pin(fan_in(rt))),
        default_seeds: None,
        hard_states: &[],
    },
    Scenario {
        name: "relay-churn",
        proves: "writer, lossy, updating, early-closing and racing streamers, relay close: only demanded keys, in order, complete after each ack, exact gap counts, nothing left running",
        body: Body::Shuttle(|rt, bugs| Box::pin(relay::churn(rt, bugs))),
        default_seeds: Some(20_000),
        hard_states: &[
            reached::DISCONNECT_WHILE_OUTLET_FULL,
            reached::LOSSY_PATIENCE_RAN_OUT,
            reached::CLOSE_RACED_STARTING_STREAMER,
        ],
    },
    Scenario {
        name: "relay-open-ack",
        proves: "the open-ack is a delivery barrier: three streamers opening at once each receive the frame they write right after their ack (B6)",
        body: Body::Shuttle(|rt, bugs| Box::pin(relay::open_ack(rt, bugs))),
        default_seeds: None,
        hard_states: &[],
    },
    Scenario {
        name: "signal-shutdown",
        proves: "drain, then cancel, then abort: the report names exactly the routines that had to be stopped, and none is left",
        body: Body::Shuttle(|rt, bugs| Box::pin(signal::shutdown_order(rt, bugs))),
        default_seeds: None,
        hard_states: &[],
    },
    Scenario {
        name: "signal-first-failure",
        proves: "a group's first real failure is returned, never a sibling's cancellation (B7)",
        body: Body::Shuttle(|rt, bugs| Box::pin(signal::first_failure(rt, bugs))),
        default_seeds: None,
        hard_states: &[],
    },
    Scenario {
        name: "signal-restart-cancel",
        proves: "a restarting routine cancelled at any moment ends with its panic (B8)",
        body: Body::Shuttle(|rt, bugs| Box::pin(signal::restart_under_cancel(rt, bugs))),
        default_seeds: None,
        hard_states: &[],
    },
    Scenario {
        name: "signal-restart-return",
        proves: "a restartable routine that returns normally runs once (B9)",
        body: Body::Shuttle(|rt, bugs| Box::pin(signal::restart_after_return(rt, bugs))),
        default_seeds: None,
        hard_states: &[],
    },
    Scenario {
        name: "patterns-pipeline",
        proves: "a pipeline of random widths with failing items, a backend that loses requests and a random budget: every item ends exactly once, ordered runs match the model, the budget stops the run exactly when exceeded (P1, P2)",
        body: Body::Shuttle(|rt, bugs| Box::pin(patterns::pipeline_with_failures(rt, bugs))),
        default_seeds: None,
        hard_states: &[],
    },
    Scenario {
        name: "patterns-heartbeat",
        proves: "a worker's interval heartbeat never holds its work up and beats exactly once per tick (P3)",
        body: Body::Shuttle(|rt, bugs| Box::pin(patterns::interval_heartbeat(rt, bugs))),
        default_seeds: None,
        hard_states: &[],
    },
    Scenario {
        name: "patterns-steward",
        proves: "wards that hang at random are stopped exactly one timeout after their last beat, aborted after the grace if deaf, restarted one backoff later, never two at once, one output stream (P4)",
        body: Body::Shuttle(|rt, bugs| Box::pin(patterns::hung_wards(rt, bugs))),
        default_seeds: None,
        hard_states: &[],
    },
    Scenario {
        name: "patterns-replicas",
        proves: "replicated requests, at once or hedged, with random latencies, failures and hangs: the earliest success wins at its time and every loser has ended one grace later (P5)",
        body: Body::Shuttle(|rt, bugs| Box::pin(patterns::replicated_requests(rt, bugs))),
        default_seeds: None,
        hard_states: &[],
    },
    Scenario {
        name: "patterns-ratelimit",
        proves: "clients sharing a limiter of one or two quotas, some giving up: every admission conforms to every quota, FIFO, none before its request",
        body: Body::Shuttle(|rt, bugs| Box::pin(patterns::rate_limited_clients(rt, bugs))),
        default_seeds: None,
        hard_states: &[],
    },
    Scenario {
        name: "grid-leader",
        proves: "three candidates, the leader cut off from the coordinator at random: terms never overlap, fences grow, no stale write reaches the fenced ledger, a new leader within one lease of the cut (G3)",
        body: Body::Shuttle(|rt, bugs| Box::pin(grid::leader_under_partitions(rt, bugs))),
        default_seeds: None,
        hard_states: &[],
    },
    Scenario {
        name: "grid-names",
        proves: "three nodes start one actor name at random instants, claims racing cuts of their links: never two actors of the name at once, a live name is taken, a lost answer is settled by re-reading (G1)",
        body: Body::Shuttle(|rt, bugs| Box::pin(grid::unique_names_under_cuts(rt, bugs))),
        default_seeds: None,
        hard_states: &[],
    },
    Scenario {
        name: "grid-actors",
        proves: "3–5 turmoil nodes start two singleton names at random, mostly on their home nodes, while nodes are cut from the coordinator and healed: never two actors of one name, requests answered or failed with a typed error and never left to time out (G1, G2)",
        body: Body::Turmoil(grid::names_across_nodes),
        default_seeds: Some(40),
        hard_states: &[],
    },
    Scenario {
        name: "grid-failover",
        proves: "3–5 turmoil nodes elect a leader that starts a worker on every peer and pings them with its fence; the leader's host crashes, it is cut from the coordinator (then another node too), or cut from its peers: no worker accepts a fence after its candidacy ended, terms never overlap, fences grow, a new leader within one lease (G3)",
        body: Body::Turmoil(grid::leader_failover),
        default_seeds: Some(30),
        hard_states: &[],
    },
    Scenario {
        name: "grid-broadcast",
        proves: "3–5 turmoil nodes' members with delays drawn from the seed, one answering with errors, the caller partitioned from one node for a while: fastest returns the quickest answer promptly and cancels the rest, all + resend reaches every member after the partition heals, an application error is never re-sent (G4, G5)",
        body: Body::Turmoil(grid::broadcasts),
        default_seeds: Some(30),
        hard_states: &[],
    },
    Scenario {
        name: "cluster-partition",
        proves: "3–5 nodes stream each other's channels through partitions (both ways, one way, a node cut from all), holds and latency surges: order, no duplicates, gap markers across each fault and none without, the open-ack barrier across nodes, resumption within 2.5 s of the repair, clean close",
        body: Body::Turmoil(cluster::partitions),
        default_seeds: Some(40),
        hard_states: &[],
    },
    Scenario {
        name: "cluster-slow-peer",
        proves: "three relays over the in-memory network under shuttle, writes delayed up to 2 ms by the seed, one reading slowly so its tap drops frames and the writer's peer server drops them too: on both readers values in order, never twice, every loss announced by a gap marker; every node closes clean",
        body: Body::Shuttle(|rt, bugs| Box::pin(cluster::slow_peer(rt, bugs))),
        default_seeds: None,
        hard_states: &[
            sigrelay::cluster::TAP_DROPPED_FRAME,
            sigrelay::cluster::SERVER_FORWARDED_GAP,
        ],
    },
    Scenario {
        name: "cluster-chaos",
        proves: "the slow-peer cluster with faults drawn from the seed: writes lost (each loss breaks its connection) and three crashes or partitions of the nodes' addresses while node 1 writes: on both readers values in order, never twice, every loss announced by a gap marker; every node closes clean",
        body: Body::Shuttle(|rt, bugs| Box::pin(cluster::chaos(rt, bugs))),
        default_seeds: None,
        hard_states: &[
            sigrelay::cluster::TAP_CONNECTION_BROKE,
            sigrelay::cluster::TAP_DROPPED_FRAME,
            sigrelay::cluster::SERVER_FORWARDED_GAP,
        ],
    },
    Scenario {
        name: "cluster-crash",
        proves: "a node crashes and restarts under 3–5 node streaming: the others mark the gap, redial and resume; the restarted node streams again; every node closes with nothing left running",
        body: Body::Turmoil(cluster::crash),
        default_seeds: Some(40),
        hard_states: &[],
    },
];

/// Looks one of sigrelay's scenarios up by name.
pub fn find(name: &str) -> Option<&'static Scenario> {
    ALL.iter().find(|s| s.name == name)
}

/// Scenarios for the harness's own tests; empty outside them.
pub mod testing {
    use super::*;

    /// A scenario that deadlocks on every seed.
    #[cfg(test)]
    pub const BROKEN: &[Scenario] = &[Scenario::shuttle(
        "broken",
        "that failures are caught",
        |rt, _| Box::pin(deadlocks(rt)),
    )];
    /// A scenario that deadlocks on every seed.
    #[cfg(not(test))]
    pub const BROKEN: &[Scenario] = &[];

    /// A passing scenario that reaches one of its hard states on about half the seeds and
    /// the other never, and the broken one: for sweeps that must fail on either.
    #[cfg(test)]
    pub const MIXED: &[Scenario] = &[
        Scenario::shuttle("coin", "a coin is tossed", |rt, _| Box::pin(coin(rt)))
            .reaching(&["heads", "the coin lands on its edge"]),
        BROKEN[0],
    ];

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

    /// A task tosses a coin from the run's RNG; heads is a hard state.
    #[cfg(test)]
    pub async fn coin<R: Runtime>(rt: R) {
        let mut rng = rt.rng();
        let toss = rt.spawn("toss", async move { rng.below(2) == 0 });
        if toss.await.expect("the toss ends") {
            sigrelay::rt::coverage::reached("heads");
        }
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
