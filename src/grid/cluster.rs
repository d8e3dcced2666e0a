//! [`Grid`]: one node of a grid cluster, and the handle its users start actors and send
//! requests through.
//!
//! A request looks the name's holder up in the coordinator, then delivers the call — in
//! the node itself when the actor runs here, else over a connection to the holder's node
//! (one exchange per connection, set up by the cluster handshake; closing it is how a
//! caller cancels). [`Grid::lead`] stands for leader and hands each term a
//! [`Grid::fenced`] handle, which carries the term's fence on every call; nodes that know
//! of a newer leader refuse it.

use std::future::{poll_fn, Future};
use std::sync::Arc;
use std::time::Duration;

use futures_core::Stream;

use super::actor::{Actor, ActorError, Definitions};
use super::coordinator::{CoordError, Coordinator, Fence};
use super::error::{GridError, StartError};
use super::leader::{Candidate, LeaderConfig, Term, TermEnd};
use super::mailbox::Busy;
use super::node::{holder_node, keep, start, GridConfig, Inner};
use super::server::listen;
use super::wire::{decode, encode, Ask, Call, Failure, GridMessage, Refused, Reply};
use crate::frame::NodeId;
use crate::net::{Peers, Transport};
use crate::rt::{Mutex, Runtime};
use crate::signal::{Context, Fault, GoError, ShutdownPlan, ShutdownReport};

/// A grid node; cheap to clone.
#[must_use = "a grid node runs until stopped"]
pub struct Grid<R: Runtime, C, T> {
    inner: Arc<Inner<R, C, T>>,
    fence: Option<Fence>,
}

/// How an exchange with another node failed.
enum Link {
    /// Nothing reached the node.
    Unreachable,
    /// The ask was sent; no answer came.
    Lost,
}

impl<R: Runtime, C: Coordinator, T: Transport> Grid<R, C, T> {
    /// Starts node `peers.me`: its lease, its server on `listener`, and — when the config
    /// names an election — the follower of that election's fences. Actors can be started
    /// once [`Grid::ready`] returns.
    pub async fn start(
        rt: R,
        coordinator: C,
        peers: Peers<T>,
        listener: T::Listener,
        definitions: Definitions<R>,
        config: GridConfig,
    ) -> Result<Self, GoError> {
        let election = config.election.clone();
        let inner = Arc::new(Inner::new(rt, coordinator, peers, definitions, config));
        let node = inner.clone();
        inner.group.go("lease", |ctx| keep(ctx, node)).await?;
        let node = inner.clone();
        let serve = |ctx| listen(ctx, node, listener);
        inner.group.go("listener", serve).await?;
        if let Some(election) = election {
            let node = inner.clone();
            inner
                .group
                .go("fences", |ctx| follow(ctx, node, election))
                .await?;
        }
        Ok(Self { inner, fence: None })
    }

    /// Waits until the node holds a lease.
    pub async fn ready(&self) {
        self.inner.leased().await;
    }

    /// This node.
    pub fn node(&self) -> NodeId {
        self.inner.me()
    }

    /// The runtime.
    pub fn runtime(&self) -> &R {
        &self.inner.rt
    }

    /// The coordinator.
    pub fn coordinator(&self) -> &C {
        &self.inner.coordinator
    }

    /// The config the node runs with.
    pub fn config(&self) -> &GridConfig {
        &self.inner.config
    }

    /// A handle whose calls carry a leader's `fence`.
    pub fn fenced(&self, fence: Fence) -> Self {
        Self {
            inner: self.inner.clone(),
            fence: Some(fence),
        }
    }

    /// Stands for leader of `election` until `until` completes: each time this node wins, it
    /// runs `lead` with a handle whose every call carries the term's fence, and the term
    /// (see [`Candidate`]); then stands again. Returns how each term ended.
    pub async fn lead<F, Fut>(
        &self,
        election: &str,
        config: LeaderConfig,
        until: impl Future<Output = ()>,
        mut lead: F,
    ) -> Vec<(Fence, TermEnd)>
    where
        F: FnMut(Self, Term<R>) -> Fut,
        Fut: Future<Output = ()>,
    {
        let rt = self.inner.rt.clone();
        let value = self.node().0.to_be_bytes().to_vec();
        let coordinator = self.inner.coordinator.clone();
        let candidate = Candidate::new(rt, coordinator, election, value, config);
        let lead = |term: Term<R>| lead(self.fenced(term.fence()), term);
        candidate.run(until, lead).await
    }

    /// Starts an actor of `kind` named `name` on `node`; returns its fence.
    pub async fn start_actor(
        &self,
        node: NodeId,
        kind: &str,
        name: &str,
    ) -> Result<Fence, StartError> {
        let started = match node == self.node() {
            true => start(&self.inner, kind, name).await,
            false => {
                let ask = Ask::Start {
                    kind: kind.to_string(),
                    name: name.to_string(),
                };
                let wait = self.inner.config.lease.ttl;
                match self.exchange(node, ask, wait).await {
                    Ok(Reply::Started(started)) => started,
                    Ok(Reply::Answered(_)) | Err(Link::Lost) => return Err(StartError::Lost(node)),
                    Err(Link::Unreachable) => return Err(StartError::Unreachable(node)),
                }
            }
        };
        started.map_err(|refused| match refused {
            Refused::Taken { node, fence } => StartError::Taken {
                node: NodeId(node),
                fence,
            },
            Refused::UnknownKind => StartError::UnknownKind(kind.to_string()),
            Refused::NoLease => StartError::NoLease(node),
            Refused::Unsettled => StartError::Unsettled(node),
        })
    }

    /// Sends `message` to the actor `name`, wherever it runs, and waits for its answer:
    /// `timeout` at the actor's node, plus the config's slack for the network.
    pub async fn request<A: Actor<R>>(
        &self,
        name: &str,
        message: &A::Message,
        busy: Busy,
        timeout: Duration,
    ) -> Result<A::Reply, GridError<A::Error>> {
        let key = format!("{}/{name}", self.inner.config.namespace);
        let holder = self.inner.coordinator.get(&key).await;
        let holder = holder.map_err(GridError::Coordinator)?;
        let node = holder.and_then(|h| holder_node(&h.value));
        let node = node.ok_or(GridError::NoActor)?;
        self.request_on::<A>(node, name, message, busy, timeout)
            .await
    }

    /// [`Grid::request`] to an actor the caller knows runs on `node` (it started it
    /// there), without asking the coordinator: a node cut off from the coordinator can
    /// still reach its peers. The actor's node refuses it if the name is not running there.
    pub async fn request_on<A: Actor<R>>(
        &self,
        node: NodeId,
        name: &str,
        message: &A::Message,
        busy: Busy,
        timeout: Duration,
    ) -> Result<A::Reply, GridError<A::Error>> {
        let body = encode(message).map_err(GridError::Undecodable)?;
        let call = Call {
            name: name.to_string(),
            body,
            busy,
            timeout,
            fence: self.fence,
        };
        let answered = match node == self.node() {
            true => self.inner.answer(call).await,
            false => {
                let wait = timeout + self.inner.config.reply_slack;
                match self.exchange(node, Ask::Call(call), wait).await {
                    Ok(Reply::Answered(answered)) => answered,
                    Ok(Reply::Started(_)) | Err(Link::Lost) => return Err(GridError::Lost(node)),
                    Err(Link::Unreachable) => return Err(GridError::Unreachable(node)),
                }
            }
        };
        let answer = answered.map_err(typed::<A::Error>)?;
        decode(&answer).map_err(GridError::BadAnswer)
    }

    /// The names of this namespace that start with `prefix`, in order: a group that
    /// follows the registry.
    pub async fn members(&self, prefix: &str) -> Result<Vec<String>, CoordError> {
        let namespace = format!("{}/", self.inner.config.namespace);
        let (snapshot, _watch) = self
            .inner
            .coordinator
            .watch(&format!("{namespace}{prefix}"))
            .await?;
        let names = snapshot
            .into_iter()
            .map(|r| r.key[namespace.len()..].to_string());
        Ok(names.collect())
    }

    /// Stops the node: its actors are told to stop and aborted after `grace`, its lease is
    /// revoked (freeing their names), and its server closes. Nothing of it runs afterwards.
    pub async fn stop(&self, grace: Duration) -> ShutdownReport<ActorError> {
        self.inner
            .group
            .shutdown(ShutdownPlan::new(grace, grace))
            .await
    }

    /// One exchange with `node`: dial, ask, and wait up to `wait` for the reply.
    async fn exchange(&self, node: NodeId, ask: Ask, wait: Duration) -> Result<Reply, Link> {
        let rt = &self.inner.rt;
        let peers = &self.inner.peers;
        let mut connection = peers.dial(rt, node).await.map_err(|_| Link::Unreachable)?;
        let sent = connection.send(&GridMessage::Ask(ask).wrap()).await;
        sent.map_err(|_| Link::Unreachable)?;
        match rt.timeout(wait, connection.recv()).await {
            Ok(Ok(Some(message))) => match GridMessage::unwrap(message) {
                Ok(GridMessage::Reply(reply)) => Ok(reply),
                _ => Err(Link::Lost),
            },
            _ => Err(Link::Lost),
        }
    }
}

/// A server's failure with the actor's application error decoded.
fn typed<E: serde::de::DeserializeOwned>(failure: Failure) -> GridError<E> {
    match failure {
        Failure::NoActor => GridError::NoActor,
        Failure::Stale { newest } => GridError::Stale { newest },
        Failure::Undecodable(why) => GridError::Undecodable(why),
        Failure::Mailbox(error) => match error.try_map(|body| decode(&body)) {
            Ok(error) => GridError::Mailbox(error),
            Err(why) => GridError::BadAnswer(why),
        },
    }
}

impl<R: Runtime, C, T> Clone for Grid<R, C, T> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            fence: self.fence,
        }
    }
}

impl<R: Runtime, C, T> std::fmt::Debug for Grid<R, C, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Grid")
            .field("node", &self.inner.peers.me)
            .field("fence", &self.fence)
            .finish()
    }
}

/// The `fences` routine: follows `election` until the node stops, watching again whenever
/// a watch ends.
async fn follow<R: Runtime, C: Coordinator, T: Send + Sync + 'static>(
    ctx: Context<ActorError, R>,
    inner: Arc<Inner<R, C, T>>,
    election: String,
) -> Result<(), Fault<ActorError>> {
    let prefix = format!("{election}/");
    loop {
        let watched = crate::select! {
            () = ctx.drained() => return Ok(()),
            watched = inner.coordinator.watch(&prefix) => watched,
        };
        let Ok((snapshot, mut events)) = watched else {
            crate::select! {
                () = ctx.drained() => return Ok(()),
                () = inner.rt.sleep(inner.config.lease.retry) => continue,
            }
        };
        inner
            .book
            .lock()
            .await
            .reset(snapshot.iter().map(|r| r.fence));
        loop {
            let event = crate::select! {
                () = ctx.drained() => return Ok(()),
                event = poll_fn(|cx| std::pin::Pin::new(&mut events).poll_next(cx)) => event,
            };
            match event {
                Some(event) => inner.book.lock().await.apply(&event),
                None => break,
            }
        }
    }
}
