//! Actors: definitions registered by kind, and the type-erased mailbox a node's server
//! routes encoded calls to.
//!
//! An [`Actor`] names its message, reply and error types (serde values); a
//! [`Definitions`] table maps a kind to a factory and a mailbox capacity. When a node
//! starts an actor it makes the mailbox, keeps its outbox behind [`Erased`] — which
//! decodes a call's body, queues it, and encodes the answer — and runs the actor's body as
//! a signal routine with an [`ActorContext`].

use std::collections::BTreeMap;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::Serialize;

use super::coordinator::Fence;
use super::mailbox::{mailbox, Busy, Inbox, Outbox, Request};
use super::wire::{decode, encode, Failure};
use crate::frame::NodeId;
use crate::rt::Runtime;
use crate::signal::{Context, Fault};

/// Why an actor's body ended early.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActorError(pub String);

impl fmt::Display for ActorError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ActorError {}

/// A kind of actor.
pub trait Actor<R: Runtime>: Send + 'static {
    /// What it is asked.
    type Message: Serialize + DeserializeOwned + Send + 'static;
    /// What it answers.
    type Reply: Serialize + DeserializeOwned + Send + 'static;
    /// Its application errors.
    type Error: Serialize + DeserializeOwned + fmt::Debug + Send + 'static;

    /// Serves its mailbox until it is done or `ctx` says stop. Requests still queued when
    /// it returns get a broken-promise error; returning or panicking releases its name.
    fn run(
        self,
        ctx: ActorContext<R>,
        inbox: Inbox<R, Self::Message, Self::Reply, Self::Error>,
    ) -> impl Future<Output = Result<(), ActorError>> + Send;
}

/// What a running actor knows: its name and fence, its node, and when it must stop.
#[derive(Debug)]
pub struct ActorContext<R: Runtime> {
    name: String,
    fence: Fence,
    node: NodeId,
    ctx: Context<ActorError, R>,
}

impl<R: Runtime> ActorContext<R> {
    /// Its cluster-unique name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The fence of its name's registration.
    pub fn fence(&self) -> Fence {
        self.fence
    }

    /// The node it runs on.
    pub fn node(&self) -> NodeId {
        self.node
    }

    /// The runtime.
    pub fn runtime(&self) -> &R {
        self.ctx.runtime()
    }

    /// Completes when the actor must stop: its node is stopping or can no longer prove
    /// its lease. It should return promptly; it is aborted soon after.
    pub async fn stopping(&self) {
        self.ctx.cancelled().await;
    }

    /// The next request of `inbox`; `None` once the actor must stop or every outbox is
    /// gone. The loop of most actors is `while let Some(request) = ctx.next(&mut inbox)`.
    pub async fn next<M, A, E>(&self, inbox: &mut Inbox<R, M, A, E>) -> Option<Request<R, M, A, E>>
    where
        M: Send + 'static,
        A: Send + 'static,
        E: Send + 'static,
    {
        crate::select! {
            () = self.stopping() => None,
            request = inbox.next() => request,
        }
    }
}

/// A future an erased call returns.
pub(crate) type Answer<'a> = Pin<Box<dyn Future<Output = Result<Vec<u8>, Failure>> + Send + 'a>>;

/// A running actor's mailbox, with its types erased: encoded calls in, encoded answers out.
pub(crate) trait Erased: Send + Sync {
    fn call(&self, body: Vec<u8>, busy: Busy, timeout: Duration) -> Answer<'_>;
}

impl<R, M, A, E> Erased for Outbox<R, M, A, E>
where
    R: Runtime,
    M: DeserializeOwned + Send + 'static,
    A: Serialize + Send + 'static,
    E: Serialize + Send + 'static,
{
    fn call(&self, body: Vec<u8>, busy: Busy, timeout: Duration) -> Answer<'_> {
        Box::pin(async move {
            let message: M = decode(&body).map_err(Failure::Undecodable)?;
            match self.request(message, busy, timeout).await {
                Ok(answer) => encode(&answer).map_err(Failure::Undecodable),
                Err(error) => {
                    let erased = error.try_map(|e| encode(&e).map_err(Failure::Undecodable))?;
                    Err(Failure::Mailbox(erased))
                }
            }
        })
    }
}

/// An actor's body, ready to run as a routine.
pub(crate) type Body<R> = Box<
    dyn FnOnce(
            Context<ActorError, R>,
        ) -> Pin<Box<dyn Future<Output = Result<(), Fault<ActorError>>> + Send>>
        + Send,
>;

/// A started actor: its erased mailbox and its body.
pub(crate) struct Made<R: Runtime> {
    pub(crate) mailbox: Arc<dyn Erased>,
    pub(crate) body: Body<R>,
}

type Factory<R> = Box<dyn Fn(&R, &str, Fence, NodeId) -> Made<R> + Send + Sync>;

/// The kinds of actor a node can start.
pub struct Definitions<R: Runtime> {
    kinds: BTreeMap<String, Factory<R>>,
}

impl<R: Runtime> Default for Definitions<R> {
    fn default() -> Self {
        Self {
            kinds: BTreeMap::new(),
        }
    }
}

impl<R: Runtime> Definitions<R> {
    /// No kinds yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Defines `kind`: `make(name)` builds the actor, whose mailbox holds `capacity`
    /// requests.
    ///
    /// # Panics
    /// If `capacity` is zero or `kind` is already defined.
    pub fn define<A, F>(mut self, kind: &str, capacity: usize, make: F) -> Self
    where
        A: Actor<R>,
        F: Fn(&str) -> A + Send + Sync + 'static,
    {
        assert!(capacity > 0, "a mailbox holds at least one request");
        let factory: Factory<R> = Box::new(move |rt, name, fence, node| {
            let (outbox, inbox) = mailbox::<R, A::Message, A::Reply, A::Error>(rt, name, capacity);
            let actor = make(name);
            let name = name.to_string();
            let body: Body<R> = Box::new(move |ctx| {
                Box::pin(async move {
                    let ctx = ActorContext {
                        name,
                        fence,
                        node,
                        ctx,
                    };
                    actor.run(ctx, inbox).await.map_err(Fault::Error)
                })
            });
            Made {
                mailbox: Arc::new(outbox),
                body,
            }
        });
        let fresh = self.kinds.insert(kind.to_string(), factory).is_none();
        assert!(fresh, "actor kind {kind} is defined twice");
        self
    }

    pub(crate) fn make(
        &self,
        kind: &str,
        rt: &R,
        name: &str,
        fence: Fence,
        node: NodeId,
    ) -> Option<Made<R>> {
        self.kinds.get(kind).map(|make| make(rt, name, fence, node))
    }

    /// Whether `kind` is defined.
    pub fn has(&self, kind: &str) -> bool {
        self.kinds.contains_key(kind)
    }
}

impl<R: Runtime> fmt::Debug for Definitions<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.kinds.keys()).finish()
    }
}
