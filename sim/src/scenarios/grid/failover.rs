//! `grid-failover`: 3–5 turmoil nodes elect a leader through the coordinator; the leader
//! starts a worker on every peer and pings each, every 50 ms, with its fence. At 1.5 s the
//! first leader is lost: its host crashes (and restarts at 4 s), or it is cut off from the
//! coordinator (and, half a lease later, the last node too), or the network cuts it off
//! from every peer while it keeps its lease.
//!
//! The oracle: no worker accepts a fence after its candidacy ended at the coordinator (seen
//! by a watch in the body, which is never cut) — G3, a leader acting on an expired lease;
//! terms never overlap and fences grow (checked over every instant, each term's interval
//! ending before the next begins); when the leader is lost, another leads within one lease;
//! workers are pinged at all.

use std::collections::BTreeMap;
use std::future::poll_fn;
use std::pin::Pin;
use std::sync::{Arc, Mutex as StdMutex};
use std::time::Duration;

use futures_core::Stream;
use serde::{Deserialize, Serialize};
use sigrelay::bugs::Bugs;
use sigrelay::check::{NetFault, TurmoilCheck};
use sigrelay::grid::{
    Actor, ActorContext, ActorError, Busy, Coordinator, Definitions, Fence, GridConfig, GridError,
    Inbox, LeaderConfig, SimClient, Term, WatchEvent,
};
use sigrelay::relay::NodeId;
use sigrelay::rt::prelude::*;
use sigrelay::rt::Turmoil;

use super::fixture::{host, lease, ms, now, start_node, Coordination, Node};
use super::terms::Terms;

const ELECTION: &str = "grid/failover/leader";
const FAULT_AT: Duration = Duration::from_millis(1_500);
const NODES_END: Duration = Duration::from_secs(6);
const CHECK_AT: Duration = Duration::from_secs(7);

/// A leader's ping to a worker.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Ping {
    fence: Fence,
}

/// What the workers accepted and when candidacies ended.
#[derive(Debug, Default)]
struct Seen {
    accepted: Vec<(u16, Fence, Duration)>,
    ended: BTreeMap<Fence, Duration>,
}

type Shared = Arc<StdMutex<Seen>>;

fn lock(seen: &Shared) -> std::sync::MutexGuard<'_, Seen> {
    seen.lock().unwrap_or_else(|p| p.into_inner())
}

/// A worker: records every fenced ping it accepts.
struct Worker {
    seen: Shared,
}

impl Actor<Turmoil> for Worker {
    type Message = Ping;
    type Reply = ();
    type Error = String;

    async fn run(
        self,
        ctx: ActorContext<Turmoil>,
        mut inbox: Inbox<Turmoil, Ping, (), String>,
    ) -> Result<(), ActorError> {
        while let Some(request) = ctx.next(&mut inbox).await {
            lock(&self.seen)
                .accepted
                .push((ctx.node().0, request.message.fence, now()));
            let _ = request.answer(Ok(()));
        }
        Ok(())
    }
}

/// One term: start a worker on every peer and ping them all with the fence until the term
/// ends.
async fn lead(grid: Node, me: u16, nodes: u16, mut term: Term<Turmoil>, terms: Terms, who: usize) {
    let rt = grid.runtime().clone();
    let _ended = terms.open(who, term.fence(), now);
    let mut started = vec![false; usize::from(nodes) + 1];
    loop {
        for peer in (1..=nodes).filter(|&p| p != me) {
            let name = format!("worker-{peer}");
            if !started[usize::from(peer)] {
                let start = grid.start_actor(NodeId(peer), "worker", &name).await;
                started[usize::from(peer)] =
                    start.is_ok() || matches!(start, Err(sigrelay::grid::StartError::Taken { .. }));
            }
            let ping = Ping {
                fence: term.fence(),
            };
            let pinged = grid
                .request_on::<Worker>(NodeId(peer), &name, &ping, Busy::Reject, ms(100))
                .await;
            if let Err(GridError::NoActor) = pinged {
                started[usize::from(peer)] = false;
            }
        }
        sigrelay::select! {
            () = term.ended() => return,
            () = rt.sleep(ms(50)) => {}
        }
    }
}

/// One node's life: a grid node following the election, and a candidate.
async fn node(
    rt: Turmoil,
    me: u16,
    nodes: u16,
    bugs: Bugs,
    coordination: Coordination,
    seen: Shared,
    terms: Terms,
) {
    let link = coordination.link(&rt, me).await;
    let shared = seen.clone();
    let definitions = Definitions::new().define("worker", 16, move |_| Worker {
        seen: shared.clone(),
    });
    let config = GridConfig {
        lease: lease(),
        election: Some(ELECTION.to_string()),
        ..GridConfig::new("grid/failover")
    };
    let grid = start_node(&rt, me, nodes, link.clone(), definitions, config).await;
    if me != 1 {
        rt.sleep(ms(300)).await;
    }
    let leader = LeaderConfig { bugs, ..lease() };
    let until = rt.sleep(NODES_END.saturating_sub(now()));
    let who = usize::from(me);
    grid.lead(ELECTION, leader, until, |fenced, term| {
        lead(fenced, me, nodes, term, terms.clone(), who)
    })
    .await;
    let _ = grid.stop(ms(200)).await;
}

/// Records when each candidacy ends, from a watch that is never cut.
async fn observe(rt: Turmoil, observer: SimClient<Turmoil>, seen: Shared) {
    while now() < NODES_END {
        let Ok((_, mut events)) = observer.watch(&format!("{ELECTION}/")).await else {
            rt.sleep(ms(10)).await;
            continue;
        };
        while let Some(event) = poll_fn(|cx| Pin::new(&mut events).poll_next(cx)).await {
            if let WatchEvent::Delete { fence, .. } = event {
                lock(&seen).ended.insert(fence, now());
            }
            if now() >= NODES_END {
                return;
            }
        }
    }
}

/// How the first leader is lost, by seed.
fn plan(seed: u64, nodes: u16) -> (TurmoilCheck, &'static str) {
    let check = TurmoilCheck::new(seed).duration(CHECK_AT + Duration::from_secs(2));
    match seed % 3 {
        0 => (
            check
                .fault(FAULT_AT, NetFault::Crash(host(1)))
                .fault(ms(4_000), NetFault::Restart(host(1))),
            "the leader's host crashes",
        ),
        1 => (
            check,
            "the leader, then the last node, cut from the coordinator",
        ),
        _ => {
            let partitioned = (2..=nodes).fold(check, |check, peer| {
                check
                    .fault(FAULT_AT, NetFault::Partition(host(1), host(peer)))
                    .fault(FAULT_AT + ms(1_500), NetFault::Repair(host(1), host(peer)))
            });
            (partitioned, "the leader cut from its peers")
        }
    }
}

/// One seed: its simulated time, or what went wrong.
pub fn leader_failover(seed: u64, bugs: Bugs) -> Result<Duration, String> {
    let nodes = 3 + (seed / 3 % 3) as u16;
    let (mut check, fault) = plan(seed, nodes);
    let (coordination, seen, terms) =
        (Coordination::default(), Shared::default(), Terms::default());
    for n in 1..=nodes {
        let (coordination, seen, terms) = (coordination.clone(), seen.clone(), terms.clone());
        check = check.host(&host(n), move |rt| {
            node(
                rt,
                n,
                nodes,
                bugs,
                coordination.clone(),
                seen.clone(),
                terms.clone(),
            )
        });
    }
    let cuts = seed % 3 == 1;
    let (body_coordination, body_seen) = (coordination.clone(), seen.clone());
    let ran = check.try_run(move |rt| async move {
        let coordinator = body_coordination.start(&rt);
        let observer = coordinator.client("observer", ms(100));
        let watcher = rt.spawn("observer", observe(rt.clone(), observer, body_seen));
        if cuts {
            rt.sleep(FAULT_AT).await;
            body_coordination.set_linked(1, false);
            rt.sleep(ms(500)).await;
            body_coordination.set_linked(nodes, false);
            rt.sleep(ms(2_000)).await;
            body_coordination.set_linked(1, true);
            body_coordination.set_linked(nodes, true);
        }
        let _ = watcher.await;
        rt.sleep(CHECK_AT.saturating_sub(now())).await;
        drop(coordinator);
        body_coordination.finish();
    });
    let header = format!("{nodes} nodes, {fault}");
    ran.map_err(|failure| format!("{header}: {}", failure.message))?;
    verdict(&seen, &terms, seed % 3 != 2).map_err(|why| format!("{header}: {why}"))?;
    Ok(CHECK_AT)
}

fn verdict(seen: &Shared, terms: &Terms, lost: bool) -> Result<(), String> {
    let seen = lock(seen);
    for &(worker, fence, at) in &seen.accepted {
        if let Some(&ended) = seen.ended.get(&fence) {
            if at > ended {
                return Err(format!(
                    "a stale fence accepted: worker-{worker} accepted fence {} at {at:?}, {:?} after its candidacy ended",
                    fence.0,
                    at - ended
                ));
            }
        }
    }
    terms.check_never_two()?;
    if lost {
        terms.check_failover(1, FAULT_AT, lease().ttl)?;
    }
    if seen.accepted.is_empty() {
        return Err("no worker was ever pinged".into());
    }
    Ok(())
}
