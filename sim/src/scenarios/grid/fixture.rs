//! What the grid's turmoil scenarios share: a simulated coordinator started by the body and
//! handed to every host, each host's coordinator link (so the body can cut it), and how a
//! host starts its grid node.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;
use std::time::Duration;

use sigrelay::grid::{Definitions, Grid, GridConfig, LeaderConfig, SimClient, SimCoordinator};
use sigrelay::net::{ClusterMap, Credentials, Peers, Transport, TurmoilNet};
use sigrelay::relay::NodeId;
use sigrelay::rt::prelude::*;
use sigrelay::rt::Turmoil;

pub(super) const CLUSTER: Credentials = Credentials {
    cluster: 0x61d,
    token: [9; 32],
};

pub(super) fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

pub(super) fn host(node: u16) -> String {
    format!("n{node}")
}

/// Simulated time since the start.
pub(super) fn now() -> Duration {
    turmoil::sim_elapsed().expect("inside the simulation")
}

/// A grid node of the scenarios: 1 s leases kept every 200 ms, given up 300 ms early.
pub(super) fn lease() -> LeaderConfig {
    LeaderConfig {
        ttl: ms(1000),
        keep_alive_every: ms(200),
        margin: ms(300),
        retry: ms(50),
        ..LeaderConfig::default()
    }
}

pub(super) type Node = Grid<Turmoil, SimClient<Turmoil>, TurmoilNet>;

/// The coordinator (started by the body, in "main", which never crashes) and every host's
/// current link to it.
#[derive(Clone, Default)]
pub(super) struct Coordination {
    coordinator: Rc<RefCell<Option<SimCoordinator<Turmoil>>>>,
    links: Rc<RefCell<BTreeMap<u16, SimClient<Turmoil>>>>,
}

impl Coordination {
    /// Starts the coordinator; for the body.
    pub(super) fn start(&self, rt: &Turmoil) -> SimCoordinator<Turmoil> {
        let coordinator = SimCoordinator::start(rt);
        *self.coordinator.borrow_mut() = Some(coordinator.clone());
        coordinator
    }

    /// A fresh link for `node`, once the body has started the coordinator.
    pub(super) async fn link(&self, rt: &Turmoil, node: u16) -> SimClient<Turmoil> {
        loop {
            let started = self.coordinator.borrow().clone();
            if let Some(coordinator) = started {
                let link = coordinator.client(&host(node), ms(100));
                self.links.borrow_mut().insert(node, link.clone());
                return link;
            }
            rt.sleep(ms(1)).await;
        }
    }

    /// Lets the coordinator go, with every link to it, so its server ends; for the body's
    /// last step.
    pub(super) fn finish(&self) {
        self.coordinator.borrow_mut().take();
        self.links.borrow_mut().clear();
    }

    /// Cuts `node`'s current link, or heals it.
    pub(super) fn set_linked(&self, node: u16, linked: bool) {
        if let Some(link) = self.links.borrow().get(&node) {
            match linked {
                true => link.heal(),
                false => link.cut(),
            }
        }
    }
}

/// Starts node `node` of `nodes` on turmoil's network with `definitions` and `config`,
/// waiting until it holds a lease.
pub(super) async fn start_node(
    rt: &Turmoil,
    node: u16,
    nodes: u16,
    link: SimClient<Turmoil>,
    definitions: Definitions<Turmoil>,
    config: GridConfig,
) -> Node {
    let map = (1..=nodes).fold(ClusterMap::new(), |map, n| {
        map.with(NodeId(n), format!("{}:7000", host(n)))
    });
    let peers = Peers::new(TurmoilNet, map, CLUSTER, NodeId(node));
    let listener = TurmoilNet.bind("0.0.0.0:7000").await;
    let listener = listener.expect("the port is free");
    let grid = Grid::start(rt.clone(), link, peers, listener, definitions, config).await;
    let grid = grid.expect("a fresh node starts");
    grid.ready().await;
    grid
}
