//! The fenced leader under partitions: three candidates, the current leader cut off from
//! the coordinator at random and healed later. Terms never overlap (checked over every
//! instant: each term's interval ends before the next begins), fences grow with every term,
//! a fenced ledger never sees a stale write, and a new leader takes over within one lease
//! of the cut (G3).

use std::sync::{Arc, Mutex as StdMutex};
use std::time::Duration;

use sigrelay::bugs::Bugs;
use sigrelay::grid::{Candidate, Fence, LeaderConfig, SimCoordinator};

use super::terms::Terms;
use sigrelay::rt::prelude::*;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// Accepts a leader's write only if no larger fence wrote before: the service side of
/// fencing.
#[derive(Debug, Default)]
struct Ledger {
    highest: Option<Fence>,
    refused: Vec<(usize, Fence)>,
}

pub async fn leader_under_partitions<R: Runtime>(rt: R, bugs: Bugs) {
    let mut rng = rt.rng();
    let config = LeaderConfig {
        ttl: ms(1000),
        keep_alive_every: ms(200),
        margin: ms(100),
        retry: ms(50),
        bugs,
    };
    let start = rt.now();
    let coordinator = SimCoordinator::start(&rt);
    let terms = Terms::default();
    let ledger = Arc::new(StdMutex::new(Ledger::default()));
    let (stop, stopping) = rt.watch("grid/stop", false);
    let (mut tasks, mut links) = (Vec::new(), Vec::new());
    for who in 0..3 {
        let client = coordinator.client(&format!("grid/node-{who}"), ms(100));
        links.push(client.clone());
        let candidate = Candidate::new(rt.clone(), client, "grid/leader", vec![who as u8], config);
        let (terms, ledger, clock, mut stopping) =
            (terms.clone(), ledger.clone(), rt.clone(), stopping.clone());
        tasks.push(rt.spawn(&format!("grid/node-{who}"), async move {
            let until = async move {
                while !stopping.current() {
                    let _ = stopping.changed().await;
                }
            };
            let lead = |mut term: sigrelay::grid::Term<R>| {
                let (terms, ledger, clock) = (terms.clone(), ledger.clone(), clock.clone());
                async move {
                    let fence = term.fence();
                    let since = clock.clone();
                    let _ended = terms.open(who, fence, move || {
                        since.now().saturating_duration_since(start)
                    });
                    loop {
                        {
                            let mut ledger = ledger.lock().unwrap_or_else(|p| p.into_inner());
                            match ledger.highest {
                                Some(high) if high > fence => ledger.refused.push((who, fence)),
                                _ => ledger.highest = Some(fence),
                            }
                        }
                        sigrelay::select! {
                            () = term.ended() => return,
                            () = clock.sleep(ms(50)) => {}
                        }
                    }
                }
            };
            candidate.run(until, lead).await
        }));
        rt.sleep(ms(1 + rng.below(5))).await;
    }
    let mut cuts = Vec::new();
    for _ in 0..3 {
        rt.sleep(ms(300 + rng.below(1500))).await;
        let leader = terms.current();
        let Some(leader) = leader else { continue };
        let at = rt.now().saturating_duration_since(start);
        links[leader].cut();
        cuts.push((leader, at));
        rt.sleep(ms(1200 + rng.below(800))).await;
        links[leader].heal();
    }
    rt.sleep(ms(1500)).await;
    let _ = stop.send(true);
    for task in tasks {
        task.await.expect("a candidate ends");
    }
    if let Err(violation) = terms.check_never_two() {
        panic!("{violation}");
    }
    let ledger = ledger.lock().unwrap_or_else(|p| p.into_inner());
    assert!(
        ledger.refused.is_empty(),
        "stale writes reached the ledger: {:?}",
        ledger.refused
    );
    for (leader, at) in cuts {
        if let Err(violation) = terms.check_failover(leader, at, config.ttl) {
            panic!("{violation}");
        }
    }
}
