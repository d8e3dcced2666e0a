//! The coordinator: what grid needs from etcd, as a trait — leases, unique registration
//! fenced by creation revision, deregistration checked by that fence, watches, and leader
//! election — so the same grid runs on the simulated coordinator under shuttle and turmoil
//! and on etcd in production.
//!
//! Ownership is a lease and a fence (the key's creation revision), never an address: the
//! Go grid deregistered by address and deleted a live leader's key. Re-registering one's
//! own key under the same lease returns the same fence, so a registration whose reply was
//! lost can be retried, and a caller that timed out re-reads with [`Coordinator::get`]
//! before deciding — the Go grid started an actor twice after a registration timeout.

use std::fmt;
use std::future::Future;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// A lease: keys registered under it vanish when it expires or is revoked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct LeaseId(pub u64);

/// A key's creation revision: strictly increasing across the whole store, so a newer
/// holder of a name always carries a larger fence than any older one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Fence(pub u64);

/// A registered key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Registration {
    /// The key.
    pub key: String,
    /// What its holder stored.
    pub value: Vec<u8>,
    /// The lease it lives under.
    pub lease: LeaseId,
    /// Its creation revision.
    pub fence: Fence,
}

/// A change under a watched prefix, in revision order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WatchEvent {
    /// A key was registered.
    Put(Registration),
    /// A key was deleted (deregistered, or its lease ended).
    Delete {
        /// The key.
        key: String,
        /// The fence of the registration that ended.
        fence: Fence,
    },
}

/// Why a coordinator call failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CoordError {
    /// The coordinator could not be reached; the request was not applied.
    Unavailable,
    /// The request reached the coordinator but its answer was lost: it may have been
    /// applied. Re-read before deciding.
    MaybeApplied,
    /// The lease has expired or was revoked.
    LeaseGone(LeaseId),
    /// The key is held by another registration.
    Taken(Registration),
    /// The key is not held by the registration with this fence.
    NotOwner {
        /// The key.
        key: String,
        /// The fence given.
        fence: Fence,
    },
    /// The coordinator shut down.
    Closed,
}

/// What grid needs from a coordinator. Every call is linearizable.
pub trait Coordinator: Clone + Send + Sync + 'static {
    /// The stream of a watch: the changes after its snapshot, in order. It ends if the
    /// watcher falls too far behind (re-watch) or the coordinator shuts down.
    type Watch: futures_core::Stream<Item = WatchEvent> + Send + Unpin + 'static;

    /// A lease that expires `ttl` after its last keep-alive.
    fn grant(&self, ttl: Duration) -> impl Future<Output = Result<LeaseId, CoordError>> + Send;
    /// Renews `lease`; returns its TTL.
    fn keep_alive(
        &self,
        lease: LeaseId,
    ) -> impl Future<Output = Result<Duration, CoordError>> + Send;
    /// Ends `lease` and deletes its keys.
    fn revoke(&self, lease: LeaseId) -> impl Future<Output = Result<(), CoordError>> + Send;
    /// Registers `key` under `lease` if nobody holds it; returns its fence. Registering a
    /// key one already holds under the same lease returns the same fence.
    fn register(
        &self,
        key: &str,
        value: Vec<u8>,
        lease: LeaseId,
    ) -> impl Future<Output = Result<Fence, CoordError>> + Send;
    /// Deletes `key` if it is still the registration with `fence`.
    fn deregister(
        &self,
        key: &str,
        fence: Fence,
    ) -> impl Future<Output = Result<(), CoordError>> + Send;
    /// The registration of `key`, if any.
    fn get(
        &self,
        key: &str,
    ) -> impl Future<Output = Result<Option<Registration>, CoordError>> + Send;
    /// Every registration under `prefix`, and the changes after them.
    fn watch(
        &self,
        prefix: &str,
    ) -> impl Future<Output = Result<(Vec<Registration>, Self::Watch), CoordError>> + Send;
    /// Stands for leader of `election` under `lease`; completes once this candidate leads,
    /// with its fence. Candidates lead in the order they stood. Dropping the future
    /// withdraws the candidacy.
    fn campaign(
        &self,
        election: &str,
        value: Vec<u8>,
        lease: LeaseId,
    ) -> impl Future<Output = Result<Fence, CoordError>> + Send;
    /// The current leader of `election`, if any.
    fn leader(
        &self,
        election: &str,
    ) -> impl Future<Output = Result<Option<Registration>, CoordError>> + Send;
    /// Steps down: deletes the candidacy with `fence`, if it still leads.
    fn resign(
        &self,
        election: &str,
        fence: Fence,
    ) -> impl Future<Output = Result<(), CoordError>> + Send {
        let election = election.to_string();
        async move {
            let key = match self.leader(&election).await? {
                Some(leader) if leader.fence == fence => leader.key,
                _ => {
                    return Err(CoordError::NotOwner {
                        key: election,
                        fence,
                    })
                }
            };
            self.deregister(&key, fence).await
        }
    }
}

/// The key of a candidacy in `election` under `lease`, as etcd's election API makes it.
pub fn candidate_key(election: &str, lease: LeaseId) -> String {
    format!("{election}/{:x}", lease.0)
}

impl fmt::Display for CoordError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Unavailable => f.write_str("the coordinator is unreachable; nothing was applied"),
            Self::MaybeApplied => {
                f.write_str("the coordinator's answer was lost; the request may have been applied")
            }
            Self::LeaseGone(lease) => write!(f, "lease {:x} has expired or was revoked", lease.0),
            Self::Taken(holder) => write!(
                f,
                "{} is held by lease {:x} (fence {})",
                holder.key, holder.lease.0, holder.fence.0
            ),
            Self::NotOwner { key, fence } => {
                write!(
                    f,
                    "{key} is not held by the registration with fence {}",
                    fence.0
                )
            }
            Self::Closed => f.write_str("the coordinator shut down"),
        }
    }
}

impl std::error::Error for CoordError {}
