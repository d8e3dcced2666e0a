//! The relay of one node: opening it starts the delta, the tapper and the streamers' group as
//! routines of one signal group; closing it stops them in order.
//!
//! Close order: servers of peers first (each closes the streamer it serves), then streamers
//! (their owners close them, or the relay force-closes those
//! still open at the deadline and reports them), then the tapper (its demand inlet is given
//! up once no streamer can send on it, and it closes its taps; peer taps, its child routines,
//! drop their connections without a round trip), then the delta (it fans out
//! what its inlet still holds and exits). When `close` returns, no routine of the relay is
//! left running.

use std::collections::BTreeSet;
use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use super::delta::{Delta, DeltaHandle};
use super::error::{CloseError, CloseReport, ConfigError, RelayError};
use super::keys::Keys;
use super::reached;
use super::remote::StartTap;
use super::storage::Storage;
use super::streamer::{
    DemandInlet, DemandSlot, Demandable, Place, Streamer, StreamerConfig, StreamerTask,
};
use super::tapper::{Demand, Tapper};
use super::writer::Writer;
use crate::bugs::{Bug, Bugs};
use crate::frame::{ChannelKey, NodeId};
use crate::rt::prelude::*;
use crate::rt::{coverage, Tokio};
use crate::signal::{Census, FailurePolicy, Group};

/// What a relay serves and how large its buffers are.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct RelayConfig {
    /// This node.
    pub node: NodeId,
    /// The channels streamers may demand and writers may write: those this node leases and
    /// the free ones.
    pub channels: BTreeSet<ChannelKey>,
    /// Frames and gap markers from other nodes the delta's inlet holds.
    pub write_capacity: usize,
    bugs: Bugs,
}

impl RelayConfig {
    /// A relay of `node` serving `channels`, with default buffers.
    pub fn new(node: NodeId, channels: impl IntoIterator<Item = ChannelKey>) -> Self {
        RelayConfig {
            node,
            channels: channels.into_iter().collect(),
            write_capacity: 64,
            bugs: Bugs::NONE,
        }
    }

    /// Whether the relay can run with this configuration.
    pub(crate) fn check(&self) -> Result<(), ConfigError> {
        match self.write_capacity {
            0 => Err(ConfigError::ZeroWriteCapacity),
            _ => Ok(()),
        }
    }

    /// Reintroduces catalogued bugs: the harness's lever.
    #[doc(hidden)]
    pub fn bugs(mut self, bugs: Bugs) -> Self {
        self.bugs = bugs;
        self
    }
}

/// A running relay. Cheap to clone: clones share it. Dropping the last handle without
/// [`close`](Relay::close) cancels every routine of the relay (and logs a warning): nothing
/// is left running, though streamers are not drained as a close drains them.
#[must_use = "dropping the last handle of a relay cancels it; close it instead"]
pub struct Relay<R: Runtime = Tokio> {
    inner: Arc<Inner<R>>,
}

struct Inner<R: Runtime> {
    rt: R,
    node: NodeId,
    /// The channels writers may name, in key order (see [`Writer`]).
    channels: Arc<[ChannelKey]>,
    /// The channels writers may write: free, or leased by this node.
    writable: Arc<Keys>,
    demandable: Arc<Demandable>,
    bugs: Bugs,
    group: Group<RelayError, R>,
    streamers: Group<RelayError, R>,
    servers: Group<RelayError, R>,
    delta: DeltaHandle<R>,
    storage: Storage<R>,
    demands: DemandSlot<R>,
    tapper_done: R::Mutex<Option<R::OneshotReceiver<()>>>,
    next_id: AtomicU64,
    closing: Arc<AtomicBool>,
}

const STARTS: &str = "a new relay group admits its routines";

impl<R: Runtime> Relay<R> {
    /// Opens a relay on its own: streamers reach the channels this node leases and the free
    /// ones. A configuration that cannot work is refused before anything starts.
    pub async fn open(rt: R, config: RelayConfig) -> Result<Self, ConfigError> {
        config.check()?;
        Ok(Self::start(rt, config, None).await)
    }

    /// Starts the delta, the tapper (with peer taps if `taps`) and the streamers' and
    /// servers' scopes.
    pub(crate) async fn start(
        rt: R,
        config: RelayConfig,
        taps: Option<Arc<dyn StartTap<R>>>,
    ) -> Self {
        let clustered = taps.is_some();
        let group = Group::new(rt.clone(), "relay");
        let (inlet, remote) = rt.channel("relay:remote", config.write_capacity);
        let (delta, handle) = Delta::new(rt.clone(), remote);
        let delta = delta.bugs(config.bugs);
        let run_delta = |ctx: crate::signal::Context<RelayError, R>| async move {
            delta.run_until(ctx.drained()).await;
            Ok(())
        };
        group.go("delta", run_delta).await.expect(STARTS);
        let storage = Storage::new(rt.clone());
        let mut tapper = Tapper::new(config.node, storage.clone(), handle.clone(), inlet);
        (tapper.bugs, tapper.peers) = (config.bugs, taps);
        let (demands, tapper_done) = start_tapper(&group, tapper).await;
        let streamers = start_scope(&group, "streamers").await;
        let servers = start_scope(&group, "servers").await;
        let demandable = demandable(config.node, config.channels, clustered);
        let inner = Inner {
            channels: demandable.channels.iter().copied().collect(),
            writable: writable(config.node, &demandable.channels),
            demandable,
            node: config.node,
            bugs: config.bugs,
            demands: Arc::new(rt.mutex("relay:demands", Some(demands))),
            tapper_done: rt.mutex("relay:tapper-done", Some(tapper_done)),
            rt,
            group,
            streamers,
            servers,
            delta: handle,
            storage,
            next_id: AtomicU64::new(1),
            closing: Arc::new(AtomicBool::new(false)),
        };
        Relay {
            inner: Arc::new(inner),
        }
    }

    /// Opens a streamer of `keys`. Returns after the open-ack: from then on, every frame
    /// written to one of `keys` reaches it.
    pub async fn new_streamer(
        &self,
        keys: BTreeSet<ChannelKey>,
        config: StreamerConfig,
    ) -> Result<Streamer<R>, RelayError> {
        let inner = &*self.inner;
        if inner.closing.load(Ordering::Acquire) {
            return Err(RelayError::Closed);
        }
        if config.capacity == 0 {
            return Err(RelayError::Config(ConfigError::ZeroStreamerCapacity));
        }
        inner.demandable.check(&keys)?;
        let raced = || {
            coverage::reached(reached::CLOSE_RACED_STARTING_STREAMER);
            RelayError::Closed
        };
        let demands = match inner.bugs.has(Bug::H1CloseRacesStartingStreamer) {
            true => DemandInlet::Lazy(inner.demands.clone()),
            false => DemandInlet::Taken(inner.demands.lock().await.clone().ok_or_else(raced)?),
        };
        let id = inner.next_id.fetch_add(1, Ordering::Relaxed);
        let (requests, requests_rx) = inner.rt.channel(&format!("streamer-{id}:requests"), 4);
        let (opened, opened_rx) = inner.rt.oneshot("streamer:opened");
        let (closed, closed_rx) = inner.rt.oneshot("streamer:closed");
        let place = Place {
            id,
            config,
            demandable: inner.demandable.clone(),
            delta: inner.delta.clone(),
        };
        let task = StreamerTask {
            place,
            keys,
            demands,
            requests: requests_rx,
            opened,
            closed,
        };
        let routine = inner.streamers.routine(&format!("streamer-{id}"));
        let started = routine
            .on_failure(FailurePolicy::Isolate)
            .go(|ctx| task.run(ctx));
        started.await.map_err(|_| raced())?;
        let responses = opened_rx.await.map_err(|_| raced())??;
        Ok(Streamer {
            id,
            rt: inner.rt.clone(),
            requests,
            responses,
            closed: closed_rx,
            bugs: inner.bugs,
        })
    }

    /// A handle that does not keep the relay open: what routines of the relay hold.
    pub(crate) fn downgrade(&self) -> WeakRelay<R> {
        WeakRelay(Arc::downgrade(&self.inner))
    }

    /// The scope the cluster layer's servers run in: the first the relay stops.
    pub(crate) fn servers(&self) -> &Group<RelayError, R> {
        &self.inner.servers
    }

    /// A writer into this relay.
    pub fn writer(&self) -> Writer<R> {
        let inner = &*self.inner;
        Writer {
            node: inner.node,
            group: None,
            closing: inner.closing.clone(),
            channels: inner.channels.clone(),
            writable: inner.writable.clone(),
            storage: inner.storage.clone(),
            delta: inner.delta.clone(),
        }
    }

    pub(crate) fn runtime(&self) -> &R {
        &self.inner.rt
    }

    pub(crate) fn bugs(&self) -> Bugs {
        self.inner.bugs
    }

    /// The relay's local storage.
    pub fn storage(&self) -> &Storage<R> {
        &self.inner.storage
    }

    /// The relay's routines: live ones and recently ended ones.
    pub async fn census(&self) -> Census {
        self.inner.group.census().await
    }

    /// Closes the relay: stops serving peers (each server closes its streamer), waits up to
    /// `deadline` for owners to close their streamers, force-closes the rest, then stops the
    /// tapper and the delta. No routine of the relay is
    /// running when this returns, whatever it returns.
    pub async fn close(&self, deadline: Duration) -> Result<CloseReport, CloseError> {
        let inner = &*self.inner;
        if inner.closing.swap(true, Ordering::AcqRel) {
            return Err(CloseError::AlreadyClosed);
        }
        if inner.bugs.has(Bug::H1CloseRacesStartingStreamer) {
            drop(inner.demands.lock().await.take());
        }
        inner.servers.close().await;
        inner.servers.cancel().await;
        inner.servers.stopped().await;
        let forced = self.close_streamers(deadline).await;
        let report = CloseReport { forced };
        if inner.bugs.has(Bug::B13LostCancel) && !report.is_clean() {
            return Ok(report);
        }
        drop(inner.demands.lock().await.take());
        if let Some(tapper_done) = inner.tapper_done.lock().await.take() {
            let _ = tapper_done.await;
        }
        inner.group.drain().await;
        inner.group.wait().await.map_err(CloseError::Failed)?;
        Ok(report)
    }

    /// Stops admitting streamers and waits for them until `deadline`; then cancels those
    /// still open and returns their paths.
    async fn close_streamers(&self, deadline: Duration) -> Vec<String> {
        let inner = &*self.inner;
        inner.streamers.close().await;
        if inner
            .rt
            .timeout(deadline, inner.streamers.stopped())
            .await
            .is_ok()
        {
            return Vec::new();
        }
        let census = inner.streamers.census().await;
        let forced = census.live.iter().map(|r| r.path.to_string()).collect();
        if !inner.bugs.has(Bug::B13LostCancel) {
            inner.streamers.cancel().await;
            inner.streamers.stopped().await;
        }
        forced
    }
}

/// What streamers of relay `node` serving `channels` may demand.
fn demandable(node: NodeId, channels: BTreeSet<ChannelKey>, clustered: bool) -> Arc<Demandable> {
    let remote = |k: &&ChannelKey| !clustered && k.leaseholder().is_some_and(|n| n != node);
    let unreachable = channels.iter().filter(remote).copied().collect();
    Arc::new(Demandable {
        channels: Arc::new(channels),
        unreachable,
    })
}

/// The channels of `channels` that writers of `node` may write, in key order.
fn writable(node: NodeId, channels: &BTreeSet<ChannelKey>) -> Arc<Keys> {
    let writable = |k: &&ChannelKey| k.leaseholder().is_none_or(|n| n == node);
    Arc::new(Keys::new(
        channels.iter().filter(writable).copied().collect(),
    ))
}

async fn start_tapper<R: Runtime>(
    group: &Group<RelayError, R>,
    tapper: Tapper<R>,
) -> (R::Sender<Demand<R>>, R::OneshotReceiver<()>) {
    let rt = group.runtime();
    let (demands, requests) = rt.channel("relay:demands", 16);
    let (done, tapper_done) = rt.oneshot("relay:tapper-done");
    let run = |ctx| async move {
        let _done = done;
        tapper.run(ctx, requests).await
    };
    group.go("tapper", run).await.expect(STARTS);
    (demands, tapper_done)
}

/// Starts routine `name`, whose scope holds one kind of the relay's routines (streamers,
/// servers) until the relay closes, and returns that scope.
async fn start_scope<R: Runtime>(group: &Group<RelayError, R>, name: &str) -> Group<RelayError, R> {
    let (scope, scope_rx) = group.runtime().oneshot(&format!("relay:{name}-scope"));
    let hold = |ctx: crate::signal::Context<RelayError, R>| async move {
        let _ = scope.send(ctx.scope().clone());
        ctx.drained().await;
        Ok(())
    };
    group.go(name, hold).await.expect(STARTS);
    scope_rx.await.expect(STARTS)
}

/// The last handle of a relay that was never closed: writers still held are refused from
/// now on, and the group's last owning handle goes with it, which cancels every routine of
/// the relay.
impl<R: Runtime> Drop for Inner<R> {
    fn drop(&mut self) {
        if !self.closing.swap(true, Ordering::AcqRel) {
            tracing::warn!(
                node = self.node.0,
                "a relay was dropped without close: cancelling it"
            );
        }
    }
}

/// A relay as its own routines see it: present while some handle keeps it open.
pub(crate) struct WeakRelay<R: Runtime>(Weak<Inner<R>>);

impl<R: Runtime> WeakRelay<R> {
    /// The relay, unless its last handle is gone.
    pub(crate) fn upgrade(&self) -> Option<Relay<R>> {
        let inner = self.0.upgrade()?;
        Some(Relay { inner })
    }
}

impl<R: Runtime> Clone for WeakRelay<R> {
    fn clone(&self) -> Self {
        WeakRelay(self.0.clone())
    }
}

impl<R: Runtime> Clone for Relay<R> {
    fn clone(&self) -> Self {
        Relay {
            inner: self.inner.clone(),
        }
    }
}

impl<R: Runtime> fmt::Debug for Relay<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let node = self.inner.node;
        f.debug_struct("Relay").field("node", &node).finish()
    }
}
