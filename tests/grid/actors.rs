//! Actors across nodes: each body written once against `R: Runtime` and `T: Transport`, run
//! on tokio with real TCP on loopback and real time, and in turmoil with its network on
//! virtual time. Three grid nodes share one simulated coordinator.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex as StdMutex};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use sigrelay::grid::{
    Actor, ActorContext, ActorError, Busy, Coordinator, Definitions, Grid, GridConfig, GridError,
    Inbox, LeaderConfig, RequestError, Resend, SimClient, SimCoordinator, StartError, Status,
};
use sigrelay::net::{ClusterMap, Credentials, Listener, Peers, Transport};
use sigrelay::relay::NodeId;
use sigrelay::rt::prelude::*;

const CLUSTER: Credentials = Credentials {
    cluster: 0x9e1d,
    token: [3; 32],
};

pub fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// What the test actor is asked.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum Ask {
    /// Answer `n * 2` after `delay_ms`.
    Double { n: u64, delay_ms: u64 },
    /// Answer with an application error.
    Fail,
    /// Return, leaving what is queued.
    Quit,
    /// Panic.
    Panic,
}

/// Counts of what every test actor did, shared by the test.
#[derive(Debug, Default)]
pub struct Tally {
    by_name: StdMutex<BTreeMap<String, u64>>,
    pub unanswered: AtomicU64,
}

impl Tally {
    /// How many requests each actor took.
    pub fn processed(&self) -> BTreeMap<String, u64> {
        self.by_name
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    fn took(&self, name: &str) {
        let mut by_name = self.by_name.lock().unwrap_or_else(|p| p.into_inner());
        *by_name.entry(name.to_string()).or_default() += 1;
    }
}

/// The test actor: serves `Ask`s until told to quit or to stop. One named `slow-*` takes
/// 2 s more over each doubling; one named `fail-*` answers every doubling with an error.
pub struct Doubler {
    tally: Arc<Tally>,
}

impl<R: Runtime> Actor<R> for Doubler {
    type Message = Ask;
    type Reply = u64;
    type Error = String;

    async fn run(
        self,
        ctx: ActorContext<R>,
        mut inbox: Inbox<R, Ask, u64, String>,
    ) -> Result<(), ActorError> {
        while let Some(request) = ctx.next(&mut inbox).await {
            self.tally.took(ctx.name());
            let answer = match request.message {
                Ask::Double { .. } if ctx.name().starts_with("fail-") => Err("refused".to_string()),
                Ask::Double { n, delay_ms } => {
                    let extra = if ctx.name().starts_with("slow-") {
                        2_000
                    } else {
                        0
                    };
                    ctx.runtime().sleep(ms(delay_ms + extra)).await;
                    Ok(n * 2)
                }
                Ask::Fail => Err("refused".to_string()),
                Ask::Quit => return Ok(()),
                Ask::Panic => panic!("asked to panic"),
            };
            if !request.answer(answer) {
                self.tally.unanswered.fetch_add(1, Ordering::SeqCst);
            }
        }
        Ok(())
    }
}

/// Three nodes of one cluster, each with its coordinator link.
pub struct Cluster<R: Runtime, T: Transport> {
    pub nodes: Vec<Grid<R, SimClient<R>, T>>,
    pub links: Vec<SimClient<R>>,
    pub tally: Arc<Tally>,
}

fn config(election: Option<&str>) -> GridConfig {
    GridConfig {
        lease: LeaderConfig {
            ttl: ms(1000),
            keep_alive_every: ms(200),
            margin: ms(200),
            retry: ms(50),
            ..LeaderConfig::default()
        },
        election: election.map(str::to_string),
        ..GridConfig::new("grid-test")
    }
}

/// Starts three nodes listening on loopback ports of `net`, all leased.
pub async fn cluster<R: Runtime, T: Transport>(
    rt: &R,
    net: T,
    election: Option<&str>,
) -> Cluster<R, T> {
    let coordinator = SimCoordinator::start(rt);
    let mut listeners = Vec::new();
    let mut map = ClusterMap::new();
    for n in 1..=3u16 {
        let listener = net.bind("127.0.0.1:0").await;
        let listener = listener.expect("a free port");
        map = map.with(NodeId(n), listener.local_address().expect("bound"));
        listeners.push(listener);
    }
    let tally = Arc::new(Tally::default());
    let (mut nodes, mut links) = (Vec::new(), Vec::new());
    for (n, listener) in (1..=3u16).zip(listeners) {
        let link = coordinator.client(&format!("node-{n}"), ms(100));
        let peers = Peers::new(net.clone(), map.clone(), CLUSTER, NodeId(n));
        let counted = tally.clone();
        let definitions = Definitions::new().define("doubler", 4, move |_name| Doubler {
            tally: counted.clone(),
        });
        let grid = Grid::start(
            rt.clone(),
            link.clone(),
            peers,
            listener,
            definitions,
            config(election),
        );
        nodes.push(grid.await.expect("the node starts"));
        links.push(link);
    }
    for node in &nodes {
        node.ready().await;
    }
    Cluster {
        nodes,
        links,
        tally,
    }
}

impl<R: Runtime, T: Transport> Cluster<R, T> {
    pub async fn stop(self) {
        for node in &self.nodes {
            let report = node.stop(ms(200)).await;
            assert!(
                report.is_clean(),
                "node {:?} stopped uncleanly: {report}",
                node.node()
            );
        }
    }
}

type Reply = Result<u64, GridError<String>>;

pub async fn double<R: Runtime, T: Transport>(
    grid: &Grid<R, SimClient<R>, T>,
    name: &str,
    n: u64,
) -> Reply {
    let ask = Ask::Double { n, delay_ms: 0 };
    grid.request::<Doubler>(name, &ask, Busy::Wait, ms(500))
        .await
}

/// A name runs once across the cluster; a second start anywhere is refused with its
/// holder; requests reach it from every node; once it quits its name is free again.
pub async fn a_name_runs_once_across_nodes<R: Runtime, T: Transport>(rt: R, net: T) {
    let c = cluster(&rt, net, None).await;
    let fence = c.nodes[0].start_actor(NodeId(1), "doubler", "w").await;
    let fence = fence.expect("the first start wins");
    for from in [0, 1, 2] {
        let second = c.nodes[from].start_actor(NodeId(2), "doubler", "w").await;
        assert_eq!(
            second,
            Err(StartError::Taken {
                node: NodeId(1),
                fence
            })
        );
        assert_eq!(double(&c.nodes[from], "w", 21).await, Ok(42));
    }
    let again = c.nodes[2].start_actor(NodeId(1), "doubler", "w").await;
    assert_eq!(
        again,
        Err(StartError::Taken {
            node: NodeId(1),
            fence
        })
    );
    let unknown = c.nodes[0].start_actor(NodeId(3), "tripler", "t").await;
    assert_eq!(unknown, Err(StartError::UnknownKind("tripler".into())));
    let quit = c.nodes[2]
        .request::<Doubler>("w", &Ask::Quit, Busy::Wait, ms(500))
        .await;
    assert_eq!(
        quit,
        Err(GridError::Mailbox(RequestError::BrokenPromise {
            taken: true
        }))
    );
    let mut moved = c.nodes[1].start_actor(NodeId(2), "doubler", "w").await;
    while matches!(moved, Err(StartError::Taken { .. })) {
        rt.sleep(ms(10)).await;
        moved = c.nodes[1].start_actor(NodeId(2), "doubler", "w").await;
    }
    assert!(
        moved.expect("free once released") > fence,
        "a newer claim has a larger fence"
    );
    assert_eq!(double(&c.nodes[0], "w", 5).await, Ok(10));
    assert_eq!(
        double(&c.nodes[0], "nobody", 5).await,
        Err(GridError::NoActor)
    );
    c.stop().await;
}

/// A panicking actor releases its name, and the panic does not touch the node.
pub async fn a_panicking_actor_releases_its_name<R: Runtime, T: Transport>(rt: R, net: T) {
    let c = cluster(&rt, net, None).await;
    c.nodes[0]
        .start_actor(NodeId(3), "doubler", "p")
        .await
        .expect("started");
    let panicked = c.nodes[0]
        .request::<Doubler>("p", &Ask::Panic, Busy::Wait, ms(500))
        .await;
    assert_eq!(
        panicked,
        Err(GridError::Mailbox(RequestError::BrokenPromise {
            taken: true
        }))
    );
    let mut restarted = c.nodes[0].start_actor(NodeId(3), "doubler", "p").await;
    while matches!(restarted, Err(StartError::Taken { .. })) {
        rt.sleep(ms(10)).await;
        restarted = c.nodes[0].start_actor(NodeId(3), "doubler", "p").await;
    }
    restarted.expect("the name is free after the panic");
    assert_eq!(double(&c.nodes[1], "p", 1).await, Ok(2));
    c.stop().await;
}

/// Requests still queued when the actor quits are answered with a broken promise at once
/// — not processed — while the one it took is reported as maybe processed.
pub async fn queued_requests_of_an_exiting_actor_are_broken_promises<R: Runtime, T: Transport>(
    rt: R,
    net: T,
) {
    let c = cluster(&rt, net, None).await;
    c.nodes[0]
        .start_actor(NodeId(2), "doubler", "q")
        .await
        .expect("started");
    let slow = Ask::Double {
        n: 1,
        delay_ms: 300,
    };
    let grid = c.nodes[0].clone();
    let first = rt.spawn("first", {
        let grid = grid.clone();
        async move {
            grid.request::<Doubler>("q", &slow, Busy::Wait, ms(5_000))
                .await
        }
    });
    rt.sleep(ms(50)).await;
    let quit = rt.spawn("quit", {
        let grid = grid.clone();
        async move {
            grid.request::<Doubler>("q", &Ask::Quit, Busy::Wait, ms(5_000))
                .await
        }
    });
    rt.sleep(ms(50)).await;
    let started = rt.now();
    let queued: Vec<_> = (0..2)
        .map(|i| {
            let grid = c.nodes[1 + i].clone();
            rt.spawn("queued", async move { double(&grid, "q", 7).await })
        })
        .collect();
    assert_eq!(first.await.expect("ran"), Ok(2));
    assert_eq!(
        quit.await.expect("ran"),
        Err(GridError::Mailbox(RequestError::BrokenPromise {
            taken: true
        }))
    );
    for queued in queued {
        let broken = queued.await.expect("ran");
        assert_eq!(
            broken,
            Err(GridError::Mailbox(RequestError::BrokenPromise {
                taken: false
            }))
        );
    }
    assert!(
        rt.now().saturating_duration_since(started) < ms(500),
        "answered before their timeout"
    );
    assert_eq!(
        c.tally.processed().get("q"),
        Some(&2),
        "the slow one and the quit"
    );
    c.stop().await;
}

/// `fastest` returns the quick member's answer, not the first member's, and cancels the
/// slow ones, whose answers then go nowhere.
pub async fn fastest_returns_the_first_answer_and_cancels_the_rest<R: Runtime, T: Transport>(
    rt: R,
    net: T,
) {
    let c = cluster(&rt, net, None).await;
    let members: Vec<String> = ["slow-1", "quick", "slow-2"].map(String::from).into();
    for (i, name) in members.iter().enumerate() {
        let node = NodeId(i as u16 + 1);
        c.nodes[i]
            .start_actor(node, "doubler", name)
            .await
            .expect("started");
    }
    let ask = Ask::Double { n: 4, delay_ms: 0 };
    let first = c.nodes[0]
        .fastest::<Doubler>(&members, &ask, ms(5_000))
        .await;
    assert_eq!(first, Ok(("quick".to_string(), 8)));
    while c.tally.unanswered.load(Ordering::SeqCst) < 2 {
        rt.sleep(ms(50)).await;
    }
    assert_eq!(
        c.tally.processed(),
        [("quick", 1), ("slow-1", 1), ("slow-2", 1)]
            .map(|(n, k)| (n.to_string(), k))
            .into()
    );
    c.stop().await;
}

/// `all` gives one status per member; `resend` reaches a member started late and never
/// sends again to one that answered with an application error.
pub async fn all_and_resend_reach_every_member_once<R: Runtime, T: Transport>(rt: R, net: T) {
    let c = cluster(&rt, net, None).await;
    let members: Vec<String> = ["m-1", "m-late", "fail-1"].map(String::from).into();
    c.nodes[0]
        .start_actor(NodeId(1), "doubler", "m-1")
        .await
        .expect("started");
    c.nodes[1]
        .start_actor(NodeId(3), "doubler", "fail-1")
        .await
        .expect("started");
    let grid = c.nodes[1].clone();
    let ask = Ask::Double { n: 3, delay_ms: 0 };
    let statuses = grid.all::<Doubler>(&members, &ask, ms(500)).await;
    let expected = vec![
        ("m-1".to_string(), Status::Answered(6)),
        ("m-late".to_string(), Status::NotAttempted),
        (
            "fail-1".to_string(),
            Status::Failed(GridError::Mailbox(RequestError::Application(
                "refused".into(),
            ))),
        ),
    ];
    assert_eq!(statuses, expected);
    c.nodes[2]
        .start_actor(NodeId(2), "doubler", "m-late")
        .await
        .expect("started");
    let statuses = grid
        .resend::<Doubler>(statuses, &ask, ms(500), Resend::NotDelivered)
        .await;
    assert_eq!(statuses[1], ("m-late".to_string(), Status::Answered(6)));
    assert_eq!((&statuses[0], &statuses[2]), (&expected[0], &expected[2]));
    let processed = c.tally.processed();
    assert_eq!(
        processed.get("fail-1"),
        Some(&1),
        "an application error is never re-sent"
    );
    assert_eq!(
        processed.get("m-1"),
        Some(&1),
        "an answered member is never re-sent"
    );
    assert_eq!(
        c.nodes[0].members("m-").await.expect("listed"),
        ["m-1", "m-late"]
    );
    c.stop().await;
}

/// A fenced call is accepted from the current leader and refused, with the newest fence,
/// once its candidacy has ended and another leads.
pub async fn a_deposed_leaders_calls_are_refused<R: Runtime, T: Transport>(rt: R, net: T) {
    let c = cluster(&rt, net, Some("grid-test/leader")).await;
    c.nodes[0]
        .start_actor(NodeId(2), "doubler", "w")
        .await
        .expect("started");
    let coordinator = &c.links[0];
    let old = coordinator.grant(ms(10_000)).await.expect("granted");
    let old_fence = coordinator
        .campaign("grid-test/leader", vec![1], old)
        .await
        .expect("leads");
    rt.sleep(ms(50)).await;
    let ask = Ask::Double { n: 1, delay_ms: 0 };
    let call = |fence| {
        let grid = c.nodes[0].fenced(fence);
        let ask = ask.clone();
        async move {
            grid.request::<Doubler>("w", &ask, Busy::Wait, ms(500))
                .await
        }
    };
    assert_eq!(call(old_fence).await, Ok(2));
    let new = coordinator.grant(ms(10_000)).await.expect("granted");
    let standing = coordinator.campaign("grid-test/leader", vec![2], new);
    let (revoked, new_fence) = futures::join!(coordinator.revoke(old), standing);
    revoked.expect("revoked");
    let new_fence = new_fence.expect("leads next");
    rt.sleep(ms(50)).await;
    assert_eq!(
        call(old_fence).await,
        Err(GridError::Stale { newest: new_fence })
    );
    assert_eq!(call(new_fence).await, Ok(2));
    c.stop().await;
}

/// A node cut off from the coordinator stops its actors before its lease can end: seen from
/// another node, the actor answers for a while, then stops answering, and only after that
/// can another node start the name. Healed, the cut node serves starts again on a new lease.
pub async fn a_cut_node_stops_its_actors_before_its_lease_ends<R: Runtime, T: Transport>(
    rt: R,
    net: T,
) {
    let c = cluster(&rt, net, None).await;
    c.nodes[0]
        .start_actor(NodeId(1), "doubler", "w")
        .await
        .expect("started");
    assert_eq!(double(&c.nodes[1], "w", 2).await, Ok(4));
    c.links[0].cut();
    let mut silent = false;
    loop {
        let seen = double(&c.nodes[1], "w", 2).await;
        assert!(
            !(silent && seen.is_ok()),
            "the cut actor answered again after it stopped"
        );
        silent |= seen.is_err();
        let taken_over = c.nodes[1].start_actor(NodeId(2), "doubler", "w").await;
        if taken_over.is_ok() {
            assert!(
                silent,
                "another node started the name while the cut actor answered"
            );
            break;
        }
        rt.sleep(ms(20)).await;
    }
    assert_eq!(double(&c.nodes[2], "w", 3).await, Ok(6));
    c.links[0].heal();
    rt.sleep(ms(100)).await;
    c.nodes[0].ready().await;
    c.nodes[0]
        .start_actor(NodeId(1), "doubler", "v")
        .await
        .expect("a new generation serves");
    c.stop().await;
}
