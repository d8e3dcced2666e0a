//! The delta: fan-out, backpressure, counted misses, control served while a send waits.

use std::collections::BTreeSet;
use std::time::Duration;

use sigrelay::relay::{
    ChannelKey, Delivery, Delta, DeltaError, DeltaHandle, Frame, Inflow, NodeId, Policy, Samples,
    Series,
};
use sigrelay::rt::prelude::*;

const MS: Duration = Duration::from_millis(1);

fn key(n: u16) -> ChannelKey {
    ChannelKey::leased(NodeId(1), n)
}

fn keys(ns: &[u16]) -> BTreeSet<ChannelKey> {
    ns.iter().map(|n| key(*n)).collect()
}

/// A frame with one sample `value` for each key of `ns`.
fn frame(ns: &[u16], value: i64) -> Frame {
    let series = ns.iter().map(|n| Series {
        key: key(*n),
        timestamps: vec![value],
        samples: Samples::I64(vec![value]),
    });
    Frame::new(series.collect()).expect("distinct keys")
}

fn value(d: &Delivery) -> i64 {
    d.series().next().expect("a wanted series").timestamps[0]
}

async fn drain<R: Runtime>(rx: &mut R::Receiver<Delivery>) -> Vec<(i64, u64)> {
    let mut got = Vec::new();
    while let Some(d) = rx.recv().await {
        got.push((value(&d), d.missed()));
    }
    got
}

pub async fn fans_out_demanded_keys_in_order<R: Runtime>(rt: R) {
    let (writes, inlet) = rt.channel("writes", 4);
    let (delta, handle) = Delta::new(rt.clone(), inlet);
    let running = rt.spawn("delta", delta.run());
    let mut a = handle
        .connect(1, keys(&[1]), Policy::Lossless, 2)
        .await
        .unwrap();
    let mut b = handle
        .connect(2, keys(&[2]), Policy::Lossless, 2)
        .await
        .unwrap();
    let reader = rt.spawn("reader-b", async move { drain::<R>(&mut b).await });
    let writer = rt.spawn("writer", async move {
        for i in 0..4 {
            let ns: &[u16] = [&[1][..], &[2], &[1, 2], &[3]][i as usize];
            writes
                .send(frame(ns, i).into())
                .await
                .expect("the delta is running");
        }
    });
    let got_a = drain::<R>(&mut a).await;
    assert_eq!(
        got_a,
        [(0, 0), (2, 0)],
        "only frames touching key 1, in order"
    );
    assert_eq!(reader.await.unwrap(), [(1, 0), (2, 0)]);
    writer.await.unwrap();
    running.await.unwrap();
}

pub async fn lossless_backpressure_loses_nothing<R: Runtime>(rt: R) {
    let (writes, inlet) = rt.channel("writes", 1);
    let (delta, handle) = Delta::new(rt.clone(), inlet);
    let running = rt.spawn("delta", delta.run());
    let mut slow = handle
        .connect(1, keys(&[1]), Policy::Lossless, 1)
        .await
        .unwrap();
    let writer = rt.spawn("writer", async move {
        for i in 0..6 {
            writes
                .send(frame(&[1], i).into())
                .await
                .expect("the delta is running");
        }
    });
    let mut got = Vec::new();
    while let Some(d) = slow.recv().await {
        rt.sleep(MS).await;
        got.push((value(&d), d.missed()));
    }
    assert_eq!(got, (0..6).map(|i| (i, 0)).collect::<Vec<_>>());
    writer.await.unwrap();
    running.await.unwrap();
}

pub async fn lossy_misses_are_counted<R: Runtime>(rt: R) {
    let (writes, inlet) = rt.channel("writes", 8);
    let (delta, handle) = Delta::new(rt.clone(), inlet);
    let running = rt.spawn("delta", delta.run());
    let impatient = Policy::Lossy {
        patience: Duration::ZERO,
    };
    let mut lossy = handle.connect(1, keys(&[1]), impatient, 1).await.unwrap();
    let clock = rt.clone();
    let writer = rt.spawn("writer", async move {
        for i in 0..5 {
            writes
                .send(frame(&[1], i).into())
                .await
                .expect("the delta is running");
        }
        clock.sleep(10 * MS).await;
        writes
            .send(frame(&[1], 5).into())
            .await
            .expect("the delta is running");
    });
    rt.sleep(5 * MS).await;
    assert_eq!(
        drain::<R>(&mut lossy).await,
        [(0, 0), (5, 4)],
        "four misses, reported with the next frame"
    );
    writer.await.unwrap();
    running.await.unwrap();
}

/// A lossy subscriber that reads within its patience misses nothing: the delta waits for
/// room that long.
pub async fn lossy_patience_is_waited_out<R: Runtime>(rt: R) {
    let (writes, inlet) = rt.channel("writes", 8);
    let (delta, handle) = Delta::new(rt.clone(), inlet);
    let running = rt.spawn("delta", delta.run());
    let patient = Policy::Lossy { patience: 50 * MS };
    let mut slow = handle.connect(1, keys(&[1]), patient, 1).await.unwrap();
    for i in 0..3 {
        writes
            .send(frame(&[1], i).into())
            .await
            .expect("the delta is running");
    }
    drop(writes);
    let mut got = Vec::new();
    while let Some(d) = slow.recv().await {
        got.push((value(&d), d.missed()));
        rt.sleep(10 * MS).await;
    }
    assert_eq!(got, [(0, 0), (1, 0), (2, 0)], "read within the patience");
    running.await.unwrap();
}

/// A lossy subscriber whose patience runs out misses the frame alone: the subscribers after
/// it in the fan-out still get every frame (the original's B2b skipped them).
pub async fn a_miss_skips_no_later_subscriber<R: Runtime>(rt: R) {
    let (writes, inlet) = rt.channel("writes", 8);
    let (delta, handle) = Delta::new(rt.clone(), inlet);
    let running = rt.spawn("delta", delta.run());
    let impatient = Policy::Lossy {
        patience: Duration::ZERO,
    };
    let mut first = handle.connect(1, keys(&[1]), impatient, 1).await.unwrap();
    let mut later = handle
        .connect(2, keys(&[1]), Policy::Lossless, 8)
        .await
        .unwrap();
    for i in 0..5 {
        writes
            .send(frame(&[1], i).into())
            .await
            .expect("the delta is running");
    }
    drop(writes);
    assert_eq!(
        drain::<R>(&mut later).await,
        [(0, 0), (1, 0), (2, 0), (3, 0), (4, 0)],
        "every frame, none missed"
    );
    assert_eq!(drain::<R>(&mut first).await, [(0, 0)], "the rest missed");
    running.await.unwrap();
}

pub async fn disconnect_is_served_while_a_send_waits<R: Runtime>(rt: R) {
    let (writes, inlet) = rt.channel("writes", 1);
    let (delta, handle) = Delta::new(rt.clone(), inlet);
    let running = rt.spawn("delta", delta.run());
    let mut stalled = handle
        .connect(1, keys(&[1]), Policy::Lossless, 1)
        .await
        .unwrap();
    let writer = rt.spawn("writer", async move {
        for i in 0..3 {
            writes
                .send(frame(&[1], i).into())
                .await
                .expect("the delta is running");
        }
        writes
    });
    rt.sleep(MS).await;
    handle
        .disconnect(1)
        .await
        .expect("served although the delta waits on this outlet");
    let got = drain::<R>(&mut stalled).await;
    assert_eq!(
        got.first(),
        Some(&(0, 0)),
        "what was buffered is still read: {got:?}"
    );
    let mut late = handle
        .connect(2, keys(&[1]), Policy::Lossless, 4)
        .await
        .unwrap();
    let writes = writer.await.unwrap();
    writes.send(frame(&[1], 9).into()).await.unwrap();
    drop(writes);
    assert_eq!(
        drain::<R>(&mut late).await.last(),
        Some(&(9, 0)),
        "the delta kept going"
    );
    running.await.unwrap();
}

pub async fn control_errors_are_typed<R: Runtime>(rt: R) {
    let (writes, inlet) = rt.channel::<Inflow>("writes", 1);
    let (delta, handle) = Delta::new(rt.clone(), inlet);
    let running = rt.spawn("delta", delta.run());
    let _a = handle
        .connect(1, keys(&[1]), Policy::Lossless, 1)
        .await
        .unwrap();
    let twice = handle.connect(1, keys(&[1]), Policy::Lossless, 1).await;
    assert_eq!(twice.err(), Some(DeltaError::AlreadyConnected(1)));
    assert_eq!(
        handle.update(7, keys(&[1])).await,
        Err(DeltaError::NotConnected(7))
    );
    assert_eq!(handle.disconnect(7).await, Err(DeltaError::NotConnected(7)));
    drop(writes);
    running.await.unwrap();
    assert_eq!(handle.disconnect(1).await, Err(DeltaError::Stopped));
    let said = [
        DeltaError::Stopped,
        DeltaError::AlreadyConnected(1),
        DeltaError::NotConnected(7),
    ]
    .map(|e| e.to_string());
    assert_eq!(
        said,
        [
            "the delta has stopped",
            "subscriber 1 is already connected",
            "subscriber 7 is not connected"
        ]
    );
}

/// The loom kernel: two streamers connect, receive, widen their keys and disconnect while
/// the writer keeps writing and then stops the delta; each sees its first frame first, in
/// order, without duplicates, and its requests are served or refused as `Stopped`.
pub async fn two_streamers_update_and_leave<R: Runtime>(rt: R) {
    let (writes, inlet) = rt.channel("writes", 1);
    let (delta, handle) = Delta::new(rt.clone(), inlet);
    let running = rt.spawn("delta", delta.run());
    let mut streamers = Vec::new();
    for id in 1..=2u16 {
        let mut rx = handle
            .connect(u64::from(id), keys(&[id]), Policy::Lossless, 1)
            .await
            .unwrap();
        let handle = handle.clone();
        streamers.push(rt.spawn(&format!("streamer-{id}"), async move {
            let first = rx.recv().await.map(|d| value(&d));
            let widened = handle.update(u64::from(id), keys(&[1, 2])).await;
            assert!(
                matches!(widened, Ok(()) | Err(DeltaError::Stopped)),
                "{widened:?}"
            );
            let left = handle.disconnect(u64::from(id)).await;
            assert!(
                matches!(left, Ok(()) | Err(DeltaError::Stopped)),
                "{left:?}"
            );
            let mut seen: Vec<i64> = first.into_iter().collect();
            seen.extend(drain::<R>(&mut rx).await.into_iter().map(|(v, _)| v));
            seen
        }));
    }
    for (i, ns) in [&[1u16][..], &[2], &[1, 2]].into_iter().enumerate() {
        writes
            .send(frame(ns, i as i64).into())
            .await
            .expect("the delta is running");
    }
    drop(writes);
    running.await.unwrap();
    for (id, streamer) in (1..=2).zip(streamers) {
        let seen = streamer.await.unwrap();
        assert_eq!(
            seen.first(),
            Some(&(id - 1)),
            "streamer {id} first sees its own frame: {seen:?}"
        );
        assert!(
            seen.windows(2).all(|w| w[0] < w[1]),
            "in order, no duplicates: {seen:?}"
        );
    }
}

/// The loom kernel, sized for exhaustive exploration: the delta on one thread; on the
/// other, the writer and then the two streamers in turn. Two frames for both streamers meet
/// outlets of one slot, so the delta waits on the second streamer's full outlet while the
/// first one widens its keys, disconnects and drains: those requests must be served during
/// the wait. Each streamer sees the first frame, then at most the second, never twice.
pub async fn kernel_two_streamers<R: Runtime>(rt: R) {
    let (writes, inlet) = rt.channel("writes", 1);
    let (delta, handle) = Delta::new(rt.clone(), inlet);
    let running = rt.spawn("delta", delta.run());
    let one = handle
        .connect(1, keys(&[1]), Policy::Lossless, 1)
        .await
        .unwrap();
    let two = handle
        .connect(2, keys(&[2]), Policy::Lossless, 1)
        .await
        .unwrap();
    for value in [7, 8] {
        writes
            .send(frame(&[1, 2], value).into())
            .await
            .expect("the delta is running");
    }
    for (id, outlet) in [(1, one), (2, two)] {
        let (first, rest) = receive_widen_leave::<R>(&handle, id, outlet).await;
        assert_eq!(first, Some(7), "streamer {id}");
        assert!(
            rest.is_empty() || rest == [(8, 0)],
            "streamer {id}: {rest:?}"
        );
    }
    drop(writes);
    running.await.unwrap();
}

async fn receive_widen_leave<R: Runtime>(
    handle: &DeltaHandle<R>,
    id: u64,
    mut outlet: R::Receiver<Delivery>,
) -> (Option<i64>, Vec<(i64, u64)>) {
    let first = outlet.recv().await.map(|d| value(&d));
    handle.update(id, keys(&[1, 2])).await.unwrap();
    handle.disconnect(id).await.unwrap();
    (first, drain::<R>(&mut outlet).await)
}

/// A delta told to stop while a lossless subscriber that never reads holds it back, with
/// more frames in its inlet: it gives up at its close deadline, and not before.
pub async fn a_stopping_delta_keeps_its_close_deadline<R: Runtime>(rt: R) {
    let (writes, inlet) = rt.channel("writes", 8);
    let (delta, handle) = Delta::new(rt.clone(), inlet);
    let delta = delta.close_deadline(50 * MS);
    let (stop, stopped) = rt.oneshot::<()>("stop");
    let running = rt.spawn("delta", async move {
        delta.run_until(async { stopped.await.unwrap_or(()) }).await;
    });
    let stalled = handle.connect(1, keys(&[1]), Policy::Lossless, 1).await;
    let _stalled = stalled.unwrap();
    for value in 0..4 {
        writes
            .send(Inflow::Frame(frame(&[1], value)))
            .await
            .unwrap();
    }
    rt.sleep(10 * MS).await;
    let asked = rt.now();
    stop.send(()).expect("the delta waits for the stop");
    running.await.expect("the delta returns");
    let took = rt.now().saturating_duration_since(asked);
    assert!(took >= 50 * MS, "gave up before its deadline: {took:?}");
    assert!(took < 60 * MS, "held beyond its deadline: {took:?}");
}

/// A gap marks the next delivery of each subscriber of its keys as interrupted, and only
/// that one; a delivery is a view of the one written frame through the subscriber's keys.
pub async fn gaps_mark_one_delivery_of_their_keys<R: Runtime>(rt: R) {
    let (writes, inlet) = rt.channel("writes", 4);
    let (delta, handle) = Delta::new(rt.clone(), inlet);
    let running = rt.spawn("delta", delta.run());
    let mut a = handle
        .connect(1, keys(&[1]), Policy::Lossless, 4)
        .await
        .unwrap();
    let mut b = handle
        .connect(2, keys(&[2]), Policy::Lossless, 4)
        .await
        .unwrap();
    let gap = Inflow::Gap(std::sync::Arc::new(keys(&[1])));
    for inflow in [frame(&[1, 2], 0).into(), gap, frame(&[1, 2], 1).into()] {
        writes.send(inflow).await.expect("the delta is running");
    }
    writes.send(frame(&[1, 2], 2).into()).await.unwrap();
    let marks = |d: &Delivery| (value(d), d.interrupted(), d.follows_gap(), d.missed());
    let mut seen_a = Vec::new();
    for _ in 0..3 {
        seen_a.push(a.recv().await.expect("a delivery"));
    }
    let seen_b = [b.recv().await.expect("a delivery"), b.recv().await.unwrap()];
    let marked: Vec<_> = seen_a.iter().map(marks).collect();
    assert_eq!(
        marked,
        [
            (0, false, false, 0),
            (1, true, true, 0),
            (2, false, false, 0)
        ]
    );
    assert_eq!(marks(&seen_b[0]), (0, false, false, 0));
    assert_eq!(marks(&seen_b[1]), (1, false, false, 0));
    assert!(seen_a[0].shares_frame(&seen_b[0]), "one written frame");
    assert!(!seen_a[0].shares_frame(&seen_a[1]), "two written frames");
    assert_eq!(seen_a[0].keys(), &keys(&[1]));
    assert_eq!(seen_a[0].get(key(1)).map(|s| s.key), Some(key(1)));
    assert_eq!(seen_a[0].get(key(2)).map(|s| s.key), None, "not wanted");
    drop(writes);
    running.await.unwrap();
}

/// Whatever the shape of a subscriber's keys and of a frame's, a delivery holds the series
/// of the subscriber's keys and no other: one run of keys in a frame of consecutive
/// channels, one run in a frame with holes, several runs, a set past the frame's keys.
pub async fn deliveries_hold_exactly_the_wanted_series<R: Runtime>(rt: R) {
    let shapes: [(&[u16], &[u16]); 5] = [
        (&[2, 3], &[1, 2, 3, 4]),
        (&[2, 3, 4], &[1, 3, 5]),
        (&[1, 3], &[1, 2, 3]),
        (&[1, 4], &[1, 3, 5]),
        (&[7, 8], &[1, 2, 3, 9]),
    ];
    let (writes, inlet) = rt.channel("writes", 8);
    let (delta, handle) = Delta::new(rt.clone(), inlet);
    let running = rt.spawn("delta", delta.run());
    let mut outlets = Vec::new();
    for (id, (wanted, _)) in (1..).zip(shapes) {
        let connected = handle.connect(id, keys(wanted), Policy::Lossless, 8);
        outlets.push(connected.await.unwrap());
    }
    for (_, written) in shapes {
        writes.send(frame(written, 0).into()).await.unwrap();
    }
    drop(writes);
    running.await.unwrap();
    for ((wanted, _), outlet) in shapes.iter().zip(&mut outlets) {
        let mut got = Vec::new();
        while let Some(d) = outlet.recv().await {
            got.push(d.series().map(|s| s.key).collect::<Vec<_>>());
        }
        let expected: Vec<Vec<ChannelKey>> = shapes
            .iter()
            .map(|(_, written)| {
                let both = written.iter().filter(|n| wanted.contains(n));
                both.map(|n| key(*n)).collect::<Vec<_>>()
            })
            .filter(|series| !series.is_empty())
            .collect();
        assert_eq!(got, expected, "keys {wanted:?}");
    }
}

/// A disconnect of the subscriber a fan-out waits on ends that wait, though the outlet is
/// still held and full: the next frame reaches a subscriber connected afterwards (after the
/// frame whose fan-out was waiting, if that fan-out went on to it).
pub async fn a_disconnect_ends_the_wait_on_its_outlet<R: Runtime>(rt: R) {
    let (writes, inlet) = rt.channel("writes", 1);
    let (delta, handle) = Delta::new(rt.clone(), inlet);
    let running = rt.spawn("delta", delta.run());
    let held = handle.connect(1, keys(&[1]), Policy::Lossless, 1).await;
    for value in 0..2 {
        writes.send(frame(&[1], value).into()).await.unwrap();
    }
    rt.sleep(MS).await;
    handle.disconnect(1).await.unwrap();
    let mut next = handle.connect(2, keys(&[1]), Policy::Lossless, 1).await;
    writes.send(frame(&[1], 2).into()).await.unwrap();
    let next = next.as_mut().unwrap();
    let mut got = vec![next.recv().await.map(|d| value(&d))];
    if got == [Some(1)] {
        got.push(next.recv().await.map(|d| value(&d)));
    }
    assert_eq!(
        got.last(),
        Some(&Some(2)),
        "the fan-out waiting on 1 went on"
    );
    drop((writes, held));
    running.await.unwrap();
}

/// Another subscriber connecting and leaving while a fan-out waits on a full lossless outlet
/// (the leaving wakes that wait) neither ends the wait nor costs its subscriber the frame:
/// once it reads, it gets every frame, in order.
pub async fn another_subscriber_leaving_keeps_the_wait_on_a_full_outlet<R: Runtime>(rt: R) {
    let (writes, inlet) = rt.channel("writes", 1);
    let (delta, handle) = Delta::new(rt.clone(), inlet);
    let running = rt.spawn("delta", delta.run());
    let held = handle.connect(1, keys(&[1]), Policy::Lossless, 1).await;
    let mut held = held.unwrap();
    for value in 0..2 {
        writes.send(frame(&[1], value).into()).await.unwrap();
    }
    rt.sleep(MS).await;
    let other = handle.connect(2, keys(&[2]), Policy::Lossless, 1).await;
    handle.disconnect(2).await.unwrap();
    rt.sleep(MS).await;
    drop((writes, other));
    let mut got = Vec::new();
    while let Some(delivery) = held.recv().await {
        got.push(value(&delivery));
    }
    assert_eq!(got, [0, 1], "the frame whose fan-out waited is kept");
    running.await.unwrap();
}
