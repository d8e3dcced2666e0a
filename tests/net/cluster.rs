//! What the network tests share: the server node, the cluster's credentials, how a node's
//! peers are set up, the runners of each backend, a macro that runs a body on all four
//! network backends, and a two-node turmoil cluster whose leaseholder host writes without end.

use std::future::Future;
use std::time::Duration;

use sigrelay::check::TurmoilCheck;
use sigrelay::net::{ClusterMap, Credentials, Listener, Peers, Transport, TurmoilNet};
use sigrelay::relay::{ChannelKey, Frame, NodeId, RelayConfig, Samples, Series};
use sigrelay::rt::prelude::*;
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

/// The port `listener` listens at.
pub fn port<L: Listener>(listener: &L) -> String {
    let address = listener.local_address().expect("bound");
    address.rsplit(':').next().expect("host:port").to_string()
}

/// Runs `body` on a current-thread tokio runtime with real sockets.
pub fn on_tokio(body: impl Future<Output = ()>) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build();
    rt.expect("a runtime builds").block_on(body);
}

/// Runs `body` on a current-thread tokio runtime whose clock is paused: it jumps to the next
/// timer whenever every task waits, so timings hold however loaded the machine is.
pub fn on_paused_tokio(body: impl Future<Output = ()>) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .start_paused(true)
        .build();
    rt.expect("a runtime builds").block_on(body);
}

/// Runs `body` under `runs` random and `runs` PCT shuttle schedules from `seed`. Reports
/// say the body was spawned where this is called.
#[track_caller]
pub fn on_shuttle<F, Fut>(runs: usize, seed: u64, body: F)
where
    F: Fn(sigrelay::rt::Shuttle) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = ()>,
{
    use sigrelay::check::{ShuttleCheck, Strategy};
    for strategy in [Strategy::Random, Strategy::Pct { depth: 3 }] {
        ShuttleCheck::new(strategy, runs)
            .seed(seed)
            .run(body.clone());
    }
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

/// The node the turmoil host "leaseholder" runs.
pub const LEASEHOLDER: NodeId = NodeId(2);
/// The node the body ("main") runs.
pub const GATEWAY: NodeId = NodeId(1);

/// Channel `n` of the leaseholder.
pub fn leased_elsewhere(n: u16) -> ChannelKey {
    ChannelKey::leased(LEASEHOLDER, n)
}

/// Where the two nodes listen.
pub fn map() -> ClusterMap {
    ClusterMap::new()
        .with(LEASEHOLDER, "leaseholder:7000")
        .with(GATEWAY, "main:7000")
}

/// The leaseholder: writes a frame of its channels 1 and 2 every 5 ms, forever.
pub async fn leaseholder(rt: Turmoil) {
    let listener = TurmoilNet.bind("0.0.0.0:7000").await.expect("a free port");
    let peers = Peers::new(TurmoilNet, map(), CLUSTER, LEASEHOLDER);
    let keys = [leased_elsewhere(1), leased_elsewhere(2)];
    let config = RelayConfig::new(LEASEHOLDER, keys);
    let relay = sigrelay::cluster::open(rt.clone(), config, peers, listener)
        .await
        .expect("a valid configuration");
    for value in 0.. {
        let series = keys.map(|key| Series {
            key,
            timestamps: vec![value],
            samples: Samples::I64(vec![value]),
        });
        let frame = Frame::new(series.to_vec()).expect("distinct keys");
        relay.writer().write(frame).await.expect("leased here");
        rt.sleep(Duration::from_millis(5)).await;
    }
}

/// One test per body with real TCP on tokio, with the in-memory network on tokio and under
/// shuttle, and with turmoil's network. The calling module names `SHUTTLE_RUNS`, the
/// schedules of each shuttle strategy, and `SEED`.
macro_rules! across_nodes {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[test]
                fn tokio_tcp() {
                    super::super::cluster::on_tokio(super::$name(
                        sigrelay::rt::Tokio,
                        sigrelay::net::Tcp,
                    ));
                }
                #[test]
                fn shuttle_memory() {
                    super::super::cluster::on_shuttle(super::SHUTTLE_RUNS, super::SEED, |rt| {
                        super::$name(rt, sigrelay::net::MemoryNet::new())
                    });
                }
                #[test]
                fn tokio_memory() {
                    super::super::cluster::on_tokio(super::$name(
                        sigrelay::rt::Tokio,
                        sigrelay::net::MemoryNet::new(),
                    ));
                }
                #[test]
                fn turmoil_net() {
                    let check = sigrelay::check::TurmoilCheck::new(super::SEED);
                    super::super::cluster::on_turmoil(check, |rt| {
                        super::$name(rt, sigrelay::net::TurmoilNet)
                    });
                }
            }
        )*
    };
}
pub(crate) use across_nodes;
