//! Cluster-unique names: three nodes start the same actor name at random instants, each
//! claim racing a cut of that node's link to the coordinator. At no instant do two actors
//! of the name run; a start of a live name fails as taken; a claim whose answer was lost
//! is settled by re-reading (G1).

use std::sync::{Arc, Mutex as StdMutex};
use std::time::Duration;

use sigrelay::bugs::Bugs;
use sigrelay::grid::registry::{ClaimError, Registry};
use sigrelay::grid::{Coordinator, SimCoordinator};
use sigrelay::rt::prelude::*;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// The nodes whose actor of the name runs now.
#[derive(Default)]
struct Running(StdMutex<Vec<usize>>);

impl Running {
    fn enter(self: &Arc<Self>, node: usize) -> Leave {
        let mut running = self.0.lock().unwrap_or_else(|p| p.into_inner());
        assert!(
            running.is_empty(),
            "two actors of one name: node-{node} started grid/actors/worker while node-{running:?} ran it"
        );
        running.push(node);
        Leave(self.clone())
    }
}

struct Leave(Arc<Running>);

impl Drop for Leave {
    fn drop(&mut self) {
        self.0 .0.lock().unwrap_or_else(|p| p.into_inner()).clear();
    }
}

pub async fn unique_names_under_cuts<R: Runtime>(rt: R, bugs: Bugs) {
    let mut rng = rt.rng();
    let coordinator = SimCoordinator::start(&rt);
    let running = Arc::new(Running::default());
    let mut nodes = Vec::new();
    for node in 0..3 {
        let client = coordinator.client(&format!("grid/node-{node}"), ms(100));
        let lease = client.grant(Duration::from_secs(60)).await.expect("linked");
        let registry = Registry::new(client.clone(), "grid/actors", lease).bugs(bugs);
        let (clock, running, mut own) = (rt.clone(), running.clone(), rt.rng());
        let cut_at = own.chance(0.5).then(|| own.below(3));
        nodes.push(rt.spawn(&format!("grid/node-{node}"), async move {
            let mut outcomes = Vec::new();
            for attempt in 0..3 {
                clock.sleep(ms(own.below(40))).await;
                if cut_at == Some(attempt) {
                    let link = client.clone();
                    let _cutter = clock.spawn("grid/cutter", async move { link.cut() });
                }
                let claimed = registry.claim("worker", vec![node as u8]).await;
                client.heal();
                match claimed {
                    Ok(claim) => {
                        let guard = running.enter(node);
                        clock.sleep(ms(1 + own.below(30))).await;
                        drop(guard);
                        let _ = registry.release(claim).await;
                        outcomes.push("ran");
                    }
                    Err(ClaimError::Taken(holder)) => {
                        assert_ne!(holder.value, vec![node as u8], "taken by itself");
                        outcomes.push("taken");
                    }
                    Err(ClaimError::Coordinator(_)) => outcomes.push("unsettled"),
                }
            }
            outcomes
        }));
        rt.sleep(ms(rng.below(3))).await;
    }
    let mut ran = 0;
    for node in nodes {
        let outcomes = node.await.expect("a node ends");
        ran += outcomes.iter().filter(|o| **o == "ran").count();
    }
    assert!(ran >= 1, "someone ran the actor");
}
