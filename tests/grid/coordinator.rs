//! The simulated coordinator: leases on runtime time, fenced unique registration, ordered
//! watches, elections, and what a client cut off from it is told.

use std::time::Duration;

use sigrelay::grid::{CoordError, Coordinator, SimClient, SimCoordinator, WatchEvent};
use sigrelay::rt::prelude::*;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn client<R: Runtime>(coordinator: &SimCoordinator<R>, name: &str) -> SimClient<R> {
    coordinator.client(name, ms(100))
}

/// A lease of 1 s kept alive at 0.5 s lives until 1.5 s; its key goes with it. A revoked
/// lease takes its keys at once.
pub async fn leases_expire_on_runtime_time<R: Runtime>(rt: R) {
    let coordinator = SimCoordinator::start(&rt);
    let node = client(&coordinator, "node");
    let lease = node.grant(ms(1000)).await.expect("granted");
    node.register("ns/a", b"here".to_vec(), lease)
        .await
        .expect("free");
    rt.sleep(ms(500)).await;
    assert_eq!(node.keep_alive(lease).await, Ok(ms(1000)));
    rt.sleep(ms(999)).await;
    assert!(
        node.get("ns/a").await.expect("reachable").is_some(),
        "alive at 1.499 s"
    );
    rt.sleep(ms(2)).await;
    assert_eq!(node.get("ns/a").await, Ok(None), "gone at 1.501 s");
    assert_eq!(
        node.keep_alive(lease).await,
        Err(CoordError::LeaseGone(lease))
    );
    let second = node.grant(ms(1000)).await.expect("granted");
    node.register("ns/b", vec![], second).await.expect("free");
    node.revoke(second).await.expect("live");
    assert_eq!(node.get("ns/b").await, Ok(None));
}

/// One holder per key; the holder re-registering gets its fence back; deregistration goes
/// by fence, so a stale holder cannot delete its successor's key (the Go grid's #170).
pub async fn registration_is_unique_and_fenced<R: Runtime>(rt: R) {
    let coordinator = SimCoordinator::start(&rt);
    let (a, b) = (client(&coordinator, "a"), client(&coordinator, "b"));
    let (la, lb) = (
        a.grant(ms(1000)).await.expect("a"),
        b.grant(ms(1000)).await.expect("b"),
    );
    let first = a.register("ns/x", b"a".to_vec(), la).await.expect("free");
    match b.register("ns/x", b"b".to_vec(), lb).await {
        Err(CoordError::Taken(holder)) => assert_eq!((holder.lease, holder.fence), (la, first)),
        other => panic!("a second holder: {other:?}"),
    }
    assert_eq!(
        a.register("ns/x", b"a".to_vec(), la).await,
        Ok(first),
        "the same fence"
    );
    a.revoke(la).await.expect("live");
    let second = b
        .register("ns/x", b"b".to_vec(), lb)
        .await
        .expect("free again");
    assert!(second > first, "a newer holder has a larger fence");
    let stale = a.deregister("ns/x", first).await;
    assert!(
        matches!(stale, Err(CoordError::NotOwner { .. })),
        "{stale:?}"
    );
    let held = b.get("ns/x").await.expect("reachable").expect("still held");
    assert_eq!(
        (held.lease, held.fence, held.value),
        (lb, second, b"b".to_vec())
    );
    b.deregister("ns/x", second).await.expect("the holder");
    assert_eq!(b.get("ns/x").await, Ok(None));
}

/// A watch gets a snapshot, then every change under its prefix in order — a put, a
/// deregistration, a lease expiry — and nothing from other prefixes.
pub async fn watch_sees_changes_in_order<R: Runtime>(rt: R) {
    let coordinator = SimCoordinator::start(&rt);
    let node = client(&coordinator, "node");
    let lease = node.grant(ms(1000)).await.expect("granted");
    let before = node.register("ns/old", vec![], lease).await.expect("free");
    let (snapshot, mut changes) = node.watch("ns/").await.expect("reachable");
    assert_eq!(
        snapshot.iter().map(|r| r.fence).collect::<Vec<_>>(),
        [before]
    );
    let short = node.grant(ms(200)).await.expect("granted");
    let put = node.register("ns/new", vec![1], short).await.expect("free");
    node.register("other/x", vec![], lease).await.expect("free");
    node.deregister("ns/old", before).await.expect("held");
    let mut seen = Vec::new();
    for _ in 0..3 {
        seen.push(changes.recv().await.expect("the watch is open"));
    }
    assert!(matches!(&seen[0], WatchEvent::Put(r) if r.key == "ns/new" && r.fence == put));
    assert_eq!(
        seen[1],
        WatchEvent::Delete {
            key: "ns/old".into(),
            fence: before
        }
    );
    assert_eq!(
        seen[2],
        WatchEvent::Delete {
            key: "ns/new".into(),
            fence: put
        },
        "expired"
    );
}

/// The first candidate leads at once; the second leads exactly when the first's lease
/// ends, with a larger fence; a resignation leaves no leader.
pub async fn election_follows_standing_order_and_lease_expiry<R: Runtime>(rt: R) {
    let start = rt.now();
    let coordinator = SimCoordinator::start(&rt);
    let (a, b) = (client(&coordinator, "a"), client(&coordinator, "b"));
    let la = a.grant(ms(1000)).await.expect("a");
    let lb = b.grant(ms(5000)).await.expect("b");
    let fa = a
        .campaign("ns/leader", b"a".to_vec(), la)
        .await
        .expect("leads at once");
    let second = b.clone();
    let waiting = rt.spawn("b-campaign", async move {
        second.campaign("ns/leader", b"b".to_vec(), lb).await
    });
    rt.sleep(ms(10)).await;
    let leader = a
        .leader("ns/leader")
        .await
        .expect("reachable")
        .expect("a leads");
    assert_eq!((leader.fence, leader.value), (fa, b"a".to_vec()));
    let fb = waiting.await.expect("b's campaign ends").expect("b leads");
    assert_eq!(rt.now(), start + ms(1000), "when a's lease ended");
    assert!(fb > fa);
    b.resign("ns/leader", fb).await.expect("b leads");
    assert_eq!(b.leader("ns/leader").await, Ok(None));
}

/// A campaign given up withdraws its candidacy: when the leader resigns, the candidate
/// who stood after it leads, not the one who left.
pub async fn a_dropped_campaign_withdraws<R: Runtime>(rt: R) {
    let coordinator = SimCoordinator::start(&rt);
    let (a, b, c) = (
        client(&coordinator, "a"),
        client(&coordinator, "b"),
        client(&coordinator, "c"),
    );
    let la = a.grant(ms(10_000)).await.expect("a");
    let lb = b.grant(ms(10_000)).await.expect("b");
    let lc = c.grant(ms(10_000)).await.expect("c");
    let fa = a.campaign("ns/leader", vec![], la).await.expect("a leads");
    assert!(rt
        .timeout(ms(10), b.campaign("ns/leader", vec![], lb))
        .await
        .is_err());
    let third = c.clone();
    let waiting = rt.spawn("c-campaign", async move {
        third.campaign("ns/leader", vec![], lc).await
    });
    rt.sleep(ms(10)).await;
    a.resign("ns/leader", fa).await.expect("a leads");
    let fc = waiting.await.expect("c's campaign ends").expect("c leads");
    let leader = c
        .leader("ns/leader")
        .await
        .expect("reachable")
        .expect("c leads");
    assert_eq!((leader.lease, leader.fence), (lc, fc));
}

/// A cut client's calls fail as unavailable after its timeout, applying nothing; an answer
/// that comes back over a cut link is "maybe applied" — and re-reading after the heal shows
/// it was.
pub async fn a_cut_client_learns_what_it_cannot_know<R: Runtime>(rt: R) {
    let coordinator = SimCoordinator::start(&rt);
    let (a, b) = (client(&coordinator, "a"), client(&coordinator, "b"));
    let la = a.grant(ms(10_000)).await.expect("a");
    let lb = b.grant(ms(10_000)).await.expect("b");
    b.cut();
    let start = rt.now();
    assert_eq!(
        b.register("ns/x", vec![], lb).await,
        Err(CoordError::Unavailable)
    );
    assert_eq!(rt.now(), start + ms(100));
    b.heal();
    assert_eq!(b.get("ns/x").await, Ok(None), "nothing was applied");
    let fa = a.campaign("ns/leader", vec![], la).await.expect("a leads");
    let second = b.clone();
    let waiting = rt.spawn("b-campaign", async move {
        second.campaign("ns/leader", vec![], lb).await
    });
    rt.sleep(ms(10)).await;
    b.cut();
    a.resign("ns/leader", fa).await.expect("a leads");
    let answer = waiting.await.expect("b's campaign ends");
    assert_eq!(answer, Err(CoordError::MaybeApplied));
    b.heal();
    let leader = b
        .leader("ns/leader")
        .await
        .expect("reachable")
        .expect("someone leads");
    assert_eq!(leader.lease, lb, "the campaign was applied: b leads");
}

/// The registration kernel for loom: a second lease cannot take a held key, and takes it
/// with a larger fence once the first lets go.
pub async fn registration_kernel<R: Runtime>(rt: R) {
    let coordinator = SimCoordinator::start(&rt);
    let node = client(&coordinator, "node");
    let (la, lb) = (
        node.grant(ms(1000)).await.expect("a"),
        node.grant(ms(1000)).await.expect("b"),
    );
    let first = node.register("ns/x", vec![], la).await.expect("free");
    assert!(matches!(
        node.register("ns/x", vec![], lb).await,
        Err(CoordError::Taken(_))
    ));
    node.deregister("ns/x", first).await.expect("held");
    let second = node.register("ns/x", vec![], lb).await.expect("free again");
    assert!(second > first);
}

/// A watcher cut off when an event comes, or more than the watch buffer behind, has its
/// stream ended; it watches again to catch up from a new snapshot.
pub async fn a_watch_ends_when_cut_off_or_too_far_behind<R: Runtime>(rt: R) {
    use sigrelay::grid::simulated::WATCH_BUFFER;
    let coordinator = SimCoordinator::start(&rt);
    let (writer, watcher) = (
        client(&coordinator, "writer"),
        client(&coordinator, "watcher"),
    );
    let lease = writer.grant(ms(10_000)).await.expect("granted");
    let (_, mut cut_off) = watcher.watch("ns/").await.expect("reachable");
    watcher.cut();
    writer.register("ns/a", vec![], lease).await.expect("free");
    assert_eq!(cut_off.recv().await, None, "the cut watcher's stream ended");
    watcher.heal();
    let (snapshot, mut behind) = watcher.watch("ns/").await.expect("reachable");
    assert_eq!(snapshot.len(), 1);
    for n in 0..=WATCH_BUFFER {
        writer
            .register(&format!("ns/k{n}"), vec![], lease)
            .await
            .expect("free");
    }
    let mut seen = 0;
    while behind.recv().await.is_some() {
        seen += 1;
    }
    assert_eq!(seen, WATCH_BUFFER, "the buffer's worth, then the end");
}
