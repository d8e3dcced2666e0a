//! `grid-broadcast`: 3–5 turmoil nodes each run a member; node 2 also runs a member that
//! answers every message with an application error. Node 1 broadcasts: first `fastest`,
//! with each member taking a distinct delay drawn from the seed; then, while node 1 is
//! partitioned from the last node, `all`, and `resend` every 300 ms until every member has
//! answered.
//!
//! The oracle: `fastest` returns the quickest member's answer as soon as it arrives — it
//! does not wait for a slower member (G4) — and every other member's request is cancelled
//! (its answer goes nowhere); after the partition heals, the resends reach every member; a
//! member that answered with an application error processed the message once (G5: resent
//! and processed twice).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex as StdMutex};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use sigrelay::bugs::Bugs;
use sigrelay::check::{NetFault, TurmoilCheck};
use sigrelay::grid::{
    Actor, ActorContext, ActorError, Definitions, GridConfig, Inbox, Resend, Status,
};
use sigrelay::relay::NodeId;
use sigrelay::rt::prelude::*;
use sigrelay::rt::Turmoil;

use super::fixture::{host, lease, ms, now, start_node, Coordination, Node};

const FASTEST_AT: Duration = Duration::from_millis(500);
const PARTITION: (Duration, Duration) =
    (Duration::from_millis(2_000), Duration::from_millis(3_000));
const ALL_AT: Duration = Duration::from_millis(2_200);
const NODES_END: Duration = Duration::from_secs(7);
const CHECK_AT: Duration = Duration::from_secs(8);
/// The network's latency: each message takes up to this long.
const LATENCY: Duration = Duration::from_millis(10);
/// How long past the quickest member's delay `fastest` may take to return: the exchange's
/// messages (connect, hello, welcome, call, answer) at most [`LATENCY`] each, far below
/// the 150 ms between two members' delays.
const PROMPT: Duration = Duration::from_millis(60);

/// A broadcast message: its id, and whether the member takes its delay over it.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Work {
    id: u64,
    delayed: bool,
}

/// What the members did.
#[derive(Debug, Default)]
struct Seen {
    processed: BTreeMap<(String, u64), u64>,
    delivered_late: Vec<String>,
    violations: Vec<String>,
}

type Shared = Arc<StdMutex<Seen>>;

fn lock(seen: &Shared) -> std::sync::MutexGuard<'_, Seen> {
    seen.lock().unwrap_or_else(|p| p.into_inner())
}

/// A member: takes its delay over delayed work, then answers; `fail-*` members refuse.
struct Member {
    seen: Shared,
    delay: Duration,
}

impl Actor<Turmoil> for Member {
    type Message = Work;
    type Reply = u64;
    type Error = String;

    async fn run(
        self,
        ctx: ActorContext<Turmoil>,
        mut inbox: Inbox<Turmoil, Work, u64, String>,
    ) -> Result<(), ActorError> {
        let name = ctx.name().to_string();
        while let Some(request) = ctx.next(&mut inbox).await {
            let Work { id, delayed } = request.message;
            *lock(&self.seen)
                .processed
                .entry((name.clone(), id))
                .or_default() += 1;
            if delayed {
                ctx.runtime().sleep(self.delay).await;
            }
            let answer = match name.starts_with("fail-") {
                true => Err("refused".to_string()),
                false => Ok(id),
            };
            if request.answer(answer) && delayed {
                lock(&self.seen).delivered_late.push(name.clone());
            }
        }
        Ok(())
    }
}

/// Each member's delay over delayed work: 100 ms plus 150 ms times its place in a
/// permutation drawn from the seed.
fn delays(seed: u64, nodes: u16) -> Vec<Duration> {
    let mut order: Vec<u64> = (0..u64::from(nodes)).collect();
    let mut rng = sigrelay::rt::Rng::new(seed ^ 0xb40a_dca5);
    for i in (1..order.len()).rev() {
        order.swap(i, rng.below(i as u64 + 1) as usize);
    }
    order
        .into_iter()
        .map(|place| ms(100 + 150 * place))
        .collect()
}

fn members(nodes: u16) -> Vec<String> {
    (1..=nodes).map(|n| format!("member-{n}")).collect()
}

/// One node's life: start its member (node 2 also its failing one); node 1 broadcasts.
async fn node(
    rt: Turmoil,
    me: u16,
    nodes: u16,
    bugs: Bugs,
    coordination: Coordination,
    seen: Shared,
    delays: Arc<Vec<Duration>>,
) {
    let delay = delays[usize::from(me) - 1];
    let link = coordination.link(&rt, me).await;
    let shared = seen.clone();
    let definitions = Definitions::new().define("member", 8, move |_| Member {
        seen: shared.clone(),
        delay,
    });
    let config = GridConfig {
        lease: lease(),
        bugs,
        ..GridConfig::new("grid/broadcast")
    };
    let grid = start_node(&rt, me, nodes, link, definitions, config).await;
    let _ = grid
        .start_actor(NodeId(me), "member", &format!("member-{me}"))
        .await;
    if me == 2 {
        let _ = grid.start_actor(NodeId(me), "member", "fail-2").await;
    }
    if me == 1 {
        broadcast(&grid, &delays, &seen).await;
    }
    rt.sleep(NODES_END.saturating_sub(now())).await;
    let _ = grid.stop(ms(200)).await;
}

async fn broadcast(grid: &Node, delays: &[Duration], seen: &Shared) {
    let rt = grid.runtime().clone();
    rt.sleep(FASTEST_AT.saturating_sub(now())).await;
    let group = members(delays.len() as u16);
    let listed = grid.members("member-").await;
    if listed.as_ref() != Ok(&group) {
        lock(seen)
            .violations
            .push(format!("the registry lists {listed:?}, not every member"));
        return;
    }
    let started = now();
    let fastest = grid
        .fastest::<Member>(
            &group,
            &Work {
                id: 1,
                delayed: true,
            },
            ms(3_000),
        )
        .await;
    let took = now() - started;
    lock(seen)
        .violations
        .extend(judge_fastest(fastest.map(|(name, _)| name), took, delays));
    rt.sleep(ALL_AT.saturating_sub(now())).await;
    let mut everyone = group.clone();
    everyone.push("fail-2".into());
    let work = Work {
        id: 2,
        delayed: false,
    };
    let mut statuses = grid.all::<Member>(&everyone, &work, ms(300)).await;
    while now() < NODES_END - ms(1_000)
        && !statuses
            .iter()
            .all(|(n, s)| s.is_answered() || n.starts_with("fail-"))
    {
        rt.sleep(ms(300)).await;
        statuses = grid
            .resend::<Member>(statuses, &work, ms(300), Resend::AlsoMaybeDelivered)
            .await;
    }
    for (name, status) in statuses {
        if !name.starts_with("fail-") && !matches!(status, Status::Answered(2)) {
            lock(seen).violations.push(format!(
                "all + resend never reached {name} after the partition healed: {status:?}"
            ));
        }
    }
}

/// `fastest` must return the quickest member, promptly.
fn judge_fastest(
    winner: Result<String, impl std::fmt::Debug>,
    took: Duration,
    delays: &[Duration],
) -> Option<String> {
    let (quickest, first) = quickest(delays);
    if took > first + PROMPT {
        return Some(format!("Fastest waited for a slower member: it returned after {took:?}, the first answer took {first:?}"));
    }
    match winner {
        Ok(winner) if winner == quickest => None,
        other => Some(format!(
            "Fastest returned {other:?}, not the quickest member {quickest}"
        )),
    }
}

/// The quickest member and its delay.
fn quickest(delays: &[Duration]) -> (String, Duration) {
    let (i, first) = delays
        .iter()
        .enumerate()
        .min_by_key(|(_, d)| **d)
        .expect("members");
    (format!("member-{}", i + 1), *first)
}

/// One seed: its simulated time, or what went wrong.
pub fn broadcasts(seed: u64, bugs: Bugs) -> Result<Duration, String> {
    let nodes = 3 + (seed % 3) as u16;
    let delays = Arc::new(delays(seed, nodes));
    let last = host(nodes);
    let mut check = TurmoilCheck::new(seed)
        .duration(CHECK_AT + Duration::from_secs(2))
        .fault(Duration::ZERO, NetFault::MaxLatency(LATENCY))
        .fault(PARTITION.0, NetFault::Partition(host(1), last.clone()))
        .fault(PARTITION.1, NetFault::Repair(host(1), last));
    let (coordination, seen) = (Coordination::default(), Shared::default());
    for n in 1..=nodes {
        let (coordination, seen, delays) = (coordination.clone(), seen.clone(), delays.clone());
        check = check.host(&host(n), move |rt| {
            node(
                rt,
                n,
                nodes,
                bugs,
                coordination.clone(),
                seen.clone(),
                delays.clone(),
            )
        });
    }
    let body_coordination = coordination.clone();
    let ran = check.try_run(move |rt| async move {
        let coordinator = body_coordination.start(&rt);
        rt.sleep(CHECK_AT).await;
        drop(coordinator);
        body_coordination.finish();
    });
    let header = format!("{nodes} nodes, delays {delays:?}");
    ran.map_err(|failure| format!("{header}: {}", failure.message))?;
    let seen = lock(&seen);
    let mut violations = seen.violations.clone();
    let (winner, _) = quickest(&delays);
    let late: Vec<&String> = seen
        .delivered_late
        .iter()
        .filter(|n| **n != winner)
        .collect();
    if !late.is_empty() {
        violations.push(format!(
            "a loser's request was not cancelled: {late:?} answered after the winner"
        ));
    }
    for ((name, id), &times) in &seen.processed {
        if name.starts_with("fail-") && times > 1 {
            violations.push(format!("processed twice: {name} processed message {id} {times} times after answering it with an error"));
        }
    }
    match violations.is_empty() {
        true => Ok(CHECK_AT),
        false => Err(format!("{header}:\n{}", violations.join("\n"))),
    }
}
