//! The fenced leader: failover within one lease of virtual time, terms that never overlap,
//! and fences that grow with every term.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use sigrelay::grid::{Candidate, Fence, LeaderConfig, SimCoordinator, TermEnd};
use sigrelay::rt::prelude::*;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn config() -> LeaderConfig {
    LeaderConfig {
        ttl: ms(1000),
        keep_alive_every: ms(200),
        margin: ms(100),
        retry: ms(50),
        ..LeaderConfig::default()
    }
}

/// Who led, with which fence, from when to when (ms since the start).
type Terms = Arc<Mutex<Vec<(&'static str, Fence, Duration, Option<Duration>)>>>;

/// A leads from the start; cut off from the coordinator at 1.05 s, its last acknowledged
/// keep-alive was sent at 1 s, so it stops leading at exactly 1.9 s, before its lease ends
/// at 2 s; B, waiting, leads from exactly 2 s with a larger fence.
pub async fn a_cut_leader_stops_before_its_successor_starts<R: Runtime>(rt: R) {
    let start = rt.now();
    let coordinator = SimCoordinator::start(&rt);
    let terms: Terms = Arc::default();
    let (stop, stopping) = rt.watch("stop", false);
    let (mut candidates, mut links) = (Vec::new(), Vec::new());
    for name in ["a", "b"] {
        let client = coordinator.client(name, ms(100));
        links.push(client.clone());
        let candidate = Candidate::new(rt.clone(), client, "ns/leader", name.into(), config());
        let (terms, clock, mut stopping) = (terms.clone(), rt.clone(), stopping.clone());
        let task = rt.spawn(name, async move {
            let until = async move {
                while !stopping.current() {
                    let _ = stopping.changed().await;
                }
            };
            candidate
                .run(until, |mut term| {
                    let (terms, clock) = (terms.clone(), clock.clone());
                    async move {
                        let at = clock.now().saturating_duration_since(start);
                        let index = {
                            let mut terms = terms.lock().unwrap();
                            terms.push((name, term.fence(), at, None));
                            terms.len() - 1
                        };
                        let ended = Ended(terms, index, clock, start);
                        term.ended().await;
                        drop(ended);
                    }
                })
                .await
        });
        candidates.push(task);
        rt.sleep(ms(1)).await;
    }
    rt.sleep_until(start + ms(1050)).await;
    links[0].cut();
    rt.sleep_until(start + ms(2500)).await;
    let _ = stop.send(true);
    let mut ends = Vec::new();
    for task in candidates {
        ends.push(task.await.expect("a candidate ends"));
    }
    let terms = terms.lock().unwrap().clone();
    assert_eq!(terms.len(), 2, "{terms:?}");
    let (first, second) = (terms[0], terms[1]);
    assert_eq!((first.0, first.3), ("a", Some(ms(1900))), "{terms:?}");
    assert_eq!((second.0, second.2), ("b", ms(2000)), "{terms:?}");
    assert!(second.1 > first.1, "the successor's fence is larger");
    assert_eq!(ends[0].first().map(|t| t.1), Some(TermEnd::LeaseLost));
    assert_eq!(ends[1].first().map(|t| t.1), Some(TermEnd::Stopped));
}

/// Records when a term's future ended, also when it is dropped.
struct Ended<R: Runtime>(Terms, usize, R, R::Instant);

impl<R: Runtime> Drop for Ended<R> {
    fn drop(&mut self) {
        let at = self.2.now().saturating_duration_since(self.3);
        self.0.lock().unwrap()[self.1].3 = Some(at);
    }
}
