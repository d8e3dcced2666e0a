//! What the network tests share: the server node, the cluster's credentials, how a node's
//! peers are set up, and the two transports' runners.

use std::future::Future;

use sigrelay::check::TurmoilCheck;
use sigrelay::net::{ClusterMap, Credentials, Peers, Transport};
use sigrelay::relay::NodeId;
use sigrelay::rt::Turmoil;

pub const SERVER: NodeId = NodeId(1);
pub const CLUSTER: Credentials = Credentials {
    cluster: 0xc1,
    token: [7; 32],
};

/// Node `me`'s peers with these credentials; the server listens at `server`.
pub fn peers<T: Transport>(
    transport: T,
    me: NodeId,
    server: &str,
    credentials: Credentials,
) -> Peers<T> {
    let map = ClusterMap::new().with(SERVER, server);
    Peers {
        max_message: 64 * 1024,
        ..Peers::new(transport, map, credentials, me)
    }
}

/// Runs `body` on a current-thread tokio runtime with real sockets.
pub fn on_tokio(body: impl Future<Output = ()>) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build();
    rt.expect("a runtime builds").block_on(body);
}

/// Runs `body` as turmoil's client "main" beside the hosts of `check`.
pub fn on_turmoil<F, Fut>(check: TurmoilCheck, body: F)
where
    F: FnOnce(Turmoil) -> Fut + 'static,
    Fut: Future<Output = ()> + 'static,
{
    if let Err(failure) = check.try_run(body) {
        panic!("{failure}");
    }
}
