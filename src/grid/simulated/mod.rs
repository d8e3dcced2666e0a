//! The simulated coordinator: etcd's semantics in one server task of the runtime, so grid
//! runs under shuttle and turmoil with leases expiring on virtual time and clients cut off
//! from the coordinator at will.
//!
//! The server applies requests one at a time to its [`Store`](store::Store), so every call
//! is linearizable. A lease ends at `ttl` after its last keep-alive, on the runtime's clock;
//! its keys go with it. A [`SimClient`] whose link is cut fails each call after its
//! `unreachable_after` with [`CoordError::Unavailable`]; a call whose answer comes back
//! over a link cut meanwhile fails with [`CoordError::MaybeApplied`] — the request was
//! applied, the caller cannot know. Watches deliver in revision order through a bounded
//! channel; a watcher that falls `WATCH_BUFFER` events behind, or whose link is cut when an
//! event comes, has its stream ended and must watch again.

mod store;

use std::collections::VecDeque;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use self::store::Store;
use super::coordinator::{
    candidate_key, CoordError, Coordinator, Fence, LeaseId, Registration, WatchEvent,
};
use crate::rt::{
    Instant, OneshotSender, Receiver, Runtime, Sender, TrySendError, WatchReceiver, WatchSender,
};

/// Events a watcher may fall behind before its stream is ended.
pub const WATCH_BUFFER: usize = 64;

type Reply<R, T> = <R as Runtime>::OneshotSender<Result<T, CoordError>>;

enum Request<R: Runtime> {
    Grant(Duration, Reply<R, LeaseId>),
    KeepAlive(LeaseId, Reply<R, Duration>),
    Revoke(LeaseId, Reply<R, ()>),
    Register(String, Vec<u8>, LeaseId, Reply<R, Fence>),
    Deregister(String, Fence, Reply<R, ()>),
    Get(String, Reply<R, Option<Registration>>),
    Watch(String, R::WatchReceiver<bool>, Reply<R, Snapshot<R>>),
    Campaign(String, Vec<u8>, LeaseId, Reply<R, Fence>),
    Leader(String, Reply<R, Option<Registration>>),
}

type Snapshot<R> = (Vec<Registration>, <R as Runtime>::Receiver<WatchEvent>);

/// A candidate waiting to lead: its election, key and fence, and where to say so.
struct Candidate<R: Runtime> {
    election: String,
    lease: LeaseId,
    key: String,
    fence: Fence,
    reply: Reply<R, Fence>,
}

struct Watcher<R: Runtime> {
    prefix: String,
    link: R::WatchReceiver<bool>,
    events: R::Sender<WatchEvent>,
}

/// The server's state: the store, the watchers and the waiting candidates.
struct Server<R: Runtime> {
    rt: R,
    origin: R::Instant,
    store: Store,
    watchers: Vec<Watcher<R>>,
    waiting: VecDeque<Candidate<R>>,
}

/// The coordinator server; clients are made from it. Dropping it (and every client) ends
/// the server task.
#[derive(Debug, Clone)]
pub struct SimCoordinator<R: Runtime> {
    rt: R,
    requests: R::Sender<Request<R>>,
}

/// A client of the simulated coordinator, with a link that can be cut.
#[derive(Debug)]
pub struct SimClient<R: Runtime> {
    coordinator: SimCoordinator<R>,
    link: Arc<R::WatchSender<bool>>,
    /// Kept so the link's writes are stored: a cell with no reader refuses them.
    _reader: R::WatchReceiver<bool>,
    unreachable_after: Duration,
}

impl<R: Runtime> SimCoordinator<R> {
    /// Starts the server task `coordinator`.
    pub fn start(rt: &R) -> Self {
        let (requests, inbox) = rt.channel("coordinator/requests", 64);
        let server = Server {
            rt: rt.clone(),
            origin: rt.now(),
            store: Store::default(),
            watchers: Vec::new(),
            waiting: VecDeque::new(),
        };
        let _server = rt.spawn("coordinator", server.run(inbox));
        Self {
            rt: rt.clone(),
            requests,
        }
    }

    /// A client named `name` (for reports), linked; its calls over a cut link fail after
    /// `unreachable_after`.
    pub fn client(&self, name: &str, unreachable_after: Duration) -> SimClient<R> {
        let (link, reader) = self.rt.watch(&format!("{name}/link"), true);
        SimClient {
            coordinator: self.clone(),
            link: Arc::new(link),
            _reader: reader,
            unreachable_after,
        }
    }
}

impl<R: Runtime> Clone for SimClient<R> {
    fn clone(&self) -> Self {
        Self {
            coordinator: self.coordinator.clone(),
            link: self.link.clone(),
            _reader: self._reader.clone(),
            unreachable_after: self.unreachable_after,
        }
    }
}

impl<R: Runtime> SimClient<R> {
    /// Cuts this client (and its clones) off from the coordinator.
    pub fn cut(&self) {
        let _kept_by_self = self.link.send(false);
    }

    /// Restores the link.
    pub fn heal(&self) {
        let _kept_by_self = self.link.send(true);
    }

    fn linked(&self) -> bool {
        self.link.current()
    }

    async fn call<T: Send + 'static>(
        &self,
        request: impl FnOnce(Reply<R, T>) -> Request<R>,
    ) -> Result<T, CoordError> {
        let rt = &self.coordinator.rt;
        if !self.linked() {
            rt.sleep(self.unreachable_after).await;
            return Err(CoordError::Unavailable);
        }
        let (reply, answer) = rt.oneshot("coordinator/reply");
        let sent = self.coordinator.requests.send(request(reply)).await;
        sent.map_err(|_| CoordError::Closed)?;
        let answer = answer.await.map_err(|_| CoordError::Closed)?;
        match self.linked() {
            true => answer,
            false => Err(CoordError::MaybeApplied),
        }
    }
}

impl<R: Runtime> Coordinator for SimClient<R> {
    type Watch = R::Receiver<WatchEvent>;

    fn grant(&self, ttl: Duration) -> impl Future<Output = Result<LeaseId, CoordError>> + Send {
        self.call(move |reply| Request::Grant(ttl, reply))
    }

    fn keep_alive(
        &self,
        lease: LeaseId,
    ) -> impl Future<Output = Result<Duration, CoordError>> + Send {
        self.call(move |reply| Request::KeepAlive(lease, reply))
    }

    fn revoke(&self, lease: LeaseId) -> impl Future<Output = Result<(), CoordError>> + Send {
        self.call(move |reply| Request::Revoke(lease, reply))
    }

    fn register(
        &self,
        key: &str,
        value: Vec<u8>,
        lease: LeaseId,
    ) -> impl Future<Output = Result<Fence, CoordError>> + Send {
        let key = key.to_string();
        self.call(move |reply| Request::Register(key, value, lease, reply))
    }

    fn deregister(
        &self,
        key: &str,
        fence: Fence,
    ) -> impl Future<Output = Result<(), CoordError>> + Send {
        let key = key.to_string();
        self.call(move |reply| Request::Deregister(key, fence, reply))
    }

    fn get(
        &self,
        key: &str,
    ) -> impl Future<Output = Result<Option<Registration>, CoordError>> + Send {
        let key = key.to_string();
        self.call(move |reply| Request::Get(key, reply))
    }

    fn watch(
        &self,
        prefix: &str,
    ) -> impl Future<Output = Result<(Vec<Registration>, Self::Watch), CoordError>> + Send {
        let (prefix, link) = (prefix.to_string(), self.link.subscribe());
        self.call(move |reply| Request::Watch(prefix, link, reply))
    }

    fn campaign(
        &self,
        election: &str,
        value: Vec<u8>,
        lease: LeaseId,
    ) -> impl Future<Output = Result<Fence, CoordError>> + Send {
        let election = election.to_string();
        self.call(move |reply| Request::Campaign(election, value, lease, reply))
    }

    fn leader(
        &self,
        election: &str,
    ) -> impl Future<Output = Result<Option<Registration>, CoordError>> + Send {
        let election = election.to_string();
        self.call(move |reply| Request::Leader(election, reply))
    }
}

impl<R: Runtime> Server<R> {
    async fn run(mut self, mut inbox: R::Receiver<Request<R>>) {
        loop {
            let expiry = self.store.next_expiry().map(|at| self.origin + at);
            let request = match expiry {
                Some(at) => crate::select! {
                    () = self.rt.sleep_until(at) => {
                        let ended = self.store.expire(self.now());
                        self.publish(ended);
                        continue;
                    }
                    request = inbox.recv() => request,
                },
                None => inbox.recv().await,
            };
            let Some(request) = request else { return };
            self.apply(request);
        }
    }

    fn now(&self) -> Duration {
        self.rt.now().saturating_duration_since(self.origin)
    }

    fn apply(&mut self, request: Request<R>) {
        let now = self.now();
        match request {
            Request::Grant(ttl, reply) => drop(reply.send(Ok(self.store.grant(now, ttl)))),
            Request::KeepAlive(lease, reply) => drop(reply.send(self.store.keep_alive(now, lease))),
            Request::Revoke(lease, reply) => {
                let revoked = self.store.revoke(lease);
                let answer = revoked.map(|events| self.publish(events));
                drop(reply.send(answer));
            }
            Request::Register(key, value, lease, reply) => {
                let registered = self.store.register(&key, value, lease);
                let answer = registered.map(|(fence, event)| {
                    self.publish(event.into_iter().collect());
                    fence
                });
                drop(reply.send(answer));
            }
            Request::Deregister(key, fence, reply) => {
                let removed = self.store.deregister(&key, fence);
                drop(reply.send(removed.map(|event| self.publish(vec![event]))));
            }
            Request::Get(key, reply) => drop(reply.send(Ok(self.store.get(&key)))),
            Request::Watch(prefix, link, reply) => {
                let (events, stream) = self
                    .rt
                    .channel(&format!("coordinator/watch:{prefix}"), WATCH_BUFFER);
                let snapshot = self.store.list(&prefix);
                self.watchers.push(Watcher {
                    prefix,
                    link,
                    events,
                });
                drop(reply.send(Ok((snapshot, stream))));
            }
            Request::Campaign(election, value, lease, reply) => {
                self.stand(election, value, lease, reply)
            }
            Request::Leader(election, reply) => drop(reply.send(Ok(self.store.leader(&election)))),
        }
    }

    /// Registers a candidacy and answers once it leads.
    fn stand(&mut self, election: String, value: Vec<u8>, lease: LeaseId, reply: Reply<R, Fence>) {
        let key = candidate_key(&election, lease);
        match self.store.register(&key, value, lease) {
            Err(error) => drop(reply.send(Err(error))),
            Ok((fence, event)) => {
                self.waiting.push_back(Candidate {
                    election,
                    lease,
                    key,
                    fence,
                    reply,
                });
                self.publish(event.into_iter().collect());
                self.promote();
            }
        }
    }

    /// Delivers `events` to the watchers of their keys, ending the streams of watchers
    /// that are cut off or too far behind; then lets waiting candidates that now lead know.
    fn publish(&mut self, events: Vec<WatchEvent>) {
        for event in &events {
            let key = match event {
                WatchEvent::Put(r) => &r.key,
                WatchEvent::Delete { key, .. } => key,
            };
            self.watchers.retain_mut(|w| {
                if !key.starts_with(&w.prefix) {
                    return !w.events.is_closed();
                }
                if !w.link.current() {
                    return false;
                }
                match w.events.try_send(event.clone()) {
                    Ok(()) => true,
                    Err(TrySendError::Full(_) | TrySendError::Closed(_)) => false,
                }
            });
        }
        if events
            .iter()
            .any(|e| matches!(e, WatchEvent::Delete { .. }))
        {
            self.promote();
        }
    }

    /// Answers every waiting candidate that leads now; a candidate whose caller is gone
    /// withdraws, and one whose key is gone (its lease ended) is told so.
    fn promote(&mut self) {
        let mut deleted = Vec::new();
        let waiting = std::mem::take(&mut self.waiting);
        for candidate in waiting {
            let current = self.store.get(&candidate.key);
            let leader = self.store.leader(&candidate.election);
            match (current, leader) {
                (Some(mine), _) if mine.fence != candidate.fence => {
                    drop(candidate.reply.send(Err(CoordError::NotOwner {
                        key: candidate.key,
                        fence: candidate.fence,
                    })));
                }
                (None, _) => {
                    drop(
                        candidate
                            .reply
                            .send(Err(CoordError::LeaseGone(candidate.lease))),
                    );
                }
                (Some(_), Some(leader)) if leader.fence == candidate.fence => {
                    if candidate.reply.is_closed() {
                        deleted.extend(self.store.deregister(&candidate.key, candidate.fence).ok());
                    } else {
                        drop(candidate.reply.send(Ok(candidate.fence)));
                    }
                }
                _ => self.waiting.push_back(candidate),
            }
        }
        if !deleted.is_empty() {
            self.publish(deleted);
        }
    }
}
