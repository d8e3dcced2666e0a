//! One node of a simulated cluster: it writes its channels, streams every other node's with
//! two streamers, closes, and records all of it in the shared journal.

use std::collections::BTreeSet;
use std::time::Duration;

use sigrelay::bugs::Bugs;
use sigrelay::net::{ClusterMap, Credentials, Peers, Transport, TurmoilNet};
use sigrelay::relay::{
    ChannelKey, Frame, NodeId, Policy, Relay, RelayConfig, Samples, Series, Streamer,
    StreamerConfig,
};
use sigrelay::rt::prelude::*;
use sigrelay::rt::Turmoil;

use super::journal::Life;
use super::{host, now, wanted_of, Shared, LATE_OPEN, PERIOD, READS_END, WRITES_END};

const CLUSTER: Credentials = Credentials {
    cluster: 0xc1,
    token: [7; 32],
};

/// How long a close may make no progress before the node is reported stalled.
const STALL: Duration = Duration::from_secs(3);

/// One node's life: open in the cluster, write its own channel, stream every other node's
/// from the start (streamer 0, opened while peers may still be starting) and from 0.5 s
/// (streamer 1, opened with every peer up), then close and record how that went.
pub(super) async fn node(rt: Turmoil, node: u16, nodes: u16, bugs: Bugs, journal: Shared) {
    let start = journal.borrow_mut().start(node);
    let map = (1..=nodes).fold(ClusterMap::new(), |map, n| {
        map.with(NodeId(n), format!("{}:7000", host(n)))
    });
    let peers = Peers::new(TurmoilNet, map, CLUSTER, NodeId(node));
    let listener = TurmoilNet
        .bind("0.0.0.0:7000")
        .await
        .expect("the port is free");
    let config = RelayConfig::new(NodeId(node), (1..=nodes).flat_map(|n| wanted_of(n, 1)));
    let config = config.bugs(bugs);
    let relay = sigrelay::cluster::open(rt.clone(), config, peers, listener)
        .await
        .expect("a valid configuration");
    let stream = |which: u8, from: Duration| {
        let (relay, journal) = (relay.clone(), journal.clone());
        let others = (1..=nodes).filter(|&n| n != node);
        let wanted: BTreeSet<ChannelKey> = others.flat_map(|n| wanted_of(n, which)).collect();
        let rt = rt.clone();
        async move {
            rt.sleep(from.saturating_sub(now())).await;
            let config = StreamerConfig {
                policy: Policy::Lossless,
                capacity: 256,
                ..StreamerConfig::default()
            };
            let streamer = relay.new_streamer(wanted, config).await;
            let life = (node, start, which);
            journal.borrow_mut().opened(life);
            read(&rt, streamer.expect("known keys"), life, &journal).await;
        }
    };
    let writer = relay.writer();
    let write = async {
        let mut n = 0;
        while now() < WRITES_END {
            let value = i64::from(start) * 1_000_000 + n;
            let series = wanted_of(node, 1).map(|key| {
                journal.borrow_mut().write(key, value, now());
                Series {
                    key,
                    timestamps: vec![value],
                    samples: Samples::I64(vec![value]),
                }
            });
            let frame = Frame::new(series.collect()).expect("distinct keys");
            writer.write(frame).await.expect("leased here");
            n += 1;
            rt.sleep(PERIOD).await;
        }
    };
    tokio::join!(write, stream(0, Duration::ZERO), stream(1, LATE_OPEN));
    let census = relay.census().await;
    let running = census.live.iter().map(|r| r.path.to_string()).collect();
    journal.borrow_mut().running(node, start, running);
    let outcome = close(&rt, &relay).await;
    for which in 0..2 {
        journal
            .borrow_mut()
            .closed((node, start, which), outcome.clone());
    }
}

/// Records what `streamer` delivers until the reads end, then closes it (draining).
async fn read(rt: &Turmoil, mut streamer: Streamer<Turmoil>, life: Life, journal: &Shared) {
    let end = rt.sleep(READS_END.saturating_sub(now()));
    let mut end = std::pin::pin!(end);
    loop {
        sigrelay::select! {
            () = &mut end => break,
            delivery = streamer.recv() => match delivery {
                Some(delivery) => journal.borrow_mut().delivered(life, &delivery, now()),
                None => break,
            },
        }
    }
    for delivery in streamer.close().await {
        journal.borrow_mut().delivered(life, &delivery, now());
    }
}

/// Closes `relay`; a close that stalls is reported with the routines still running — the
/// node's blocked tasks.
async fn close(rt: &Turmoil, relay: &Relay<Turmoil>) -> Result<(), String> {
    let closing = rt.timeout(STALL, relay.close(Duration::from_secs(1))).await;
    let left: Vec<String> = relay
        .census()
        .await
        .live
        .iter()
        .map(|r| r.path.to_string())
        .collect();
    match closing {
        Err(_) => Err(format!(
            "stalled: close made no progress for {STALL:?}; still running: {}",
            left.join(", ")
        )),
        Ok(Err(e)) => Err(e.to_string()),
        Ok(Ok(report)) if !report.is_clean() => Err(format!("force-closed {:?}", report.forced)),
        Ok(Ok(_)) if !left.is_empty() => {
            Err(format!("closed, yet still running: {}", left.join(", ")))
        }
        Ok(Ok(_)) => Ok(()),
    }
}
