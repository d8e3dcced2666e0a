//! The etcd coordinator against a real etcd server on loopback: the coordinator's
//! semantics (unique fenced registration, deregistration by fence, ordered watches with
//! fences, leases), the fenced leader's failover when a leader dies, and cluster-unique
//! actor names across two grid nodes on real TCP.

mod server;

use std::future::{poll_fn, Future};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_core::Stream;
use serde::{Deserialize, Serialize};
use sigrelay::grid::etcd::Etcd;
use sigrelay::grid::{
    Actor, ActorContext, ActorError, Busy, Candidate, CoordError, Coordinator, Definitions, Fence,
    Grid, GridConfig, Inbox, LeaderConfig, StartError, WatchEvent,
};
use sigrelay::net::{ClusterMap, Credentials, Listener, Peers, Tcp, Transport};
use sigrelay::relay::NodeId;
use sigrelay::rt::prelude::*;
use sigrelay::rt::Tokio;

use self::server::EtcdServer;

fn on_tokio<F: Future<Output = ()>>(body: impl FnOnce(Tokio) -> F) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build();
    let rt = rt.expect("a runtime builds");
    let finished = rt.block_on(async { Tokio.timeout(Duration::from_secs(90), body(Tokio)).await });
    assert!(finished.is_ok(), "the body did not finish within 90 s");
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

async fn next<S: Stream + Unpin>(stream: &mut S) -> Option<S::Item> {
    poll_fn(|cx| Pin::new(&mut *stream).poll_next(cx)).await
}

#[test]
fn registration_is_unique_fenced_and_watched() {
    let etcd = EtcdServer::start();
    on_tokio(|rt| async move {
        let coordinator = Etcd::new(rt, &etcd.address);
        let (a, b) = (
            coordinator.grant(ms(10_000)).await.unwrap(),
            coordinator.grant(ms(10_000)).await.unwrap(),
        );
        assert_ne!(a, b);
        let (snapshot, mut watch) = coordinator.watch("ns/").await.expect("watching");
        assert!(snapshot.is_empty());
        let fence = coordinator
            .register("ns/x", b"one".to_vec(), a)
            .await
            .expect("free");
        assert_eq!(
            coordinator.register("ns/x", b"one".to_vec(), a).await,
            Ok(fence),
            "its own key again"
        );
        let taken = coordinator.register("ns/x", b"two".to_vec(), b).await;
        let Err(CoordError::Taken(holder)) = taken else {
            panic!("{taken:?}")
        };
        assert_eq!(
            (holder.lease, holder.fence, holder.value.as_slice()),
            (a, fence, &b"one"[..])
        );
        let wrong = coordinator.deregister("ns/x", Fence(fence.0 + 100)).await;
        assert!(
            matches!(wrong, Err(CoordError::NotOwner { .. })),
            "{wrong:?}"
        );
        assert_eq!(
            coordinator.get("ns/x").await.unwrap().map(|r| r.fence),
            Some(fence)
        );
        coordinator
            .deregister("ns/x", fence)
            .await
            .expect("by its fence");
        let again = coordinator
            .register("ns/x", b"two".to_vec(), b)
            .await
            .expect("free again");
        assert!(again > fence, "a newer holder has a larger fence");
        coordinator.revoke(b).await.expect("revoked");
        assert_eq!(
            coordinator.get("ns/x").await,
            Ok(None),
            "a revoked lease takes its keys"
        );
        assert_eq!(
            coordinator.keep_alive(b).await,
            Err(CoordError::LeaseGone(b))
        );
        let mut seen = Vec::new();
        while seen.len() < 4 {
            seen.push(next(&mut watch).await.expect("events"));
        }
        let fences: Vec<_> = seen
            .iter()
            .map(|e| match e {
                WatchEvent::Put(r) => ("put", r.fence),
                WatchEvent::Delete { fence, .. } => ("delete", *fence),
            })
            .collect();
        assert_eq!(
            fences,
            [
                ("put", fence),
                ("delete", fence),
                ("put", again),
                ("delete", again)
            ]
        );
        assert!(coordinator.keep_alive(a).await.expect("alive") >= Duration::from_secs(9));
    });
}

/// Leader A's task dies without resigning. etcd ends A's lease no sooner than a lease
/// after A's last keep-alive, and deletes its candidacy; B, standing behind it, leads
/// within a second of that delete, with a larger fence.
///
/// How long etcd takes to act on an expired lease is etcd's (it retries a revoke every
/// 3 s, and a slow disk delays it), so the takeover is timed from the delete B's
/// campaign waits for, and etcd's own delay only has a generous bound.
#[test]
fn a_dead_leaders_successor_takes_over_when_its_lease_ends() {
    let etcd = EtcdServer::start();
    on_tokio(|rt| async move {
        let config = LeaderConfig {
            ttl: ms(3_000),
            keep_alive_every: ms(500),
            margin: ms(1_000),
            retry: ms(100),
            ..LeaderConfig::default()
        };
        type Led = Arc<Mutex<Vec<(&'static str, Fence, Duration)>>>;
        let led: Led = Arc::default();
        let start = rt.now();
        let stand = |name: &'static str| {
            let candidate = Candidate::new(
                rt,
                Etcd::new(rt, &etcd.address),
                "ns/leader",
                name.into(),
                config,
            );
            let (led, clock) = (led.clone(), rt);
            rt.spawn(name, async move {
                let forever = std::future::pending::<()>();
                candidate
                    .run(forever, |mut term| {
                        let (led, clock) = (led.clone(), clock);
                        async move {
                            let at = clock.now().saturating_duration_since(start);
                            led.lock().unwrap().push((name, term.fence(), at));
                            term.ended().await;
                        }
                    })
                    .await
            })
        };
        let a = stand("a");
        while led.lock().unwrap().is_empty() {
            rt.sleep(ms(20)).await;
        }
        let observer = Etcd::new(rt, &etcd.address);
        let (candidacies, mut watch) = observer.watch("ns/leader/").await.expect("watching");
        let a_key = candidacies
            .iter()
            .find(|c| c.value == b"a")
            .map(|c| c.key.clone())
            .expect("A's candidacy is in etcd");
        let b = stand("b");
        rt.sleep(ms(500)).await;
        a.abort();
        let died = rt.now().saturating_duration_since(start);
        let deleted = loop {
            match next(&mut watch).await.expect("the watch stays open") {
                WatchEvent::Delete { key, .. } if key == a_key => {
                    break rt.now().saturating_duration_since(start);
                }
                _ => {}
            }
        };
        while led.lock().unwrap().len() < 2 {
            rt.sleep(ms(20)).await;
        }
        let led = led.lock().unwrap().clone();
        assert_eq!((led[0].0, led[1].0), ("a", "b"));
        assert!(led[1].1 > led[0].1, "fences grow: {led:?}");
        let expired = deleted.saturating_sub(died);
        let earliest = config.ttl - 2 * config.keep_alive_every;
        assert!(
            (earliest..ms(30_000)).contains(&expired),
            "etcd ended A's lease {expired:?} after the death"
        );
        assert!(
            led[1].2 <= deleted + ms(1_000),
            "B led at {:?}, A's candidacy was deleted at {deleted:?}",
            led[1].2
        );
        b.abort();
    });
}

/// What the test actor is asked.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Twice(u64);

struct Doubler;

impl<R: Runtime> Actor<R> for Doubler {
    type Message = Twice;
    type Reply = u64;
    type Error = String;

    async fn run(
        self,
        ctx: ActorContext<R>,
        mut inbox: Inbox<R, Twice, u64, String>,
    ) -> Result<(), ActorError> {
        while let Some(request) = ctx.next(&mut inbox).await {
            let Twice(n) = request.message;
            let _ = request.answer(Ok(n * 2));
        }
        Ok(())
    }
}

/// Two grid nodes on real TCP share the etcd: a name started on one is refused on the
/// other, answers from both, and is free again once its node stops (its lease revoked).
#[test]
fn actor_names_are_unique_across_nodes() {
    let etcd = EtcdServer::start();
    on_tokio(|rt| async move {
        let credentials = Credentials {
            cluster: 0xe7cd,
            token: [5; 32],
        };
        let mut listeners = Vec::new();
        let mut map = ClusterMap::new();
        for n in 1..=2u16 {
            let listener = Tcp.bind("127.0.0.1:0").await.expect("a free port");
            map = map.with(NodeId(n), listener.local_address().unwrap());
            listeners.push(listener);
        }
        let mut nodes = Vec::new();
        for (n, listener) in (1..=2u16).zip(listeners) {
            let peers = Peers::new(Tcp, map.clone(), credentials.clone(), NodeId(n));
            let definitions = Definitions::new().define("doubler", 8, |_| Doubler);
            let config = GridConfig {
                lease: LeaderConfig {
                    ttl: ms(3_000),
                    keep_alive_every: ms(500),
                    margin: ms(1_000),
                    ..LeaderConfig::default()
                },
                ..GridConfig::new("etcd-test")
            };
            let coordinator = Etcd::new(rt, &etcd.address);
            let grid = Grid::start(rt, coordinator, peers, listener, definitions, config)
                .await
                .unwrap();
            grid.ready().await;
            nodes.push(grid);
        }
        let fence = nodes[0]
            .start_actor(NodeId(1), "doubler", "w")
            .await
            .expect("the first start wins");
        let second = nodes[1].start_actor(NodeId(2), "doubler", "w").await;
        assert_eq!(
            second,
            Err(StartError::Taken {
                node: NodeId(1),
                fence
            })
        );
        for node in &nodes {
            let answer = node
                .request::<Doubler>("w", &Twice(21), Busy::Wait, ms(2_000))
                .await;
            assert_eq!(answer, Ok(42));
        }
        let report = nodes[0].stop(ms(500)).await;
        assert!(report.is_clean(), "{report}");
        let moved = nodes[1]
            .start_actor(NodeId(2), "doubler", "w")
            .await
            .expect("free once its node stopped");
        assert!(moved > fence);
        assert_eq!(
            nodes[1]
                .request::<Doubler>("w", &Twice(2), Busy::Wait, ms(2_000))
                .await,
            Ok(4)
        );
        let report = nodes[1].stop(ms(500)).await;
        assert!(report.is_clean(), "{report}");
    });
}

/// A campaign dropped while it waits is withdrawn: once the leader resigns, nobody leads.
#[test]
fn a_dropped_campaign_is_withdrawn() {
    let etcd = EtcdServer::start();
    on_tokio(|rt| async move {
        let coordinator = Etcd::new(rt, &etcd.address);
        let (a, b) = (
            coordinator.grant(ms(10_000)).await.unwrap(),
            coordinator.grant(ms(10_000)).await.unwrap(),
        );
        let leads = coordinator.campaign("ns/drop", b"a".to_vec(), a).await;
        let fence = leads.expect("a leads at once");
        let waiting = coordinator.campaign("ns/drop", b"b".to_vec(), b);
        assert!(
            rt.timeout(ms(300), waiting).await.is_err(),
            "b waits behind a"
        );
        rt.sleep(ms(300)).await;
        coordinator
            .resign("ns/drop", fence)
            .await
            .expect("a resigns");
        rt.sleep(ms(300)).await;
        assert_eq!(
            coordinator.leader("ns/drop").await,
            Ok(None),
            "b withdrew when dropped"
        );
    });
}
