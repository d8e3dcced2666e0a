//! What the relay suites share: keys, frames, a relay of node 1 and what a streamer saw,
//! and a way to give up an operation part-way.

use std::collections::BTreeSet;
use std::time::Duration;

use sigrelay::relay::{
    ChannelKey, Delivery, Frame, NodeId, Relay, RelayConfig, Samples, Series, Streamer,
    StreamerConfig,
};
use sigrelay::rt::prelude::*;

pub const NODE: NodeId = NodeId(1);
pub const DEADLINE: Duration = Duration::from_millis(50);

/// Channel `n` leased by node 1.
pub fn leased(n: u16) -> ChannelKey {
    ChannelKey::leased(NODE, n)
}

/// Free channel `n`.
pub fn free(n: u16) -> ChannelKey {
    ChannelKey::free(n)
}

pub fn set(keys: &[ChannelKey]) -> BTreeSet<ChannelKey> {
    keys.iter().copied().collect()
}

/// A frame with one sample `value` (also its timestamp) for each of `keys`.
pub fn frame(keys: &[ChannelKey], value: i64) -> Frame {
    let series = keys.iter().map(|&key| Series {
        key,
        timestamps: vec![value],
        samples: Samples::I64(vec![value]),
    });
    Frame::new(series.collect()).expect("distinct keys")
}

/// The relay of node 1 serving leased channels 1–4 and free channels 1–2.
pub async fn open<R: Runtime>(rt: R) -> Relay<R> {
    let channels = (1..=4).map(leased).chain((1..=2).map(free));
    Relay::open(rt, RelayConfig::new(NODE, channels))
        .await
        .expect("a valid configuration")
}

pub async fn streamer<R: Runtime>(relay: &Relay<R>, keys: &[ChannelKey]) -> Streamer<R> {
    let config = StreamerConfig::default();
    let opened = relay.new_streamer(set(keys), config).await;
    opened.expect("known keys open")
}

/// `(key, value)` for each series of a delivery.
pub fn seen(delivery: &Delivery) -> Vec<(ChannelKey, i64)> {
    let series = delivery.series();
    series.map(|s| (s.key, s.timestamps[0])).collect()
}

/// Everything a list of deliveries carried, flattened.
pub fn all_seen(deliveries: &[Delivery]) -> Vec<(ChannelKey, i64)> {
    deliveries.iter().flat_map(seen).collect()
}

/// Closes `relay`, expecting every streamer closed by its owner and nothing left running.
pub async fn close_clean<R: Runtime>(relay: &Relay<R>) {
    let report = relay.close(DEADLINE).await.expect("no routine failed");
    assert!(report.is_clean(), "force-closed: {:?}", report.forced);
    let census = relay.census().await;
    assert!(census.live.is_empty(), "left running: {:?}", census.live);
}

/// Runs `attempt` for `polls` polls of the calling task, then drops it unless it is done.
pub async fn give_up_after<R: Runtime, F: std::future::Future>(
    rt: &R,
    polls: usize,
    attempt: F,
) -> Option<F::Output> {
    let patience = async {
        for _ in 0..polls {
            rt.yield_now().await;
        }
    };
    sigrelay::select! {
        () = patience => None,
        done = attempt => Some(done),
    }
}
