//! Cluster-unique names: a name is claimed by registering it under the node's lease, and
//! the claim's fence is what releases it.
//!
//! A registration whose answer was lost ([`CoordError::MaybeApplied`]) may have been
//! applied: the claim re-reads the key before deciding, and counts as won only if the key
//! is held under this node's lease. The Go grid took a timed-out registration for a failed
//! one and started the actor anyway — two actors of one name (grid #163).

use std::fmt;

use super::coordinator::{CoordError, Coordinator, Fence, LeaseId, Registration};
use crate::bugs::{Bug, Bugs};

/// A won name: release it with [`Registry::release`] when the actor ends.
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use = "a claim holds its name until released or its lease ends"]
pub struct Claim {
    /// The full key, `namespace/name`.
    pub key: String,
    /// The registration's fence.
    pub fence: Fence,
}

/// Why a name could not be claimed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClaimError {
    /// Another registration holds the name.
    Taken(Registration),
    /// The coordinator could not settle it; nothing is held.
    Coordinator(CoordError),
}

/// The names of one namespace, claimed under one node's lease.
#[derive(Debug, Clone)]
pub struct Registry<C: Coordinator> {
    coordinator: C,
    namespace: String,
    lease: LeaseId,
    bugs: Bugs,
}

impl<C: Coordinator> Registry<C> {
    /// Names of `namespace`, claimed under `lease`.
    pub fn new(coordinator: C, namespace: &str, lease: LeaseId) -> Self {
        let namespace = namespace.to_string();
        Self {
            coordinator,
            namespace,
            lease,
            bugs: Bugs::NONE,
        }
    }

    /// Reintroduces catalogued bugs (G1): the harness's lever.
    #[doc(hidden)]
    pub fn bugs(mut self, bugs: Bugs) -> Self {
        self.bugs = bugs;
        self
    }

    /// The key of `name`.
    pub fn key(&self, name: &str) -> String {
        format!("{}/{name}", self.namespace)
    }

    /// Claims `name`, storing `value` with it.
    pub async fn claim(&self, name: &str, value: Vec<u8>) -> Result<Claim, ClaimError> {
        let key = self.key(name);
        let registered = self.coordinator.register(&key, value, self.lease).await;
        match registered {
            Ok(fence) => Ok(Claim { key, fence }),
            Err(CoordError::Taken(holder)) => Err(ClaimError::Taken(holder)),
            Err(CoordError::MaybeApplied | CoordError::Unavailable)
                if self.bugs.has(Bug::G1StartAfterRegistrationTimeout) =>
            {
                Ok(Claim {
                    key,
                    fence: Fence(0),
                })
            }
            Err(CoordError::MaybeApplied) => self.settle(key).await,
            Err(other) => Err(ClaimError::Coordinator(other)),
        }
    }

    /// After a lost answer: the key's holder decides.
    async fn settle(&self, key: String) -> Result<Claim, ClaimError> {
        let held = self
            .coordinator
            .get(&key)
            .await
            .map_err(ClaimError::Coordinator)?;
        match held {
            Some(mine) if mine.lease == self.lease => Ok(Claim {
                key,
                fence: mine.fence,
            }),
            Some(theirs) => Err(ClaimError::Taken(theirs)),
            None => Err(ClaimError::Coordinator(CoordError::MaybeApplied)),
        }
    }

    /// Releases a claim; a claim another registration has replaced is left alone.
    pub async fn release(&self, claim: Claim) -> Result<(), CoordError> {
        self.coordinator.deregister(&claim.key, claim.fence).await
    }

    /// Who holds `name`, if anyone.
    pub async fn holder(&self, name: &str) -> Result<Option<Registration>, CoordError> {
        self.coordinator.get(&self.key(name)).await
    }
}

impl fmt::Display for ClaimError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Taken(holder) => write!(
                f,
                "{} is already held (fence {})",
                holder.key, holder.fence.0
            ),
            Self::Coordinator(error) => write!(f, "{error}"),
        }
    }
}

impl std::error::Error for ClaimError {}
