//! The relay of one node: open-ack barrier, key updates, typed refusals, drain-before-
//! disconnect, gap markers, and close in order with nothing left running.

use std::collections::BTreeSet;
use std::time::Duration;

use sigrelay::relay::{
    ChannelKey, CloseError, NodeId, Policy, Relay, RelayConfig, RelayError, StreamerConfig,
    WriteError,
};
use sigrelay::rt::prelude::*;

use super::helpers::*;

pub async fn streams_only_demanded_keys_in_order<R: Runtime>(rt: R) {
    let relay = open(rt).await;
    let mut a = streamer(&relay, &[leased(1), leased(2)]).await;
    let mut b = streamer(&relay, &[free(1), leased(2)]).await;
    assert_ne!(a.id(), b.id(), "each streamer has an id of its own");
    let writer = relay.writer();
    for value in 0..3 {
        let keys = [leased(1), leased(2), leased(3), free(1), free(2)];
        writer.write(frame(&keys, value)).await.expect("known keys");
    }
    let mut got_a = Vec::new();
    while got_a.len() < 6 {
        got_a.extend(seen(&a.recv().await.expect("open")));
    }
    let expected: Vec<_> = (0..3)
        .flat_map(|v| [(leased(1), v), (leased(2), v)])
        .collect();
    assert_eq!(got_a, expected);
    let mut got_b = Vec::new();
    while got_b.len() < 6 {
        got_b.extend(seen(&b.recv().await.expect("open")));
    }
    let mut by_key = got_b.clone();
    by_key.sort();
    let expected: Vec<_> = [free(1), leased(2)]
        .into_iter()
        .flat_map(|k| (0..3).map(move |v| (k, v)))
        .collect();
    assert_eq!(by_key, expected, "b: {got_b:?}");
    assert!(a.close().await.is_empty());
    assert!(b.close().await.is_empty());
    close_clean(&relay).await;
}

pub async fn updates_move_the_barrier<R: Runtime>(rt: R) {
    let relay = open(rt).await;
    let mut s = streamer(&relay, &[leased(1)]).await;
    let writer = relay.writer();
    s.update(set(&[leased(2), free(2)]))
        .await
        .expect("known keys");
    writer
        .write(frame(&[leased(1), leased(2)], 1))
        .await
        .unwrap();
    writer.write(frame(&[free(2)], 2)).await.unwrap();
    let mut got = seen(&s.recv().await.unwrap());
    got.extend(seen(&s.recv().await.unwrap()));
    got.sort();
    assert_eq!(
        got,
        [(free(2), 2), (leased(2), 1)],
        "order holds per channel only"
    );
    s.update(set(&[])).await.expect("no keys is a valid demand");
    writer.write(frame(&[leased(2), free(2)], 3)).await.unwrap();
    assert!(
        s.close().await.is_empty(),
        "nothing after the keys were dropped"
    );
    close_clean(&relay).await;
}

/// A writer accepts a frame whose keys are a run of consecutive writable channels without
/// walking them, and still walks every other frame: a key inside the run's span that is
/// not writable (unknown, or another node's) is refused.
pub async fn writes_are_checked_across_holes<R: Runtime>(rt: R) {
    let elsewhere = ChannelKey::leased(NodeId(2), 3);
    let channels = [leased(1), leased(2), leased(4), elsewhere, free(1), free(2)];
    let relay = Relay::open(rt, RelayConfig::new(NODE, channels)).await;
    let relay = relay.expect("a valid configuration");
    let mut s = streamer(&relay, &[leased(1)]).await;
    let writer = relay.writer();
    let accepted: [&[ChannelKey]; 4] = [
        &[leased(1), leased(2)],
        &[leased(1), leased(2), leased(4)],
        &[leased(1), leased(4)],
        &[free(1), free(2), leased(1)],
    ];
    for (value, keys) in accepted.iter().enumerate() {
        let written = writer.write(frame(keys, value as i64)).await;
        assert!(written.is_ok(), "{keys:?} is writable: {written:?}");
    }
    let unknown = writer
        .write(frame(&[leased(1), leased(3), leased(4)], 9))
        .await;
    assert!(matches!(unknown, Err(WriteError::UnknownChannel(k, _)) if k == leased(3)));
    let theirs = writer
        .write(frame(&[free(2), leased(1), elsewhere], 9))
        .await;
    let refused = matches!(theirs, Err(WriteError::NotLeaseholder { key, .. }) if key == elsewhere);
    assert!(refused, "another node's channel is refused: {theirs:?}");
    for value in 0..accepted.len() as i64 {
        assert_eq!(seen(&s.recv().await.expect("open")), [(leased(1), value)]);
    }
    drop(s);
    close_clean(&relay).await;
}

pub async fn refusals_are_typed_and_starve_no_one<R: Runtime>(rt: R) {
    let relay = open(rt).await;
    let unknown = leased(9);
    let refused = relay.new_streamer(set(&[leased(1), unknown]), StreamerConfig::default());
    assert_eq!(
        refused.await.err(),
        Some(RelayError::UnknownKeys(vec![unknown]))
    );
    let mut s = streamer(&relay, &[leased(1)]).await;
    let update = s.update(set(&[free(7)])).await;
    assert_eq!(update, Err(RelayError::UnknownKeys(vec![free(7)])));
    let writer = relay.writer();
    let bad = frame(&[leased(1), unknown], 0);
    let refusal = writer.write(bad.clone()).await.unwrap_err();
    assert!(matches!(refusal, WriteError::UnknownChannel(k, _) if k == unknown));
    assert_eq!(refusal.into_frame(), bad, "a refused frame is handed back");
    writer.write(frame(&[leased(1)], 5)).await.unwrap();
    assert_eq!(seen(&s.recv().await.unwrap()), [(leased(1), 5)]);
    drop(s);
    close_clean(&relay).await;
    let late = relay
        .new_streamer(set(&[]), StreamerConfig::default())
        .await;
    assert_eq!(late.err(), Some(RelayError::Closed));
    let free_write = writer.write(frame(&[free(1)], 0)).await;
    assert!(
        matches!(free_write, Err(WriteError::Closed(_))),
        "{free_write:?}"
    );
    assert!(matches!(
        relay.close(DEADLINE).await,
        Err(CloseError::AlreadyClosed)
    ));
}

/// A lossless streamer whose owner stopped reading holds the writer back, and still closes:
/// its close drains what was buffered and releases the writer.
pub async fn a_streamer_that_stopped_reading_still_closes<R: Runtime>(rt: R) {
    let relay = open(rt.clone()).await;
    let config = StreamerConfig {
        policy: Policy::Lossless,
        capacity: 1,
        ..StreamerConfig::default()
    };
    let s = relay.new_streamer(set(&[free(1)]), config).await.unwrap();
    let writer = relay.writer();
    let writing = rt.spawn("writer", async move {
        for value in 0..4 {
            writer.write(frame(&[free(1)], value)).await.unwrap();
        }
    });
    rt.sleep(Duration::from_millis(5)).await;
    let rest = all_seen(&s.close().await);
    assert!(
        !rest.is_empty() && rest.windows(2).all(|w| w[0].1 < w[1].1),
        "{rest:?}"
    );
    writing.await.unwrap();
    close_clean(&relay).await;
}

pub async fn lossy_streamers_count_their_gaps<R: Runtime>(rt: R) {
    let relay = open(rt.clone()).await;
    let config = StreamerConfig {
        policy: Policy::Lossy {
            patience: Duration::ZERO,
        },
        capacity: 1,
        ..StreamerConfig::default()
    };
    let mut s = relay.new_streamer(set(&[free(1)]), config).await.unwrap();
    let writer = relay.writer();
    for value in 0..4 {
        writer.write(frame(&[free(1)], value)).await.unwrap();
    }
    rt.sleep(Duration::from_millis(5)).await;
    let first = s.recv().await.unwrap();
    assert_eq!((seen(&first), first.missed()), (vec![(free(1), 0)], 0));
    writer.write(frame(&[free(1)], 9)).await.unwrap();
    let next = s.recv().await.unwrap();
    assert_eq!((seen(&next), next.missed()), (vec![(free(1), 9)], 3));
    assert_eq!((first.follows_gap(), next.follows_gap()), (false, true));
    writer.write(frame(&[free(1)], 10)).await.unwrap();
    let after = s.recv().await.unwrap();
    assert_eq!(
        (after.missed(), after.follows_gap()),
        (0, false),
        "a gap is told once"
    );
    drop(s);
    close_clean(&relay).await;
}

pub async fn close_force_closes_what_owners_left_open<R: Runtime>(rt: R) {
    let relay = open(rt).await;
    let mut kept = streamer(&relay, &[leased(1)]).await;
    let closer = relay.clone();
    let report = closer
        .close(DEADLINE)
        .await
        .expect("force-closed, not failed");
    assert_eq!(report.forced, ["relay/streamers/streamer-1"]);
    assert_eq!(kept.recv().await.map(|d| seen(&d)), None);
    assert_eq!(kept.update(set(&[])).await, Err(RelayError::Closed));
    let census = relay.census().await;
    assert!(census.live.is_empty(), "{:?}", census.live);
}

/// H1: a streamer starting while the relay closes either opens (and is closed with the
/// relay) or is refused as `Closed`; nothing panics and nothing is left running.
pub async fn close_racing_a_starting_streamer<R: Runtime>(rt: R) {
    let relay = open(rt.clone()).await;
    let starter = relay.clone();
    let starting = rt.spawn("starter", async move {
        match starter
            .new_streamer(set(&[leased(1)]), StreamerConfig::default())
            .await
        {
            Ok(mut s) => s.recv().await.map(|d| seen(&d)),
            Err(e) => {
                assert_eq!(e, RelayError::Closed);
                None
            }
        }
    });
    let report = relay.close(DEADLINE).await.expect("no routine failed");
    assert!(report.forced.len() <= 1, "{report:?}");
    assert_eq!(starting.await.unwrap(), None);
    assert!(relay.census().await.live.is_empty());
}

/// A relay opened on its own knows a channel another node leases, but cannot reach it:
/// demanding it is refused as unreachable (nothing changes), and writing it is refused
/// with its leaseholder.
pub async fn channels_of_other_nodes_need_a_cluster<R: Runtime>(rt: R) {
    let elsewhere = ChannelKey::leased(NodeId(NODE.0 + 1), 1);
    let config = RelayConfig::new(NODE, [leased(1), elsewhere]);
    let relay = Relay::open(rt, config)
        .await
        .expect("a valid configuration");
    let refused = relay.new_streamer(set(&[leased(1), elsewhere]), StreamerConfig::default());
    let unreachable = Some(RelayError::Unreachable(vec![elsewhere]));
    assert_eq!(refused.await.err(), unreachable);
    let mut s = streamer(&relay, &[leased(1)]).await;
    assert_eq!(s.update(set(&[elsewhere])).await.err(), unreachable);
    let write = relay.writer().write(frame(&[elsewhere], 0)).await;
    assert!(
        matches!(write, Err(WriteError::NotLeaseholder { key, .. }) if key == elsewhere),
        "{write:?}"
    );
    relay.writer().write(frame(&[leased(1)], 1)).await.unwrap();
    assert_eq!(
        seen(&s.recv().await.unwrap()),
        [(leased(1), 1)],
        "keys kept"
    );
    drop(s);
    close_clean(&relay).await;
}

/// A `new_streamer` given up at any point — queued on the relay's state lock behind a rival
/// opener, or waiting for its open-ack — leaves nothing behind: the next streamer opens and
/// receives, and the relay closes clean.
pub async fn a_dropped_new_streamer_leaves_nothing<R: Runtime>(rt: R) {
    let relay = open(rt.clone()).await;
    let rival = relay.clone();
    let opener = rt.spawn(
        "opener",
        async move { streamer(&rival, &[leased(2)]).await },
    );
    for polls in 0..4 {
        let attempt = relay.new_streamer(set(&[leased(1)]), StreamerConfig::default());
        drop(give_up_after(&rt, polls, attempt).await);
    }
    let mut s = streamer(&relay, &[leased(1)]).await;
    let rival = opener.await.expect("the rival opens");
    relay.writer().write(frame(&[leased(1)], 1)).await.unwrap();
    assert_eq!(seen(&s.recv().await.unwrap()), [(leased(1), 1)]);
    drop((s, rival));
    close_clean(&relay).await;
}

/// An update makes before it breaks: while a streamer moves from {1, 2} to {2, 3}, frames
/// keep coming on 1 alone and on 1 and 3 together. What it still receives of channel 1 has
/// no hole (upstream never stops feeding a key the delta still delivers), and the marker
/// written after the ack arrives on 2 and 3.
pub async fn an_update_leaves_no_hole_in_a_dropped_key<R: Runtime>(rt: R) {
    let relay = open(rt.clone()).await;
    let mut s = streamer(&relay, &[leased(1), leased(2)]).await;
    let writer = relay.writer();
    let writing = rt.spawn("writer", async move {
        for v in 0..8 {
            let keys: &[ChannelKey] = if v % 2 == 0 {
                &[leased(1)]
            } else {
                &[leased(1), leased(3)]
            };
            writer.write(frame(keys, v)).await.expect("known keys");
        }
    });
    s.update(set(&[leased(2), leased(3)]))
        .await
        .expect("known keys");
    writing.await.expect("the writer ends");
    let marker = frame(&[leased(2), leased(3)], 100);
    relay.writer().write(marker).await.expect("known keys");
    let mut seen_of_1 = Vec::new();
    let mut marked = BTreeSet::new();
    while marked.len() < 2 {
        let delivery = s.recv().await.expect("open until the marker");
        for (key, v) in seen(&delivery) {
            match v {
                100 => drop(marked.insert(key)),
                _ if key == leased(1) => seen_of_1.push(v),
                _ => {}
            }
        }
    }
    let contiguous = seen_of_1.windows(2).all(|w| w[1] == w[0] + 1);
    assert!(
        contiguous,
        "a hole in channel 1 during the update: {seen_of_1:?}"
    );
    drop(s);
    close_clean(&relay).await;
}

/// The node's writes are filtered by exactly the leased keys streamers demand: a streamer of
/// free keys alone adds no storage tap, an update or a close narrows the one tap, and once
/// the last streamer of a leased key has gone no tap is left.
pub async fn storage_taps_only_demanded_leased_keys<R: Runtime>(rt: R) {
    let relay = open(rt).await;
    let taps = || relay.storage().taps();
    let free_only = streamer(&relay, &[free(1)]).await;
    assert!(taps().await.is_empty(), "free keys need no tap");
    let mut a = streamer(&relay, &[leased(1), leased(2), free(2)]).await;
    let b = streamer(&relay, &[leased(2), leased(3)]).await;
    let all = set(&[leased(1), leased(2), leased(3)]);
    assert_eq!(taps().await, [all]);
    a.update(set(&[leased(2)])).await.expect("open");
    assert_eq!(taps().await, [set(&[leased(2), leased(3)])]);
    assert!(b.close().await.is_empty());
    assert_eq!(taps().await, [set(&[leased(2)])]);
    assert!(a.close().await.is_empty());
    assert!(taps().await.is_empty(), "no streamer demands a leased key");
    assert!(free_only.close().await.is_empty());
    let again = streamer(&relay, &[leased(4)]).await;
    assert_eq!(taps().await, [set(&[leased(4)])], "a tap opens again");
    assert!(again.close().await.is_empty());
    close_clean(&relay).await;
}

/// A frame's leased series go through storage and its free ones straight to the fan-out:
/// storage counts each frame holding a leased series, and no frame of free channels only,
/// and a streamer of both kinds gets every part of every frame.
pub async fn storage_takes_only_the_leased_part_of_a_frame<R: Runtime>(rt: R) {
    let relay = open(rt).await;
    let stored = || relay.storage().frames();
    let writer = relay.writer();
    let mut both = streamer(&relay, &[free(1), leased(1)]).await;
    writer.write(frame(&[free(1)], 0)).await.expect("known");
    assert_eq!(stored().await, 0, "a frame of free channels skips storage");
    writer.write(frame(&[leased(1)], 1)).await.expect("known");
    assert_eq!(stored().await, 1, "a frame of leased channels is stored");
    let mixed = frame(&[free(1), leased(1)], 2);
    writer.write(mixed).await.expect("known");
    assert_eq!(stored().await, 2, "a mixed frame's leased part is stored");
    let mut got = Vec::new();
    while got.len() < 4 {
        got.extend(seen(&both.recv().await.expect("open")));
    }
    got.sort();
    let parts = [(free(1), 0), (free(1), 2), (leased(1), 1), (leased(1), 2)];
    assert_eq!(got, parts, "every part once");
    assert!(both.close().await.is_empty(), "nothing more was written");
    close_clean(&relay).await;
}
