//! What a relay refuses before anything starts or after it closed: configurations that
//! cannot work are typed errors (a test per field that can be wrong), and once the close has
//! begun every write is refused, whatever kind of channel it is for. A relay dropped without
//! a close leaves nothing running.

use sigrelay::relay::{ConfigError, Relay, RelayConfig, RelayError, StreamerConfig, WriteError};
use sigrelay::rt::prelude::*;

use super::helpers::*;

pub async fn a_zero_write_capacity_is_refused<R: Runtime>(rt: R) {
    let mut config = RelayConfig::new(NODE, [leased(1)]);
    config.write_capacity = 0;
    let opened = Relay::open(rt, config).await;
    assert_eq!(opened.err(), Some(ConfigError::ZeroWriteCapacity));
}

pub async fn a_zero_streamer_capacity_is_refused<R: Runtime>(rt: R) {
    let relay = open(rt).await;
    let config = StreamerConfig {
        capacity: 0,
        ..StreamerConfig::default()
    };
    let opened = relay.new_streamer(set(&[leased(1)]), config).await;
    let refused = RelayError::Config(ConfigError::ZeroStreamerCapacity);
    assert_eq!(opened.err(), Some(refused));
    let mut fine = streamer(&relay, &[leased(1)]).await;
    relay
        .writer()
        .write(frame(&[leased(1)], 1))
        .await
        .expect("open");
    assert_eq!(seen(&fine.recv().await.expect("open")), [(leased(1), 1)]);
    assert!(fine.close().await.is_empty());
    close_clean(&relay).await;
}

pub async fn writes_after_close_are_refused_on_every_channel_kind<R: Runtime>(rt: R) {
    let relay = open(rt).await;
    let writer = relay.writer();
    close_clean(&relay).await;
    for keys in [&[leased(1)][..], &[free(1)], &[leased(2), free(2)]] {
        let written = writer.write(frame(keys, 1)).await;
        assert!(
            matches!(&written, Err(WriteError::Closed(f)) if *f == frame(keys, 1)),
            "{keys:?}: {written:?}"
        );
    }
}

pub async fn dropping_an_open_relay_leaves_nothing_running<R: Runtime>(rt: R) {
    let relay = open(rt.clone()).await;
    let mut streamer = streamer(&relay, &[leased(1), free(1)]).await;
    let writer = relay.writer();
    writer.write(frame(&[free(1)], 1)).await.expect("open");
    assert_eq!(seen(&streamer.recv().await.expect("open")), [(free(1), 1)]);
    drop(relay);
    let ended = async { while streamer.recv().await.is_some() {} };
    let ended = rt.timeout(std::time::Duration::from_secs(10), ended).await;
    assert!(
        ended.is_ok(),
        "the streamer's routine was cancelled with the relay"
    );
    for keys in [&[leased(1)][..], &[free(1)]] {
        let written = writer.write(frame(keys, 2)).await;
        assert!(
            matches!(written, Err(WriteError::Closed(_))),
            "{keys:?}: {written:?}"
        );
    }
}
