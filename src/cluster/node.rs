//! Opening a relay as a node of its cluster, and serving its peers.

use std::sync::Arc;

use super::server::Server;
use crate::net::{Peers, Transport};
use crate::relay::{ConfigError, Relay, RelayConfig, RelayError};
use crate::rt::prelude::*;

/// Opens a relay as one node of a cluster: it serves the peers `listener` accepts (see
/// [`serve`]), and its streamers reach the channels other nodes lease through peer taps
/// that `peers` dials, one per leaseholder with demand.
///
/// A configuration that cannot work — the relay's, or peers whose map lacks a leaseholder
/// of the relay's channels or whose limits contradict each other — is refused before
/// anything starts.
pub async fn open<R: Runtime, T: Transport>(
    rt: R,
    config: RelayConfig,
    peers: Peers<T>,
    listener: T::Listener,
) -> Result<Relay<R>, ConfigError> {
    config.check()?;
    check(&config, &peers)?;
    let relay = Relay::start(rt, config, Some(Arc::new(Arc::new(peers.clone())))).await;
    serve(&relay, peers, listener)
        .await
        .expect("a new relay admits its server");
    Ok(relay)
}

/// Whether `peers` can serve a relay of `config`.
fn check<T>(config: &RelayConfig, peers: &Peers<T>) -> Result<(), ConfigError> {
    let unmapped = config.channels.iter().find(|k| {
        let leaseholder = k.leaseholder();
        leaseholder.is_some_and(|n| n != config.node && peers.map.address(n).is_none())
    });
    if let Some(key) = unmapped {
        return Err(ConfigError::UnmappedLeaseholder(*key));
    }
    if peers.silence <= peers.beat {
        return Err(ConfigError::SilenceWithinBeat);
    }
    match (peers.max_message, peers.peer_buffer) {
        (0, _) => Err(ConfigError::ZeroMaxMessage),
        (_, 0) => Err(ConfigError::ZeroPeerBuffer),
        _ => Ok(()),
    }
}

/// Serves peers of other nodes from `relay`: every connection `listener` accepts is
/// admitted by `peers` (the handshake) and streams the keys the peer asks for. Runs until
/// the relay closes, which stops the servers first.
pub async fn serve<R: Runtime, T: Transport>(
    relay: &Relay<R>,
    peers: Peers<T>,
    listener: T::Listener,
) -> Result<(), RelayError> {
    let server = Server::new(relay.downgrade(), peers);
    let started = relay
        .servers()
        .go("listener", |ctx| server.listen(ctx, listener));
    started.await.map_err(|_| RelayError::Closed)
}
