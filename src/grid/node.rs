//! A grid node: the lease its actors stand on, the actors it runs, and the routines that
//! serve its peers.
//!
//! # Generations
//! A node holds one lease at a time — a *generation*. Every actor it starts claims its name
//! under that lease and runs as a routine of the generation's group. When the lease can no
//! longer be proven (`lease::hold` returns, `margin` before the coordinator could end it),
//! the generation's actors are cancelled at once and aborted after half the margin, so no
//! actor acts on a name another node may already have claimed. The node then grants a new
//! lease and serves new starts again: an outage of the coordinator stops the actors that
//! depended on it, not the node (the Go grid stopped every peer).
//!
//! # Names on one node
//! The node's table of actors is what makes a name unique *on* it: re-registering a key
//! under the same lease returns the same fence, so two starts of one name on one node
//! would both "win" without it. Within a generation a name stays in the table until its
//! release is settled; when a generation ends, its names leave the table (their keys end
//! with the lease). Releases run apart from the actor — a cut coordinator can make them
//! retry for a while, into the next generation — and are by fence, so a late retry never
//! deletes a newer holder's key (G2 deleted by address: the same node's next claim).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use super::actor::{ActorError, Definitions, Erased};
use super::coordinator::{CoordError, Coordinator, Fence, LeaseId};
use super::fences::Book;
use super::leader::LeaderConfig;
use super::lease::hold;
use super::registry::{Claim, ClaimError, Registry};
use super::wire::{Call, Failure, Refused};
use crate::bugs::{Bug, Bugs};
use crate::frame::NodeId;
use crate::net::Peers;
use crate::rt::{Mutex, Runtime, WatchReceiver, WatchSender};
use crate::signal::{Context, FailurePolicy, Fault, Group, ShutdownPlan};

/// How a node keeps its lease and serves its peers.
#[derive(Debug, Clone)]
pub struct GridConfig {
    /// The namespace of its actors' names.
    pub namespace: String,
    /// The node's lease, kept as a leader candidate keeps its own.
    pub lease: LeaderConfig,
    /// The election whose fences this node checks on fenced calls, if any.
    pub election: Option<String>,
    /// How long past a call's timeout a caller waits for the answer to cross the network.
    pub reply_slack: Duration,
    /// Reintroduced catalogue bugs (G2, G4, G5): the harness's lever; empty by default.
    #[doc(hidden)]
    pub bugs: Bugs,
}

impl GridConfig {
    /// Names in `namespace`, a 10 s lease, no election, 100 ms of slack.
    pub fn new(namespace: &str) -> Self {
        Self {
            namespace: namespace.to_string(),
            lease: LeaderConfig::default(),
            election: None,
            reply_slack: Duration::from_millis(100),
            bugs: Bugs::NONE,
        }
    }
}

/// An actor this node runs, or is starting.
struct Local {
    lease: LeaseId,
    /// `None` while its name is being claimed.
    running: Option<(Fence, Arc<dyn Erased>)>,
}

/// One lease and the actors standing on it.
struct Generation<R: Runtime> {
    lease: LeaseId,
    actors: Group<ActorError, R>,
}

struct State<R: Runtime> {
    generation: Option<Generation<R>>,
    actors: BTreeMap<String, Local>,
}

pub(crate) struct Inner<R: Runtime, C, T> {
    pub(crate) rt: R,
    pub(crate) coordinator: C,
    pub(crate) peers: Peers<T>,
    pub(crate) config: GridConfig,
    definitions: Definitions<R>,
    pub(crate) group: Group<ActorError, R>,
    state: R::Mutex<State<R>>,
    pub(crate) book: R::Mutex<Book>,
    leased: R::WatchSender<Option<LeaseId>>,
    /// Kept so the lease cell stores its writes: a cell with no reader refuses them.
    _leased: R::WatchReceiver<Option<LeaseId>>,
}

type Ctx<R> = Context<ActorError, R>;

impl<R: Runtime, C: Coordinator, T: Send + Sync + 'static> Inner<R, C, T> {
    pub(crate) fn new(
        rt: R,
        coordinator: C,
        peers: Peers<T>,
        definitions: Definitions<R>,
        config: GridConfig,
    ) -> Self {
        let name = format!("grid/node-{}", peers.me.0);
        let group = Group::builder(rt.clone(), &name)
            .failure_policy(FailurePolicy::Isolate)
            .build();
        let state = State {
            generation: None,
            actors: BTreeMap::new(),
        };
        let (leased, _leased) = rt.watch(&format!("{name}/lease"), None);
        Self {
            state: rt.mutex(&format!("{name}/actors"), state),
            book: rt.mutex(&format!("{name}/fences"), Book::default()),
            rt,
            coordinator,
            peers,
            config,
            definitions,
            group,
            leased,
            _leased,
        }
    }

    pub(crate) fn me(&self) -> NodeId {
        self.peers.me
    }

    /// Waits until the node holds a lease.
    pub(crate) async fn leased(&self) {
        let mut leased = self.leased.subscribe();
        while leased.current().is_none() {
            if leased.changed().await.is_err() {
                return;
            }
        }
    }

    /// The mailbox of the local actor `name`, if it runs here.
    async fn mailbox(&self, name: &str) -> Option<Arc<dyn Erased>> {
        let state = self.state.lock().await;
        let running = state.actors.get(name).and_then(|l| l.running.as_ref());
        running.map(|(_, mailbox)| mailbox.clone())
    }

    /// Checks a call (a fenced one must carry a current fence) and queues it in its
    /// actor's mailbox.
    pub(crate) async fn answer(&self, call: Call) -> Result<Vec<u8>, Failure> {
        let Call {
            name,
            body,
            busy,
            timeout,
            fence,
        } = call;
        if let Some(fence) = fence {
            let checked = self.book.lock().await.check(fence);
            checked.map_err(|newest| Failure::Stale { newest })?;
        }
        let mailbox = self.mailbox(&name).await.ok_or(Failure::NoActor)?;
        mailbox.call(body, busy, timeout).await
    }

    fn registry(&self, lease: LeaseId) -> Registry<C> {
        Registry::new(self.coordinator.clone(), &self.config.namespace, lease)
            .bugs(self.config.bugs)
    }
}

/// Starts actor `name` of `kind` here: reserve the name in the table, claim it under the
/// generation's lease, then run it.
pub(crate) async fn start<R: Runtime, C: Coordinator, T: Send + Sync + 'static>(
    inner: &Arc<Inner<R, C, T>>,
    kind: &str,
    name: &str,
) -> Result<Fence, Refused> {
    if !inner.definitions.has(kind) {
        return Err(Refused::UnknownKind);
    }
    let lease = {
        let mut state = inner.state.lock().await;
        let lease = state.generation.as_ref().map(|g| g.lease);
        let lease = lease.ok_or(Refused::NoLease)?;
        if let Some(local) = state.actors.get(name) {
            let fence = local.running.as_ref().map_or(Fence(0), |(f, _)| *f);
            let node = inner.me().0;
            return Err(Refused::Taken { node, fence });
        }
        let running = None;
        state
            .actors
            .insert(name.to_string(), Local { lease, running });
        lease
    };
    let value = inner.me().0.to_be_bytes().to_vec();
    let claimed = inner.registry(lease).claim(name, value).await;
    let claim = match claimed {
        Ok(claim) => claim,
        Err(error) => {
            forget_reservation(&mut *inner.state.lock().await, name, lease);
            return Err(match error {
                ClaimError::Taken(holder) => Refused::Taken {
                    node: holder_node(&holder.value).map_or(0, |n| n.0),
                    fence: holder.fence,
                },
                ClaimError::Coordinator(_) => Refused::Unsettled,
            });
        }
    };
    run(inner, kind, name, lease, claim).await
}

/// Runs a claimed actor in its generation's group; the claim is released when it ends.
async fn run<R: Runtime, C: Coordinator, T: Send + Sync + 'static>(
    inner: &Arc<Inner<R, C, T>>,
    kind: &str,
    name: &str,
    lease: LeaseId,
    claim: Claim,
) -> Result<Fence, Refused> {
    let fence = claim.fence;
    let made = inner
        .definitions
        .make(kind, &inner.rt, name, fence, inner.me());
    let made = made.expect("checked before the claim");
    let mut state = inner.state.lock().await;
    let generation = state.generation.as_ref().filter(|g| g.lease == lease);
    let Some(actors) = generation.map(|g| g.actors.clone()) else {
        forget_reservation(&mut state, name, lease);
        drop(state);
        spawn_release(inner, name, lease, claim).await;
        return Err(Refused::NoLease);
    };
    let local = Local {
        lease,
        running: Some((fence, made.mailbox)),
    };
    state.actors.insert(name.to_string(), local);
    drop(state);
    let (node, owned) = (inner.clone(), name.to_string());
    let release = move || async move {
        spawn_release(&node, &owned, lease, claim).await;
        Ok(())
    };
    let started = actors
        .routine(name)
        .on_failure(FailurePolicy::Isolate)
        .defer(release)
        .go(made.body)
        .await;
    match started {
        Ok(()) => Ok(fence),
        Err(_) => {
            forget_reservation(&mut *inner.state.lock().await, name, lease);
            Err(Refused::NoLease)
        }
    }
}

/// Frees `name` in the table if the entry is still the one made under `lease`: a newer
/// generation's entry of the same name is left alone.
fn forget_reservation<R: Runtime>(state: &mut State<R>, name: &str, lease: LeaseId) {
    if state.actors.get(name).is_some_and(|l| l.lease == lease) {
        state.actors.remove(name);
    }
}

/// Releases a claim in a routine of the node's own group, so it outlives the generation,
/// then frees the name in the table. A node that stops leaves it to the revoke of its
/// lease.
async fn spawn_release<R: Runtime, C: Coordinator, T: Send + Sync + 'static>(
    inner: &Arc<Inner<R, C, T>>,
    name: &str,
    lease: LeaseId,
    claim: Claim,
) {
    let node = inner.clone();
    let owned = name.to_string();
    let routine = format!("release:{name}#{}", claim.fence.0);
    let release = move |ctx: Ctx<R>| async move {
        crate::select! {
            () = ctx.drained() => return Ok(()),
            () = release(&node, lease, claim) => {}
        }
        forget_reservation(&mut *node.state.lock().await, &owned, lease);
        Ok(())
    };
    let _closing = inner.group.go(&routine, release).await;
}

/// Deregisters a claim by its fence, retrying a lost answer — after a backoff that doubles
/// from the config's retry up to the lease's time to live — until it is settled or the
/// lease it stood on has surely ended (twice its time to live).
async fn release<R: Runtime, C: Coordinator, T: Send + Sync + 'static>(
    inner: &Inner<R, C, T>,
    lease: LeaseId,
    claim: Claim,
) {
    let config = &inner.config.lease;
    let give_up = inner.rt.now() + config.ttl * 2;
    let by_address = inner.config.bugs.has(Bug::G2DeregisterByAddress);
    let mut backoff = config.retry;
    loop {
        let released = match by_address {
            true => release_by_address(inner, &claim).await,
            false => inner.registry(lease).release(claim.clone()).await,
        };
        match released {
            Err(CoordError::Unavailable | CoordError::MaybeApplied) if inner.rt.now() < give_up => {
                inner.rt.sleep(backoff).await;
                backoff = (backoff * 2).min(config.ttl);
            }
            _ => return,
        }
    }
}

/// G2: deletes the key if its holder is this node — whoever holds it now.
async fn release_by_address<R: Runtime, C: Coordinator, T: Send + Sync + 'static>(
    inner: &Inner<R, C, T>,
    claim: &Claim,
) -> Result<(), CoordError> {
    let holder = inner.coordinator.get(&claim.key).await?;
    match holder {
        Some(h) if holder_node(&h.value) == Some(inner.me()) => {
            inner.coordinator.deregister(&claim.key, h.fence).await
        }
        _ => Ok(()),
    }
}

/// The node a registration's value names.
pub(crate) fn holder_node(value: &[u8]) -> Option<NodeId> {
    let bytes: [u8; 2] = value.try_into().ok()?;
    Some(NodeId(u16::from_be_bytes(bytes)))
}

/// The `lease` routine: one generation after another until the node stops.
pub(crate) async fn keep<R: Runtime, C: Coordinator, T: Send + Sync + 'static>(
    ctx: Ctx<R>,
    inner: Arc<Inner<R, C, T>>,
) -> Result<(), Fault<ActorError>> {
    let config = inner.config.lease;
    loop {
        let sent = inner.rt.now();
        let granted = crate::select! {
            () = ctx.drained() => return Ok(()),
            granted = inner.coordinator.grant(config.ttl) => granted,
        };
        let Ok(lease) = granted else {
            crate::select! {
                () = ctx.drained() => return Ok(()),
                () = inner.rt.sleep(config.retry) => continue,
            }
        };
        let actors = Group::builder(inner.rt.clone(), &format!("{}/actors", ctx.path()))
            .failure_policy(FailurePolicy::Isolate)
            .build();
        let generation = Generation {
            lease,
            actors: actors.clone(),
        };
        inner.state.lock().await.generation = Some(generation);
        let _ = inner.leased.send(Some(lease));
        tracing::info!(node = inner.me().0, lease = lease.0, "a new generation");
        let stopping = crate::select! {
            () = ctx.drained() => true,
            () = hold(&inner.rt, &inner.coordinator, lease, sent, config.timing()) => false,
        };
        inner.state.lock().await.generation = None;
        let _ = inner.leased.send(None);
        let plan = ShutdownPlan::new(Duration::ZERO, config.margin / 2);
        let report = actors.shutdown(plan).await;
        forget(&inner, lease).await;
        tracing::info!(
            node = inner.me().0,
            lease = lease.0,
            stopping,
            clean = report.is_clean(),
            "a generation ended"
        );
        if stopping {
            let _ = inner.coordinator.revoke(lease).await;
            return Ok(());
        }
    }
}

/// Drops the table's entries of an ended generation whose release did not run (aborted
/// actors): their keys end with the lease.
async fn forget<R: Runtime, C, T>(inner: &Inner<R, C, T>, lease: LeaseId) {
    let mut state = inner.state.lock().await;
    state.actors.retain(|_, local| local.lease != lease);
}
