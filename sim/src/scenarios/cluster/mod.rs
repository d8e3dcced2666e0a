//! Relays across 3–5 simulated nodes (turmoil) under faults. Every node writes its own
//! channels and streams every other node's with two streamers: one opened at once, while
//! peers may still be starting, and one at 0.5 s, with every peer up, that wants a channel
//! no one wanted before — so its open-ack waits for every peer to apply a new key set. From
//! 1 s to 2 s of simulated time one fault holds: in `cluster-partition`, a partition (both
//! ways, one way, or one node cut from all), a hold, or a latency surge; in `cluster-crash`,
//! a node crashes and restarts. The journal's oracle then checks order, no duplicates,
//! lossless streams between faults, gap markers across them, the open-ack barrier, streaming
//! resumed within 2.5 s of the repair, and every surviving node closed with nothing running
//! (a node whose close stalls is reported with the routines still running).

mod journal;
mod node;
mod slow;

pub use self::slow::{chaos, slow_peer};

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use sigrelay::bugs::Bugs;
use sigrelay::check::{NetFault, TurmoilCheck};
use sigrelay::relay::{ChannelKey, NodeId};
use sigrelay::rt::prelude::*;

use self::journal::{Expect, Journal, Life};

const FAULT_AT: Duration = Duration::from_secs(1);
const HEALED: Duration = Duration::from_secs(2);
const WRITES_END: Duration = Duration::from_secs(5);
const READS_END: Duration = Duration::from_millis(5_500);
const CHECK_AT: Duration = Duration::from_secs(12);
const PERIOD: Duration = Duration::from_millis(10);
const LATE_OPEN: Duration = Duration::from_millis(500);

type Shared = Rc<RefCell<Journal>>;

fn host(node: u16) -> String {
    format!("n{node}")
}

/// The channels of `node` that streamer `which` wants: streamer 1 alone wants channel 2.
fn wanted_of(node: u16, which: u8) -> impl Iterator<Item = ChannelKey> {
    let channels = [key(node), ChannelKey::leased(NodeId(node), 2)];
    channels.into_iter().take(usize::from(which) + 1)
}

fn key(node: u16) -> ChannelKey {
    ChannelKey::leased(NodeId(node), 1)
}

fn now() -> Duration {
    turmoil::sim_elapsed().expect("inside the simulation")
}

/// One seed's cluster: its size, its fault, and the node that crashes, if one does.
struct Plan {
    nodes: u16,
    fault: &'static str,
    check: TurmoilCheck,
    crashed: Option<u16>,
}

/// `on` at the fault's start, `off` at the repair.
fn fault(check: TurmoilCheck, on: NetFault, off: NetFault) -> TurmoilCheck {
    check.fault(FAULT_AT, on).fault(HEALED, off)
}

fn network_plan(seed: u64) -> Plan {
    let nodes = 3 + (seed / 5 % 3) as u16;
    let check = TurmoilCheck::new(seed).duration(CHECK_AT + Duration::from_secs(1));
    let (a, b, c) = (host(1), host(2), host(nodes));
    let ms = Duration::from_millis;
    let faults = match seed % 5 {
        0 => vec![(
            NetFault::Partition(a.clone(), b.clone()),
            NetFault::Repair(a, b),
        )],
        1 => vec![(
            NetFault::PartitionOneWay(a.clone(), b.clone()),
            NetFault::RepairOneWay(a, b),
        )],
        2 => vec![(
            NetFault::Hold(a.clone(), c.clone()),
            NetFault::Release(a, c),
        )],
        3 => vec![(NetFault::MaxLatency(ms(400)), NetFault::MaxLatency(ms(20)))],
        _ => (2..=nodes)
            .map(|o| {
                (
                    NetFault::Partition(a.clone(), host(o)),
                    NetFault::Repair(a.clone(), host(o)),
                )
            })
            .collect(),
    };
    let fault_name = [
        "partition",
        "one-way partition",
        "hold",
        "latency surge",
        "node cut from all",
    ];
    let fault_name = fault_name[(seed % 5) as usize];
    let check = faults
        .into_iter()
        .fold(check, |check, (on, off)| fault(check, on, off));
    Plan {
        nodes,
        fault: fault_name,
        check,
        crashed: None,
    }
}

fn crash_plan(seed: u64) -> Plan {
    let nodes = 3 + (seed % 3) as u16;
    let crashed = 2 + (seed / 3 % u64::from(nodes - 1)) as u16;
    let check = TurmoilCheck::new(seed).duration(CHECK_AT + Duration::from_secs(1));
    let check = fault(
        check,
        NetFault::Crash(host(crashed)),
        NetFault::Restart(host(crashed)),
    );
    Plan {
        nodes,
        fault: "crash and restart",
        check,
        crashed: Some(crashed),
    }
}

/// `cluster-partition`: one seed; its simulated time, or what went wrong.
pub fn partitions(seed: u64, bugs: Bugs) -> Result<Duration, String> {
    run(network_plan(seed), bugs)
}

/// `cluster-crash`: one seed; its simulated time, or what went wrong.
pub fn crash(seed: u64, bugs: Bugs) -> Result<Duration, String> {
    run(crash_plan(seed), bugs)
}

fn run(plan: Plan, bugs: Bugs) -> Result<Duration, String> {
    let Plan {
        nodes,
        fault,
        mut check,
        crashed,
    } = plan;
    let journal: Shared = Rc::default();
    for n in 1..=nodes {
        let journal = journal.clone();
        check = check.host(&host(n), move |rt| {
            node::node(rt, n, nodes, bugs, journal.clone())
        });
    }
    let header = format!("{nodes} nodes, {fault}");
    let ran = check.try_run(|rt| async move { rt.sleep(CHECK_AT).await });
    ran.map_err(|failure| format!("{header}: {}", failure.message))?;
    let journal = journal.borrow();
    let violations = journal.violations(&expect(nodes, crashed));
    if !violations.is_empty() {
        return Err(format!("{header}:\n{violations}"));
    }
    let (delivered, gaps) = (journal.deliveries(), journal.gaps());
    tracing::info!(delivered, gaps, "{header}: the oracle is satisfied");
    Ok(CHECK_AT)
}

/// What the oracle expects of a cluster of `nodes` where `crashed` crashed and restarted.
fn expect(nodes: u16, crashed: Option<u16>) -> Expect {
    let start = |n: u16| if crashed == Some(n) { 2 } else { 1 };
    let lives: Vec<Life> = (1..=nodes)
        .flat_map(|n| [(n, start(n), 0), (n, start(n), 1)])
        .collect();
    let resume = lives.iter().flat_map(|&life| {
        let others = (1..=nodes).filter(move |&o| o != life.0);
        others.flat_map(move |o| wanted_of(o, life.2).map(move |key| (life, key)))
    });
    let strict_open = (1..=nodes)
        .filter(|&n| crashed != Some(n))
        .map(|n| (n, 1, 1));
    Expect {
        must_close: lives.clone(),
        strict_open: strict_open.collect(),
        healed: HEALED,
        resume_within: Duration::from_millis(2_500),
        resume: resume.collect(),
        peers: usize::from(nodes - 1),
        faults_from: FAULT_AT,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 60 seeds: 30 of each cluster scenario, 3 to 5 nodes, every kind of fault.
    #[test]
    fn relays_across_nodes_hold_under_faults() {
        let scenarios = ["cluster-partition", "cluster-crash"]
            .map(|name| crate::scenarios::find(name).expect("listed"));
        let mut failures = Vec::new();
        for scenario in scenarios {
            for seed in 0..30 {
                if let Err(failure) = crate::sweep::run_seed(scenario, seed, Bugs::NONE) {
                    failures.push(format!("{}\n  replay: {}", failure.message, failure.replay));
                }
            }
        }
        assert!(
            failures.is_empty(),
            "{} seeds failed:\n{}",
            failures.len(),
            failures.join("\n")
        );
    }
}
