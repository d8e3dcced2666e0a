//! The bodies of the conformance suite, each written once against `R: Runtime`.
//!
//! Each body is small (at most four spawned tasks, a handful of operations) so that loom can
//! explore it exhaustively within its preemption bound.

use std::time::Duration;

use sigrelay::rt::{
    Instant, JoinError, JoinHandle, Mutex, Notify, OneshotReceiver, OneshotSender, Permit,
    Receiver, RecvError, Rng, Runtime, SendError, Sender, SyncLock, TryRecvError, TrySendError,
    WatchReceiver, WatchSender,
};

pub use super::backends::SEED;

const MS: Duration = Duration::from_millis(1);

pub async fn channel_capacity<R: Runtime>(rt: R) {
    let (tx, mut rx) = rt.channel::<u32>("bounded", 2);
    assert_eq!(tx.try_send(1), Ok(()));
    assert_eq!(tx.try_send(2), Ok(()));
    assert_eq!(tx.try_send(3), Err(TrySendError::Full(3)));
    assert_eq!(rx.recv().await, Some(1));
    assert_eq!(tx.try_send(3), Ok(()));
    assert_eq!(rx.try_recv(), Ok(2));
    assert_eq!(rx.try_recv(), Ok(3));
    assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
}

pub async fn channel_order<R: Runtime>(rt: R) {
    let (tx, mut rx) = rt.channel::<u32>("ordered", 1);
    let producer = rt.spawn("producer", async move {
        for i in 1..=3 {
            tx.send(i).await.expect("the receiver is alive");
        }
    });
    let mut got = Vec::new();
    while let Some(v) = rx.recv().await {
        got.push(v);
    }
    assert_eq!(got, [1, 2, 3]);
    producer.await.expect("the producer completes");
}

pub async fn channel_closes_when_senders_dropped<R: Runtime>(rt: R) {
    let (tx, mut rx) = rt.channel::<u32>("closing", 4);
    let tx2 = tx.clone();
    tx.send(1).await.expect("the receiver is alive");
    drop(tx);
    assert_eq!(rx.recv().await, Some(1));
    assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
    let last = rt.spawn("last-sender", async move {
        tx2.send(2).await.expect("the receiver is alive")
    });
    assert_eq!(rx.recv().await, Some(2));
    assert_eq!(rx.recv().await, None);
    assert_eq!(rx.try_recv(), Err(TryRecvError::Closed));
    last.await.expect("the last sender completes");
}

pub async fn send_hands_value_back_when_receiver_dropped<R: Runtime>(rt: R) {
    let (tx, rx) = rt.channel::<String>("orphaned", 1);
    drop(rx);
    assert!(tx.is_closed());
    assert_eq!(
        tx.send("kept".to_string()).await,
        Err(SendError("kept".to_string()))
    );
    assert_eq!(
        tx.try_send("again".to_string()),
        Err(TrySendError::Closed("again".to_string()))
    );
}

pub async fn receiver_close_keeps_buffered_values<R: Runtime>(rt: R) {
    let (tx, mut rx) = rt.channel::<u32>("closed-by-receiver", 2);
    tx.try_send(1).expect("room for one");
    rx.close();
    assert_eq!(tx.try_send(2), Err(TrySendError::Closed(2)));
    assert_eq!(rx.recv().await, Some(1));
    drop(tx);
    assert_eq!(rx.recv().await, None);
}

pub async fn send_waits_while_full<R: Runtime>(rt: R) {
    let (tx, mut rx) = rt.channel::<u32>("full", 1);
    tx.send(1).await.expect("room for one");
    let blocked = tx.clone();
    let second = rt.spawn("second-sender", async move {
        blocked.send(2).await.expect("the receiver is alive")
    });
    assert_eq!(tx.try_send(9), Err(TrySendError::Full(9)));
    assert_eq!(rx.recv().await, Some(1));
    assert_eq!(rx.recv().await, Some(2));
    second.await.expect("the second sender completes");
}

pub async fn reserve_holds_a_slot<R: Runtime>(rt: R) {
    let (tx, mut rx) = rt.channel::<u32>("reserved", 1);
    let permit = tx.reserve().await.expect("the receiver is alive");
    assert_eq!(tx.try_send(9), Err(TrySendError::Full(9)));
    drop(permit);
    let permit = tx.reserve().await.expect("the slot was given back");
    let waiting = tx.clone();
    let second = rt.spawn("second-reserver", async move {
        let permit = waiting.reserve().await.expect("the receiver is alive");
        permit.send(2);
    });
    rt.yield_now().await;
    permit.send(1);
    assert_eq!(rx.recv().await, Some(1));
    assert_eq!(rx.recv().await, Some(2));
    second.await.expect("the second reserver completes");
    let permit = tx.reserve().await.expect("the receiver is alive");
    drop(rx);
    permit.send(3);
    assert!(tx.reserve().await.is_err());
}

pub async fn oneshot_delivers_and_reports_drops<R: Runtime>(rt: R) {
    let (tx, rx) = rt.oneshot::<u32>("answer");
    let sender = rt.spawn("answerer", async move {
        tx.send(42).expect("the receiver is alive")
    });
    assert_eq!(rx.await, Ok(42));
    sender.await.expect("the answerer completes");

    let (tx, mut rx) = rt.oneshot::<u32>("unanswered");
    assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
    drop(tx);
    assert_eq!(rx.await, Err(RecvError));

    let (tx, rx) = rt.oneshot::<u32>("unheard");
    drop(rx);
    assert!(tx.is_closed());
    assert_eq!(tx.send(7), Err(7));
}

pub async fn watch_sees_latest_value<R: Runtime>(rt: R) {
    let (tx, mut rx) = rt.watch("latest", 0u32);
    assert_eq!(rx.current(), 0);
    let mut late = tx.subscribe();
    let writer = rt.spawn("writer", async move {
        tx.send(1).expect("a receiver is alive");
        tx.send(2).expect("a receiver is alive");
    });
    rx.changed()
        .await
        .expect("a value arrives before the sender is dropped");
    writer.await.expect("the writer completes");
    assert_eq!(rx.current(), 2);
    assert_eq!(late.changed().await, Ok(()));
    assert_eq!(late.current(), 2);
    assert_eq!(rx.changed().await, Err(RecvError));
}

pub async fn mutex_excludes_and_hands_over<R: Runtime>(rt: R) {
    let counter = std::sync::Arc::new(rt.mutex("counter", 0u32));
    let guard = counter.lock().await;
    assert!(counter.try_lock().is_none());
    assert!(
        counter.try_lock().is_none(),
        "a failed try_lock leaves the lock with its holder"
    );
    let other = counter.clone();
    let adder = rt.spawn("adder", async move { *other.lock().await += 10 });
    rt.sleep(std::time::Duration::from_millis(1)).await;
    assert_eq!(*guard, 0, "the adder waits while the lock is held");
    drop(guard);
    adder.await.expect("the adder completes");
    let mut guard = counter.lock().await;
    *guard += 1;
    assert_eq!(*guard, 11);
}

/// Two tasks add to one total under a lock held for no await, each addition reading the
/// total, then taking a second lock (a point where a checker may switch tasks), then writing
/// it back: no addition is lost.
pub async fn sync_lock_excludes<R: Runtime>(rt: R) {
    let total = std::sync::Arc::new(rt.sync_lock("total", 0u32));
    let steps = std::sync::Arc::new(rt.sync_lock("steps", 0u32));
    let adders: Vec<_> = (0..2)
        .map(|i| {
            let (total, steps, rt2) = (total.clone(), steps.clone(), rt.clone());
            rt.spawn(&format!("adder-{i}"), async move {
                for _ in 0..2 {
                    total.with(|t| {
                        let seen = *t;
                        steps.with(|s| *s += 1);
                        *t = seen + 1;
                    });
                    rt2.yield_now().await;
                }
            })
        })
        .collect();
    for adder in adders {
        adder.await.expect("the adder completes");
    }
    assert_eq!(total.with(|t| *t), 4, "no addition is lost");
    assert_eq!(steps.with(|s| *s), 4);
}

pub async fn notify_stores_one_permit<R: Runtime>(rt: R) {
    let notify = std::sync::Arc::new(rt.notify("wakeup"));
    notify.notify_one();
    notify.notify_one();
    notify.notified().await;
    let waiter = notify.clone();
    let (ready_tx, ready_rx) = rt.oneshot::<()>("waiting");
    let task = rt.spawn("waiter", async move {
        let notified = waiter.notified();
        ready_tx.send(()).expect("main is alive");
        notified.await;
    });
    ready_rx.await.expect("the waiter says it waits");
    notify.notify_waiters();
    task.await
        .expect("notify_waiters wakes a waiter created before it");
}

pub async fn join_returns_value_or_panic<R: Runtime>(rt: R) {
    let ok = rt.spawn("returns", async { 7u32 });
    assert_eq!(ok.await, Ok(7));
    let panics = rt.spawn("panics", async { panic!("boom") });
    assert_eq!(panics.await, Err(JoinError::Panicked("boom".into())));
}

pub async fn abort_stops_a_blocked_task<R: Runtime>(rt: R) {
    let (tx, mut rx) = rt.channel::<u32>("never-written", 1);
    let stuck = rt.spawn("stuck", async move { rx.recv().await });
    stuck.abort();
    assert_eq!(stuck.await, Err(JoinError::Aborted));
    assert!(tx.is_closed(), "aborting dropped the task and its receiver");
}

pub async fn timeout_fires<R: Runtime>(rt: R) {
    let (_tx, mut rx) = rt.channel::<u32>("silent", 1);
    let start = rt.now();
    let outcome = rt.timeout(10 * MS, rx.recv()).await;
    assert!(outcome.is_err(), "nothing was sent, so the deadline wins");
    assert!(rt.now().saturating_duration_since(start) >= 10 * MS);
}

pub async fn timeout_does_not_fire<R: Runtime>(rt: R) {
    assert_eq!(rt.timeout(10 * MS, async { 5u32 }).await, Ok(5));
    let (tx, mut rx) = rt.channel::<u32>("prompt", 1);
    let sleeper = rt.clone();
    let writer = rt.spawn("writer", async move {
        sleeper.sleep(5 * MS).await;
        tx.send(1).await.expect("the receiver is alive");
    });
    assert_eq!(rt.timeout(10 * MS, rx.recv()).await, Ok(Some(1)));
    writer.await.expect("the writer completes");
}

pub async fn sleeps_wake_in_deadline_order<R: Runtime>(rt: R) {
    let (tx, mut rx) = rt.channel::<u64>("wakeups", 3);
    let mut sleepers = Vec::new();
    for ms in [30u64, 10, 20] {
        let (tx, clock) = (tx.clone(), rt.clone());
        sleepers.push(rt.spawn("sleeper", async move {
            clock.sleep(Duration::from_millis(ms)).await;
            tx.send(ms).await.expect("the receiver is alive");
        }));
    }
    drop(tx);
    let mut order = Vec::new();
    while let Some(ms) = rx.recv().await {
        order.push(ms);
    }
    assert_eq!(order, [10, 20, 30]);
    for sleeper in sleepers {
        sleeper.await.expect("every sleeper completes");
    }
}

pub async fn select_is_biased<R: Runtime>(rt: R) {
    let (first_tx, mut first) = rt.channel::<u32>("first", 4);
    let (second_tx, mut second) = rt.channel::<u32>("second", 4);
    for i in 0..3 {
        first_tx.try_send(i).expect("room");
        second_tx.try_send(i).expect("room");
    }
    for _ in 0..3 {
        let picked = sigrelay::select! {
            v = first.recv() => ("first", v),
            v = second.recv() => ("second", v),
        };
        assert_eq!(
            picked.0, "first",
            "both are ready: the first branch always wins"
        );
    }
    let picked = sigrelay::select! {
        v = first.recv() => ("first", v),
        v = second.recv() => ("second", v),
    };
    assert_eq!(picked, ("second", Some(0)));
}

pub async fn rng_is_deterministic<R: Runtime>(rt: R) {
    let mut stream = Rng::new(SEED);
    for _ in 0..3 {
        let mut expected = Rng::new(stream.next_u64());
        let mut got = rt.rng();
        let (a, b): (Vec<u64>, Vec<u64>) = (0..4)
            .map(|_| (expected.next_u64(), got.next_u64()))
            .unzip();
        assert_eq!(a, b, "the runtime's RNGs follow its seed");
    }
}
