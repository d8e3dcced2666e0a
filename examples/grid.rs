//! The grid's seed, end to end: three nodes on TCP loopback share a real etcd; they elect a
//! leader, which starts a worker on every peer and pings each with its fence; the pings'
//! latencies are printed as percentiles. Then the leader's task dies without resigning, a
//! new leader takes over once its lease has ended, and pings again.
//!
//! ```text
//! apt-get install etcd-server     # once: the example starts its own etcd on loopback
//! cargo run --release --features etcd --example grid -- --pings 2000
//! cargo run --release --features etcd --example grid -- --etcd 127.0.0.1:2379
//! ```

#[path = "../tests/etcd/server.rs"]
mod server;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use sigrelay::grid::etcd::Etcd;
use sigrelay::grid::{
    Actor, ActorContext, ActorError, Busy, Definitions, Fence, Grid, GridConfig, Inbox,
    LeaderConfig, StartError, Term,
};
use sigrelay::net::{ClusterMap, Credentials, Listener, Peers, Tcp, Transport};
use sigrelay::relay::NodeId;
use sigrelay::rt::prelude::*;
use sigrelay::rt::Tokio;

const NODES: u16 = 3;
const ELECTION: &str = "demo/leader";

type Node = Grid<Tokio, Etcd<Tokio>, Tcp>;

/// A leader's ping.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Ping(Fence);

/// A worker: answers pings.
struct Worker;

impl Actor<Tokio> for Worker {
    type Message = Ping;
    type Reply = ();
    type Error = String;

    async fn run(
        self,
        ctx: ActorContext<Tokio>,
        mut inbox: Inbox<Tokio, Ping, (), String>,
    ) -> Result<(), ActorError> {
        while let Some(request) = ctx.next(&mut inbox).await {
            let _ = request.answer(Ok(()));
        }
        Ok(())
    }
}

/// Per term: its node, its fence, when it began, and — once it has pinged enough — every
/// ping's latency.
type Measured = Arc<Mutex<Vec<(NodeId, Fence, Instant, Option<Vec<Duration>>)>>>;

type Instant = <Tokio as Runtime>::Instant;

/// One term: start a worker on every peer, then ping them in turn until `pings` answered;
/// `grid` carries the term's fence.
async fn lead(grid: Node, mut term: Term<Tokio>, pings: usize, measured: Measured) {
    let me = grid.node();
    let index = {
        let mut measured = measured.lock().unwrap();
        measured.push((me, term.fence(), Tokio.now(), None));
        measured.len() - 1
    };
    let peers: Vec<NodeId> = (1..=NODES).map(NodeId).filter(|&n| n != me).collect();
    for &peer in &peers {
        match grid
            .start_actor(peer, "worker", &format!("worker-{}", peer.0))
            .await
        {
            Ok(_) | Err(StartError::Taken { .. }) => {}
            Err(e) => eprintln!("node {}: starting a worker on node {}: {e}", me.0, peer.0),
        }
    }
    let mut latencies = Vec::with_capacity(pings);
    while latencies.len() < pings {
        for &peer in &peers {
            let sent = Tokio.now();
            let name = format!("worker-{}", peer.0);
            let ping = Ping(term.fence());
            let pinged =
                grid.request_on::<Worker>(peer, &name, &ping, Busy::Wait, Duration::from_secs(1));
            sigrelay::select! {
                () = term.ended() => return,
                pinged = pinged => match pinged {
                    Ok(()) => latencies.push(sent.elapsed()),
                    Err(e) => eprintln!("node {}: ping to {name}: {e}", me.0),
                },
            }
        }
    }
    measured.lock().unwrap()[index].3 = Some(latencies);
    term.ended().await;
}

/// The latencies of term `index` once it has pinged enough.
async fn pinged(measured: &Measured, index: usize) -> Vec<Duration> {
    loop {
        let done = measured
            .lock()
            .unwrap()
            .get(index)
            .and_then(|m| m.3.clone());
        if let Some(latencies) = done {
            return latencies;
        }
        Tokio.sleep(Duration::from_millis(20)).await;
    }
}

fn percentiles(latencies: &mut [Duration]) -> String {
    latencies.sort();
    let at = |q: f64| latencies[((latencies.len() - 1) as f64 * q) as usize];
    format!(
        "{} pings: p50 {:?}, p90 {:?}, p99 {:?}, max {:?}",
        latencies.len(),
        at(0.5),
        at(0.9),
        at(0.99),
        at(1.0)
    )
}

fn args() -> (usize, Option<String>) {
    let mut args = std::env::args().skip(1);
    let (mut pings, mut etcd) = (2000, None);
    while let Some(flag) = args.next() {
        let value = args
            .next()
            .unwrap_or_else(|| panic!("{flag} needs a value"));
        match flag.as_str() {
            "--pings" => pings = value.parse().expect("--pings takes a number"),
            "--etcd" => etcd = Some(value),
            other => panic!("unknown flag {other}; flags: --pings N, --etcd HOST:PORT"),
        }
    }
    (pings, etcd)
}

async fn start_nodes(etcd: &str) -> Vec<Node> {
    let credentials = Credentials {
        cluster: 0xde70,
        token: [1; 32],
    };
    let mut listeners = Vec::new();
    let mut map = ClusterMap::new();
    for n in 1..=NODES {
        let listener = Tcp.bind("127.0.0.1:0").await.expect("a free port");
        map = map.with(NodeId(n), listener.local_address().expect("bound"));
        listeners.push(listener);
    }
    let mut nodes = Vec::new();
    for (n, listener) in (1..=NODES).zip(listeners) {
        let peers = Peers::new(Tcp, map.clone(), credentials.clone(), NodeId(n));
        let definitions = Definitions::new().define("worker", 64, |_| Worker);
        let config = GridConfig {
            lease: lease(),
            election: Some(ELECTION.into()),
            ..GridConfig::new("demo")
        };
        let grid = Grid::start(
            Tokio,
            Etcd::new(Tokio, etcd),
            peers,
            listener,
            definitions,
            config,
        );
        let grid = grid.await.expect("the node starts");
        grid.ready().await;
        nodes.push(grid);
    }
    nodes
}

fn lease() -> LeaderConfig {
    LeaderConfig {
        ttl: Duration::from_secs(3),
        keep_alive_every: Duration::from_millis(500),
        margin: Duration::from_secs(1),
        ..LeaderConfig::default()
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let (pings, address) = args();
    let local = address.is_none().then(server::EtcdServer::start);
    let address = address.unwrap_or_else(|| local.as_ref().expect("started").address.clone());
    println!("etcd at {address}; {NODES} nodes on TCP loopback");
    let nodes = start_nodes(&address).await;
    let measured = Measured::default();
    let candidates: Vec<_> = nodes
        .iter()
        .map(|grid| {
            let (grid, measured) = (grid.clone(), measured.clone());
            Tokio.spawn("candidate", async move {
                let forever = std::future::pending::<()>();
                let lead = |fenced, term| lead(fenced, term, pings, measured.clone());
                grid.lead(ELECTION, lease(), forever, lead).await
            })
        })
        .collect();
    let mut first = pinged(&measured, 0).await;
    let (leader, fence, _, _) = measured.lock().unwrap()[0].clone();
    println!(
        "node {} led with fence {}: {}",
        leader.0,
        fence.0,
        percentiles(&mut first)
    );
    candidates[usize::from(leader.0) - 1].abort();
    let died = Tokio.now();
    println!("node {}'s leader task died without resigning", leader.0);
    let mut second = pinged(&measured, 1).await;
    let (next, next_fence, led_at, _) = measured.lock().unwrap()[1].clone();
    println!(
        "node {} leads with fence {}, {:?} after the death (the lease is {:?}): {}",
        next.0,
        next_fence.0,
        led_at.saturating_duration_since(died),
        lease().ttl,
        percentiles(&mut second)
    );
    for candidate in &candidates {
        candidate.abort();
    }
    for node in &nodes {
        let report = node.stop(Duration::from_millis(500)).await;
        assert!(report.is_clean(), "{report}");
    }
}
