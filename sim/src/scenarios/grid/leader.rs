//! The fenced leader under partitions: three candidates, the current leader cut off from
//! the coordinator at random and healed later. Terms never overlap (checked over every
//! instant: each term's interval ends before the next begins), fences grow with every term,
//! a fenced ledger never sees a stale write, and a new leader takes over within one lease
//! of the cut (G3).

use std::sync::{Arc, Mutex as StdMutex};
use std::time::Duration;

use sigrelay::bugs::Bugs;
use sigrelay::grid::{Candidate, Fence, LeaderConfig, SimCoordinator};
use sigrelay::rt::prelude::*;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// A term: who, its fence, from when, until when (ms since the start).
#[derive(Debug, Clone, Copy)]
struct Held {
    who: usize,
    fence: Fence,
    from: Duration,
    until: Option<Duration>,
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
    let terms = Arc::new(StdMutex::new(Vec::<Held>::new()));
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
                    let from = clock.now().saturating_duration_since(start);
                    let fence = term.fence();
                    let index = {
                        let mut terms = terms.lock().unwrap_or_else(|p| p.into_inner());
                        terms.push(Held {
                            who,
                            fence,
                            from,
                            until: None,
                        });
                        terms.len() - 1
                    };
                    let _ended = TermGuard {
                        terms,
                        index,
                        clock: clock.clone(),
                        start,
                    };
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
        let leader = current(&terms);
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
    let terms = terms.lock().unwrap_or_else(|p| p.into_inner()).clone();
    for pair in terms.windows(2) {
        let (old, new) = (pair[0], pair[1]);
        let ended = old.until.expect("every term ended");
        assert!(
            ended <= new.from,
            "two leaders at once: node-{} (fence {}) led until {ended:?}, node-{} (fence {}) from {:?}",
            old.who, old.fence.0, new.who, new.fence.0, new.from
        );
        assert!(new.fence > old.fence, "fences grow: {terms:?}");
    }
    let ledger = ledger.lock().unwrap_or_else(|p| p.into_inner());
    assert!(
        ledger.refused.is_empty(),
        "stale writes reached the ledger: {:?}",
        ledger.refused
    );
    for (leader, at) in cuts {
        let next = terms.iter().find(|t| t.who != leader && t.from >= at);
        let next = next.unwrap_or_else(|| {
            panic!("no leader after node-{leader} was cut at {at:?}: {terms:?}")
        });
        assert!(
            next.from <= at + config.ttl,
            "failover took longer than a lease: cut at {at:?}, {terms:?}"
        );
    }
}

/// The candidate whose term is open.
fn current(terms: &StdMutex<Vec<Held>>) -> Option<usize> {
    let terms = terms.lock().unwrap_or_else(|p| p.into_inner());
    terms
        .iter()
        .rev()
        .find(|t| t.until.is_none())
        .map(|t| t.who)
}

/// Records a term's end, however its future ends.
struct TermGuard<R: Runtime> {
    terms: Arc<StdMutex<Vec<Held>>>,
    index: usize,
    clock: R,
    start: R::Instant,
}

impl<R: Runtime> Drop for TermGuard<R> {
    fn drop(&mut self) {
        let at = self.clock.now().saturating_duration_since(self.start);
        let mut terms = self.terms.lock().unwrap_or_else(|p| p.into_inner());
        terms[self.index].until = Some(at);
    }
}
