//! Bodies for the primitives the patterns build on: the receiver as a stream, the counting
//! semaphore, the interval, `timeout_at` and `Sender::closed`.

use std::future::poll_fn;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use futures_core::Stream;
use sigrelay::rt::{Instant, JoinHandle, OneshotSender, Receiver, Runtime, Semaphore, Sender};

const MS: Duration = Duration::from_millis(1);

async fn next<S: Stream + Unpin>(stream: &mut S) -> Option<S::Item> {
    poll_fn(|cx| Pin::new(&mut *stream).poll_next(cx)).await
}

/// The receiver yields what `recv` would, in order, and ends once every sender is gone.
pub async fn receiver_streams_until_closed<R: Runtime>(rt: R) {
    let (tx, mut rx) = rt.channel::<u32>("streamed", 1);
    let producer = rt.spawn("producer", async move {
        for i in 1..=3 {
            tx.send(i).await.expect("the receiver is alive");
        }
    });
    let mut got = Vec::new();
    while let Some(v) = next(&mut rx).await {
        got.push(v);
    }
    assert_eq!(got, [1, 2, 3]);
    assert_eq!(next(&mut rx).await, None);
    producer.await.expect("the producer completes");
}

/// A queued request for two permits collects a released one and holds it, so a later
/// `try_acquire(1)` cannot jump the queue; the permits come back when dropped.
pub async fn semaphore_serves_requests_in_order<R: Runtime>(rt: R) {
    let semaphore = Arc::new(rt.semaphore("pool", 3));
    let held = semaphore.acquire(2).await;
    assert_eq!(semaphore.available_permits(), 1);
    let (granted_tx, granted_rx) = rt.oneshot::<()>("granted");
    let (big_sem, clock) = (semaphore.clone(), rt.clone());
    let big = rt.spawn("big", async move {
        let permits = big_sem.acquire(2).await;
        granted_tx.send(()).expect("main waits for the grant");
        clock.sleep(MS).await;
        drop(permits);
    });
    rt.sleep(MS).await;
    assert_eq!(
        semaphore.available_permits(),
        0,
        "the queued request collects"
    );
    assert!(semaphore.try_acquire(1).is_none(), "no jumping the queue");
    drop(held);
    granted_rx.await.expect("the big request is granted");
    assert_eq!(semaphore.available_permits(), 1);
    let one = semaphore.try_acquire(1).expect("one permit is free");
    big.await.expect("the big request completes");
    drop(one);
    assert_eq!(semaphore.available_permits(), 3);
    assert!(semaphore.try_acquire(4).is_none());
    semaphore.add_permits(1);
    let all = semaphore.acquire(4).await;
    assert_eq!(semaphore.available_permits(), 0);
    drop(all);
}

/// A request given up while a holder releases at the same instant gives back what it
/// collected: afterwards every permit can be taken again.
pub async fn cancelled_acquire_gives_back_what_it_collected<R: Runtime>(rt: R) {
    let semaphore = Arc::new(rt.semaphore("pool", 2));
    let first = semaphore.acquire(1).await;
    assert!(rt.timeout(MS, semaphore.acquire(2)).await.is_err());
    assert_eq!(semaphore.available_permits(), 1);
    drop(first);

    let (holder_sem, clock) = (semaphore.clone(), rt.clone());
    let (held_tx, held_rx) = rt.oneshot::<()>("held");
    let holder = rt.spawn("holder", async move {
        let permit = holder_sem.acquire(1).await;
        held_tx.send(()).expect("main waits for the holder");
        clock.sleep(MS).await;
        drop(permit);
    });
    held_rx.await.expect("the holder takes a permit");
    let won = sigrelay::select! {
        () = rt.sleep(MS) => false,
        _both = semaphore.acquire(2) => true,
    };
    holder.await.expect("the holder lets go");
    let _ = won;
    assert_eq!(semaphore.available_permits(), 2);
    let both = semaphore.acquire(2).await;
    drop(both);
}

/// Ticks on a fixed grid; after a stall, one late tick at once, the passed grid points
/// skipped and counted, then the grid again.
pub async fn interval_skips_missed_ticks<R: Runtime>(rt: R) {
    let period = 10 * MS;
    let start = rt.now();
    let mut ticks = rt.interval(period);
    assert_eq!(ticks.tick().await, start);
    assert_eq!(ticks.tick().await, start + period);
    assert_eq!(rt.now(), start + period);
    rt.sleep(35 * MS).await;
    assert_eq!(ticks.tick().await, start + 2 * period, "one late tick");
    assert_eq!(rt.now(), start + 45 * MS, "fired at once");
    assert_eq!(ticks.skipped(), 2, "30 ms and 40 ms were skipped");
    assert!(rt.timeout(2 * MS, ticks.tick()).await.is_err());
    assert_eq!(ticks.tick().await, start + 5 * period, "back on the grid");
    assert_eq!(rt.now(), start + 5 * period);
}

/// `timeout_at` gives up exactly at its deadline, and lets a future ready then complete.
pub async fn timeout_at_fires_at_the_deadline<R: Runtime>(rt: R) {
    let deadline = rt.now() + 5 * MS;
    assert!(rt.timeout_at(deadline, rt.sleep(10 * MS)).await.is_err());
    assert_eq!(rt.now(), deadline);
    let later = deadline + 5 * MS;
    assert!(rt.timeout_at(later, rt.sleep_until(later)).await.is_ok());
    let past = rt.now();
    assert!(rt.timeout_at(past, rt.sleep(MS)).await.is_err());
    assert_eq!(rt.now().saturating_duration_since(later), Duration::ZERO);
}

/// `closed` wakes a producer when the receiver goes; a `closed` given up leaves nothing.
pub async fn sender_closed_wakes_when_receiver_goes<R: Runtime>(rt: R) {
    let (tx, rx) = rt.channel::<u32>("watched", 1);
    assert!(rt.timeout(MS, tx.closed()).await.is_err());
    let watcher = rt.spawn("watcher", async move {
        tx.closed().await;
        assert!(tx.is_closed());
        tx.send(1).await.expect_err("the receiver is gone")
    });
    rt.sleep(MS).await;
    assert!(!watcher.is_finished());
    drop(rx);
    assert_eq!(watcher.await.expect("the watcher completes").0, 1);

    let (tx, mut rx) = rt.channel::<u32>("closed-by-receiver", 1);
    let watcher = rt.spawn("watcher", async move { tx.closed().await });
    rt.sleep(MS).await;
    rx.close();
    watcher.await.expect("close wakes the watcher");
}
