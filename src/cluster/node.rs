//! Opening a relay as a node of its cluster, and serving its peers.

use std::sync::Arc;

use super::server::Server;
use crate::net::{Peers, Transport};
use crate::relay::{Relay, RelayConfig, RelayError};
use crate::rt::prelude::*;

/// Opens a relay as one node of a cluster: it serves the peers `listener` accepts (see
/// [`serve`]), and its streamers reach the channels other nodes lease through peer taps
/// that `peers` dials, one per leaseholder with demand.
pub async fn open<R: Runtime, T: Transport>(
    rt: R,
    config: RelayConfig,
    peers: Peers<T>,
    listener: T::Listener,
) -> Relay<R> {
    let relay = Relay::start(rt, config, Some(Arc::new(Arc::new(peers.clone())))).await;
    serve(&relay, peers, listener)
        .await
        .expect("a new relay admits its server");
    relay
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
