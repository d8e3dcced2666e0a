//! `grid-actors`: 3–5 turmoil nodes start two singleton names at random instants — mostly
//! on each name's home node — while the body cuts nodes off from the coordinator and heals
//! them. Singletons serve requests and quit after a random life, freeing their names, so
//! names are claimed, released and claimed again across generations of each node's lease.
//!
//! The oracle: at no instant two actors of one name (checked at every start); a request to
//! a singleton is answered, or fails with a typed error — never left to time out, even
//! when its actor quits with it queued (G1: a timed-out registration taken for won; G2: a
//! release by address deleting the same node's newer claim).

use std::sync::{Arc, Mutex as StdMutex};
use std::time::Duration;

use sigrelay::bugs::Bugs;
use sigrelay::check::TurmoilCheck;
use sigrelay::grid::{
    Actor, ActorContext, ActorError, Busy, Definitions, Fence, GridConfig, GridError, Inbox,
    RequestError,
};
use sigrelay::relay::NodeId;
use sigrelay::rt::prelude::*;
use sigrelay::rt::Turmoil;

use super::fixture::{host, lease, ms, now, start_node, Coordination};

const NAMES: [&str; 2] = ["alpha", "beta"];
const STARTS_END: Duration = Duration::from_secs(7);
const CHECK_AT: Duration = Duration::from_secs(9);

/// Who runs each name now, and every violation seen.
#[derive(Debug, Default)]
struct Lives {
    running: Vec<(String, u16, Fence)>,
    violations: Vec<String>,
    started: u64,
    requests: u64,
}

type Shared = Arc<StdMutex<Lives>>;

fn lock(lives: &Shared) -> std::sync::MutexGuard<'_, Lives> {
    lives.lock().unwrap_or_else(|p| p.into_inner())
}

/// Leaves the live set however the actor's future ends — returned, panicked or aborted.
struct Alive {
    lives: Shared,
    name: String,
    fence: Fence,
}

impl Drop for Alive {
    fn drop(&mut self) {
        let mut lives = lock(&self.lives);
        lives
            .running
            .retain(|(n, _, f)| !(n == &self.name && *f == self.fence));
    }
}

/// A singleton: answers pings until its life ends or it is told to stop.
struct Singleton {
    lives: Shared,
}

impl Actor<Turmoil> for Singleton {
    type Message = u64;
    type Reply = u64;
    type Error = String;

    async fn run(
        self,
        ctx: ActorContext<Turmoil>,
        mut inbox: Inbox<Turmoil, u64, u64, String>,
    ) -> Result<(), ActorError> {
        let (name, fence, node) = (ctx.name().to_string(), ctx.fence(), ctx.node().0);
        let _alive = {
            let mut lives = lock(&self.lives);
            lives.started += 1;
            let others: Vec<String> = lives
                .running
                .iter()
                .filter(|(n, _, _)| n == &name)
                .map(|(_, node, fence)| format!("node-{node} (fence {})", fence.0))
                .collect();
            if !others.is_empty() {
                let at = now();
                let others = others.join(", ");
                lives.violations.push(format!(
                    "two actors of one name: node-{node} started {name} (fence {}) at {at:?} while {others} ran it",
                    fence.0
                ));
            }
            lives.running.push((name.clone(), node, fence));
            Alive {
                lives: self.lives.clone(),
                name,
                fence,
            }
        };
        let rt = ctx.runtime().clone();
        let life = ms(200 + rt.rng().below(1300));
        let until = rt.now() + life;
        loop {
            sigrelay::select! {
                () = ctx.stopping() => return Ok(()),
                () = rt.sleep_until(until) => return Ok(()),
                request = inbox.next() => match request {
                    Some(request) => {
                        let n = request.message;
                        let _ = request.answer(Ok(n + 1));
                    }
                    None => return Ok(()),
                },
            }
        }
    }
}

/// One node's life: start names at random instants and ping them.
async fn node(
    rt: Turmoil,
    me: u16,
    nodes: u16,
    bugs: Bugs,
    coordination: Coordination,
    lives: Shared,
) {
    let link = coordination.link(&rt, me).await;
    let shared = lives.clone();
    let definitions = Definitions::new().define("singleton", 4, move |_| Singleton {
        lives: shared.clone(),
    });
    let config = GridConfig {
        lease: lease(),
        bugs,
        ..GridConfig::new("grid/actors")
    };
    let grid = start_node(&rt, me, nodes, link, definitions, config).await;
    let mut rng = rt.rng();
    while now() < STARTS_END {
        rt.sleep(ms(50 + rng.below(250))).await;
        let which = rng.below(NAMES.len() as u64) as usize;
        let home = 1 + which as u16 % nodes;
        let target = match rng.chance(0.75) {
            true => home,
            false => 1 + rng.below(u64::from(nodes)) as u16,
        };
        let name = NAMES[which];
        let _ = grid.start_actor(NodeId(target), "singleton", name).await;
        for n in 0..3 {
            let pinged = grid
                .request::<Singleton>(name, &n, Busy::Wait, ms(3_000))
                .await;
            lock(&lives).requests += 1;
            if let Err(GridError::Mailbox(RequestError::TimedOut { .. })) = pinged {
                let at = now();
                lock(&lives).violations.push(format!(
                    "a request to {name} from node-{me} was left to time out at {at:?}"
                ));
            }
        }
    }
    let report = grid.stop(ms(200)).await;
    if !report.is_clean() {
        lock(&lives)
            .violations
            .push(format!("node-{me} stopped uncleanly: {report}"));
    }
}

/// One seed: its simulated time, or what went wrong.
pub fn names_across_nodes(seed: u64, bugs: Bugs) -> Result<Duration, String> {
    let nodes = 3 + (seed % 3) as u16;
    let coordination = Coordination::default();
    let lives = Shared::default();
    let mut check = TurmoilCheck::new(seed).duration(CHECK_AT + Duration::from_secs(2));
    for n in 1..=nodes {
        let (coordination, lives) = (coordination.clone(), lives.clone());
        check = check.host(&host(n), move |rt| {
            node(rt, n, nodes, bugs, coordination.clone(), lives.clone())
        });
    }
    let body_coordination = coordination.clone();
    let ran = check.try_run(move |rt| async move {
        let coordinator = body_coordination.start(&rt);
        let mut rng = rt.rng();
        while now() < STARTS_END {
            rt.sleep(ms(200 + rng.below(800))).await;
            let node = 1 + rng.below(u64::from(nodes)) as u16;
            body_coordination.set_linked(node, false);
            rt.sleep(ms(300 + rng.below(1700))).await;
            body_coordination.set_linked(node, true);
        }
        rt.sleep(CHECK_AT.saturating_sub(now())).await;
        drop(coordinator);
        body_coordination.finish();
    });
    let header = format!("{nodes} nodes");
    ran.map_err(|failure| format!("{header}: {}", failure.message))?;
    let lives = lock(&lives);
    if !lives.violations.is_empty() {
        return Err(format!("{header}:\n{}", lives.violations.join("\n")));
    }
    if lives.started == 0 || lives.requests == 0 {
        return Err(format!("{header}: no singleton ever started"));
    }
    tracing::info!(
        started = lives.started,
        requests = lives.requests,
        "{header}: the oracle is satisfied"
    );
    Ok(CHECK_AT)
}
