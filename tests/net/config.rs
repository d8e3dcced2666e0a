//! What `cluster::open` refuses before anything starts: peers that cannot reach a
//! leaseholder of the relay's channels, and peer limits that contradict each other.

use std::time::Duration;

use sigrelay::net::{ClusterMap, Listener, Peers, Tcp, Transport};
use sigrelay::relay::{ChannelKey, ConfigError, NodeId, RelayConfig};
use sigrelay::rt::Tokio;

use super::cluster::{on_tokio, CLUSTER};

/// What `cluster::open` says of node 1 with `peers` changed by `change`, serving its own
/// channel and `other`.
async fn opened(other: ChannelKey, change: fn(&mut Peers<Tcp>)) -> Result<(), ConfigError> {
    let listener = Tcp.bind("127.0.0.1:0").await.expect("a free port");
    let map = ClusterMap::new()
        .with(NodeId(1), listener.local_address().expect("bound"))
        .with(NodeId(2), "127.0.0.1:9");
    let mut peers = Peers::new(Tcp, map, CLUSTER, NodeId(1));
    change(&mut peers);
    let config = RelayConfig::new(NodeId(1), [ChannelKey::leased(NodeId(1), 1), other]);
    let relay = sigrelay::cluster::open(Tokio, config, peers, listener).await?;
    let report = relay.close(Duration::from_secs(1)).await.expect("closes");
    assert!(report.is_clean());
    Ok(())
}

#[test]
fn a_leaseholder_missing_from_the_map_is_refused() {
    on_tokio(async {
        let mapped = ChannelKey::leased(NodeId(2), 1);
        assert_eq!(
            opened(mapped, |_| {}).await,
            Ok(()),
            "a mapped leaseholder opens"
        );
        let unmapped = ChannelKey::leased(NodeId(3), 1);
        let refused = ConfigError::UnmappedLeaseholder(unmapped);
        assert_eq!(opened(unmapped, |_| {}).await, Err(refused));
    });
}

#[test]
fn a_silence_within_the_beat_is_refused() {
    on_tokio(async {
        let other = ChannelKey::free(1);
        let refused = Err(ConfigError::SilenceWithinBeat);
        assert_eq!(opened(other, |p| p.silence = p.beat).await, refused);
    });
}

#[test]
fn a_zero_maximum_message_is_refused() {
    on_tokio(async {
        let other = ChannelKey::free(1);
        let refused = Err(ConfigError::ZeroMaxMessage);
        assert_eq!(opened(other, |p| p.max_message = 0).await, refused);
    });
}

#[test]
fn a_zero_peer_buffer_is_refused() {
    on_tokio(async {
        let other = ChannelKey::free(1);
        let refused = Err(ConfigError::ZeroPeerBuffer);
        assert_eq!(opened(other, |p| p.peer_buffer = 0).await, refused);
    });
}
