//! Cancellation bodies: each drops a pending operation of one primitive — by a timeout, or by
//! a biased `select!` whose other branch is ready at the same instant — and then uses the
//! primitive again. A dropped operation must leave nothing behind: no queue place, no lost
//! value or notification, no armed timer.
//!
//! The releasing side acts at the very virtual instant the wait gives up, so the checkers
//! explore the drop before, during and after the hand-over.

use std::sync::Arc;
use std::time::Duration;

use sigrelay::rt::{
    Instant, Mutex, Notify, OneshotSender, Permit, Receiver, Runtime, Sender, WatchReceiver,
    WatchSender,
};

const MS: Duration = Duration::from_millis(1);

/// A lock wait given up by a timeout, then by a `select!` while the holder lets go at the
/// same instant: the next lock, and a task queued behind, both get the lock.
pub async fn cancelled_lock_leaves_the_queue<R: Runtime>(rt: R) {
    let mutex = Arc::new(rt.mutex("contended", 0u32));
    let guard = mutex.lock().await;
    assert!(rt.timeout(MS, mutex.lock()).await.is_err());
    drop(guard);
    *mutex.lock().await += 1;

    let (held_tx, held_rx) = rt.oneshot::<()>("held");
    let (holder_lock, clock) = (mutex.clone(), rt.clone());
    let holder = rt.spawn("holder", async move {
        let guard = holder_lock.lock().await;
        held_tx.send(()).expect("main waits for the holder");
        clock.sleep(MS).await;
        drop(guard);
    });
    held_rx.await.expect("the holder takes the lock");
    let queued_lock = mutex.clone();
    let queued = rt.spawn("queued", async move { *queued_lock.lock().await += 10 });
    let won = sigrelay::select! {
        () = rt.sleep(MS) => false,
        mut guard = mutex.lock() => { *guard += 100; true }
    };
    *mutex.lock().await += 1000;
    holder.await.expect("the holder lets go");
    queued.await.expect("the queued lock is granted");
    let expected = 1 + 10 + 1000 + if won { 100 } else { 0 };
    assert_eq!(*mutex.lock().await, expected);
}

/// A receive given up as the value arrives: the value stays in the channel.
pub async fn cancelled_recv_loses_nothing<R: Runtime>(rt: R) {
    let (tx, mut rx) = rt.channel::<u32>("late", 1);
    let clock = rt.clone();
    let writer = rt.spawn("writer", async move {
        clock.sleep(MS).await;
        for i in 1..=2 {
            tx.send(i).await.expect("the receiver is alive");
        }
    });
    let mut got = Vec::new();
    if let Ok(v) = rt.timeout(MS, rx.recv()).await {
        got.extend(v);
    }
    while let Some(v) = rx.recv().await {
        got.push(v);
    }
    assert_eq!(got, [1, 2]);
    writer.await.expect("the writer completes");
}

/// A send given up while a slot frees: its value is delivered exactly when the send said
/// so, and a sender queued behind it is not stranded.
pub async fn cancelled_send_gives_its_turn<R: Runtime>(rt: R) {
    let (tx, mut rx) = rt.channel::<u32>("full", 1);
    tx.send(1).await.expect("room for one");
    let (queued_tx, clock) = (tx.clone(), rt.clone());
    let queued = rt.spawn("queued-sender", async move {
        clock.sleep(MS).await;
        queued_tx.send(3).await.expect("the receiver is alive");
    });
    let clock = rt.clone();
    let reader = rt.spawn("reader", async move {
        clock.sleep(MS).await;
        let mut got = Vec::new();
        while let Some(v) = rx.recv().await {
            got.push(v);
        }
        got
    });
    let sent = rt.timeout(MS, tx.send(2)).await.is_ok();
    drop(tx);
    queued.await.expect("the queued sender gets a slot");
    let mut got = reader.await.expect("the reader drains the channel");
    got.sort_unstable();
    let expected: &[u32] = if sent { &[1, 2, 3] } else { &[1, 3] };
    assert_eq!(got, expected);
}

/// A reservation given up while a slot frees passes the slot on; a dropped permit gives it
/// back.
pub async fn cancelled_reserve_gives_its_slot<R: Runtime>(rt: R) {
    let (tx, mut rx) = rt.channel::<u32>("reserved", 1);
    let (held_tx, held_rx) = rt.oneshot::<()>("held");
    let (holding, releaser_clock) = (tx.clone(), rt.clone());
    let releaser = rt.spawn("releaser", async move {
        let permit = holding.reserve().await.expect("the receiver is alive");
        held_tx.send(()).expect("main waits for the reservation");
        releaser_clock.sleep(MS).await;
        drop(permit);
    });
    held_rx.await.expect("the releaser reserves the only slot");
    let (waiting, clock) = (tx.clone(), rt.clone());
    let second = rt.spawn("second-reserver", async move {
        clock.sleep(MS).await;
        waiting
            .reserve()
            .await
            .expect("the receiver is alive")
            .send(2);
    });
    let reserved = sigrelay::select! {
        () = rt.sleep(MS) => None,
        permit = tx.reserve() => Some(permit.expect("the receiver is alive")),
    };
    drop(reserved);
    releaser.await.expect("the releaser gives the slot back");
    second.await.expect("the second reservation is granted");
    assert_eq!(rx.recv().await, Some(2));
    tx.reserve().await.expect("the slot is free again").send(4);
    assert_eq!(rx.recv().await, Some(4));
}

/// A `notified()` dropped as it is notified passes the notification on.
pub async fn cancelled_notified_passes_it_on<R: Runtime>(rt: R) {
    let notify = Arc::new(rt.notify("wakeup"));
    let (other, clock) = (notify.clone(), rt.clone());
    let notifier = rt.spawn("notifier", async move {
        clock.sleep(MS).await;
        other.notify_one();
    });
    let listener = notify.clone();
    let second = rt.spawn("second-waiter", async move { listener.notified().await });
    let woken = sigrelay::select! {
        () = rt.sleep(MS) => false,
        () = notify.notified() => true,
    };
    if woken {
        notify.notify_one();
    }
    notifier.await.expect("the notifier completes");
    second
        .await
        .expect("the notification reaches the second waiter");
}

/// A join given up before the task ends; joining again returns its value.
pub async fn cancelled_join_keeps_the_result<R: Runtime>(rt: R) {
    let clock = rt.clone();
    let mut task = rt.spawn("slow", async move {
        clock.sleep(MS).await;
        7u32
    });
    let early = rt.timeout(MS, &mut task).await;
    let value = match early {
        Ok(joined) => joined,
        Err(_) => task.await,
    };
    assert_eq!(value, Ok(7));
}

/// A sleep given up by a timeout disarms its timer: the clock never jumps to it.
pub async fn cancelled_sleep_disarms_its_timer<R: Runtime>(rt: R) {
    let start = rt.now();
    assert!(rt
        .timeout(MS, rt.sleep(Duration::from_secs(3600)))
        .await
        .is_err());
    let (_tx, mut rx) = rt.channel::<u32>("silent", 1);
    assert!(rt.timeout(2 * MS, rx.recv()).await.is_err());
    let elapsed = rt.now().saturating_duration_since(start);
    assert!(
        elapsed < Duration::from_secs(1),
        "time ran to a dropped timer: {elapsed:?}"
    );
}

/// A oneshot wait given up as the answer comes; the answer is still there.
pub async fn cancelled_oneshot_recv_keeps_the_value<R: Runtime>(rt: R) {
    let (tx, mut rx) = rt.oneshot::<u32>("answer");
    let clock = rt.clone();
    let answerer = rt.spawn("answerer", async move {
        clock.sleep(MS).await;
        tx.send(42).expect("the receiver is alive");
    });
    let value = match rt.timeout(MS, &mut rx).await {
        Ok(answer) => answer,
        Err(_) => rx.await,
    };
    assert_eq!(value, Ok(42));
    answerer.await.expect("the answerer completes");
}

/// A `changed()` given up as the value changes; the change is still seen.
pub async fn cancelled_changed_keeps_the_change<R: Runtime>(rt: R) {
    let (tx, mut rx) = rt.watch("latest", 0u32);
    let clock = rt.clone();
    let writer = rt.spawn("writer", async move {
        clock.sleep(MS).await;
        tx.send(1).expect("a receiver is alive");
    });
    if rt.timeout(MS, rx.changed()).await.is_err() {
        rx.changed().await.expect("the change arrives");
    }
    assert_eq!(rx.current(), 1);
    writer.await.expect("the writer completes");
}
