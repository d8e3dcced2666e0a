//! Writer groups on one node: a streamer excluding a group gets nothing its writers write,
//! on gateway (leased) and free channels alike, and everything from other groups and from
//! writers without one; every delivery says which group wrote it.

use std::collections::BTreeSet;

use sigrelay::relay::{ChannelKey, Relay, StreamerConfig, WriterGroup};
use sigrelay::rt::prelude::*;

use super::helpers::*;

const EXCLUDED: WriterGroup = WriterGroup(1);
const OTHER: WriterGroup = WriterGroup(2);

/// The group a value was written by: 1x by [`EXCLUDED`], 2x by [`OTHER`], 3x by a writer
/// without a group.
fn writer_of(value: i64) -> Option<WriterGroup> {
    match value / 10 {
        1 => Some(EXCLUDED),
        2 => Some(OTHER),
        _ => None,
    }
}

/// What a streamer received, per key, until the last value written reached both keys;
/// every delivery's group is checked against the value's writer.
async fn received<R: Runtime>(
    streamer: &mut sigrelay::relay::Streamer<R>,
    keys: &[ChannelKey],
    last: i64,
) -> BTreeSet<(ChannelKey, i64)> {
    let mut got = BTreeSet::new();
    while keys.iter().any(|&k| !got.contains(&(k, last))) {
        let delivery = streamer.recv().await.expect("the streamer is open");
        for (key, value) in seen(&delivery) {
            assert_eq!(delivery.group(), writer_of(value), "{key} {value}");
            got.insert((key, value));
        }
    }
    got
}

async fn open_streamer<R: Runtime>(
    relay: &Relay<R>,
    keys: &[ChannelKey],
    exclude: &[WriterGroup],
) -> sigrelay::relay::Streamer<R> {
    let config = StreamerConfig {
        exclude: exclude.iter().copied().collect(),
        capacity: 64,
        ..StreamerConfig::default()
    };
    let opened = relay.new_streamer(set(keys), config).await;
    opened.expect("known keys")
}

pub async fn excluded_groups_get_nothing_of_their_writers<R: Runtime>(rt: R) {
    let relay = open(rt).await;
    let keys = [leased(1), free(1)];
    let mut excluding = open_streamer(&relay, &keys, &[EXCLUDED]).await;
    let mut everything = open_streamer(&relay, &keys, &[]).await;
    let excluded = relay.writer().in_group(EXCLUDED);
    let other = relay.writer().in_group(OTHER);
    let plain = relay.writer();
    assert_eq!(excluded.group(), Some(EXCLUDED));
    for i in 0..3 {
        for (writer, base) in [(&excluded, 10), (&other, 20), (&plain, 30)] {
            let written = writer.write(frame(&keys, base + i)).await;
            written.expect("known keys");
        }
    }
    let all = |bases: &[i64]| -> BTreeSet<(ChannelKey, i64)> {
        let values = bases.iter().flat_map(|b| (0..3).map(move |i| b + i));
        values.flat_map(|v| keys.map(|k| (k, v))).collect()
    };
    let got = received(&mut excluding, &keys, 32).await;
    assert_eq!(
        got,
        all(&[20, 30]),
        "other groups and ungrouped writers only"
    );
    let got = received(&mut everything, &keys, 32).await;
    assert_eq!(
        got,
        all(&[10, 20, 30]),
        "a streamer excluding nothing gets all"
    );
    for streamer in [excluding, everything] {
        let rest = streamer.close().await;
        assert!(rest.is_empty(), "nothing beyond what was written: {rest:?}");
    }
    close_clean(&relay).await;
}
