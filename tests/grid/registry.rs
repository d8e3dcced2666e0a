//! The registry of cluster-unique names: one claim per live name, released by its fence.

use std::time::Duration;

use sigrelay::grid::registry::{ClaimError, Registry};
use sigrelay::grid::{Coordinator, SimCoordinator};
use sigrelay::rt::prelude::*;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// A live name is taken, naming its holder; released, it can be claimed again with a larger
/// fence; a stale claim's release leaves the new holder alone; a cut node claims nothing.
pub async fn a_live_name_is_taken_until_released<R: Runtime>(rt: R) {
    let coordinator = SimCoordinator::start(&rt);
    let (a, b) = (
        coordinator.client("a", ms(100)),
        coordinator.client("b", ms(100)),
    );
    let (la, lb) = (
        a.grant(ms(10_000)).await.expect("a"),
        b.grant(ms(10_000)).await.expect("b"),
    );
    let (on_a, on_b) = (
        Registry::new(a.clone(), "ns/actors", la),
        Registry::new(b.clone(), "ns/actors", lb),
    );
    let first = on_a.claim("worker", b"a".to_vec()).await.expect("free");
    match on_b.claim("worker", b"b".to_vec()).await {
        Err(ClaimError::Taken(holder)) => {
            assert_eq!((holder.lease, holder.value), (la, b"a".to_vec()))
        }
        other => panic!("two holders: {other:?}"),
    }
    on_a.release(first.clone()).await.expect("held");
    let second = on_b
        .claim("worker", b"b".to_vec())
        .await
        .expect("free again");
    assert!(second.fence > first.fence);
    assert!(
        on_a.release(first).await.is_err(),
        "a stale claim releases nothing"
    );
    let holder = on_a
        .holder("worker")
        .await
        .expect("reachable")
        .expect("held");
    assert_eq!(holder.lease, lb);
    on_b.release(second).await.expect("held");
    a.cut();
    let cut = on_a.claim("worker", vec![]).await;
    assert!(matches!(cut, Err(ClaimError::Coordinator(_))), "{cut:?}");
    a.heal();
    assert_eq!(on_a.holder("worker").await, Ok(None), "nothing was claimed");
}
