//! The simulated coordinator's store: keys, leases and revisions, as a plain state machine
//! the server task applies requests to one at a time — which is what makes every call
//! linearizable.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use crate::grid::coordinator::{CoordError, Fence, LeaseId, Registration, WatchEvent};

struct Lease {
    ttl: Duration,
    deadline: Duration,
    keys: BTreeSet<String>,
}

/// Keys and leases, on time measured from the coordinator's start.
#[derive(Default)]
pub(super) struct Store {
    revision: u64,
    next_lease: u64,
    keys: BTreeMap<String, Registration>,
    leases: BTreeMap<LeaseId, Lease>,
}

impl Store {
    pub(super) fn grant(&mut self, now: Duration, ttl: Duration) -> LeaseId {
        self.next_lease += 1;
        let id = LeaseId(self.next_lease);
        let lease = Lease {
            ttl,
            deadline: now + ttl,
            keys: BTreeSet::new(),
        };
        self.leases.insert(id, lease);
        id
    }

    pub(super) fn keep_alive(
        &mut self,
        now: Duration,
        id: LeaseId,
    ) -> Result<Duration, CoordError> {
        let lease = self.leases.get_mut(&id).ok_or(CoordError::LeaseGone(id))?;
        lease.deadline = now + lease.ttl;
        Ok(lease.ttl)
    }

    pub(super) fn revoke(&mut self, id: LeaseId) -> Result<Vec<WatchEvent>, CoordError> {
        let lease = self.leases.remove(&id).ok_or(CoordError::LeaseGone(id))?;
        Ok(lease.keys.iter().filter_map(|k| self.delete(k)).collect())
    }

    /// Ends every lease whose deadline has passed; the deletions that follow.
    pub(super) fn expire(&mut self, now: Duration) -> Vec<WatchEvent> {
        let ended: Vec<LeaseId> = self
            .leases
            .iter()
            .filter(|(_, l)| l.deadline <= now)
            .map(|(id, _)| *id)
            .collect();
        let revoked = ended.into_iter().map(|id| self.revoke(id));
        revoked
            .flat_map(|events| events.unwrap_or_default())
            .collect()
    }

    /// When the next lease ends, if any is live.
    pub(super) fn next_expiry(&self) -> Option<Duration> {
        self.leases.values().map(|l| l.deadline).min()
    }

    pub(super) fn register(
        &mut self,
        key: &str,
        value: Vec<u8>,
        lease: LeaseId,
    ) -> Result<(Fence, Option<WatchEvent>), CoordError> {
        if let Some(held) = self.keys.get(key) {
            return match held.lease == lease {
                true => Ok((held.fence, None)),
                false => Err(CoordError::Taken(held.clone())),
            };
        }
        let owner = self
            .leases
            .get_mut(&lease)
            .ok_or(CoordError::LeaseGone(lease))?;
        owner.keys.insert(key.to_string());
        self.revision += 1;
        let registration = Registration {
            key: key.to_string(),
            value,
            lease,
            fence: Fence(self.revision),
        };
        self.keys.insert(key.to_string(), registration.clone());
        Ok((registration.fence, Some(WatchEvent::Put(registration))))
    }

    pub(super) fn deregister(&mut self, key: &str, fence: Fence) -> Result<WatchEvent, CoordError> {
        let not_owner = || CoordError::NotOwner {
            key: key.to_string(),
            fence,
        };
        let held = self.keys.get(key).ok_or_else(not_owner)?;
        if held.fence != fence {
            return Err(not_owner());
        }
        if let Some(lease) = self.leases.get_mut(&held.lease) {
            lease.keys.remove(key);
        }
        self.delete(key).ok_or_else(not_owner)
    }

    fn delete(&mut self, key: &str) -> Option<WatchEvent> {
        let gone = self.keys.remove(key)?;
        self.revision += 1;
        Some(WatchEvent::Delete {
            key: gone.key,
            fence: gone.fence,
        })
    }

    pub(super) fn get(&self, key: &str) -> Option<Registration> {
        self.keys.get(key).cloned()
    }

    pub(super) fn list(&self, prefix: &str) -> Vec<Registration> {
        let under = self.keys.range(prefix.to_string()..);
        under
            .take_while(|(k, _)| k.starts_with(prefix))
            .map(|(_, r)| r.clone())
            .collect()
    }

    /// The candidacy of `election` that stood first among those alive.
    pub(super) fn leader(&self, election: &str) -> Option<Registration> {
        let candidates = self.list(&format!("{election}/"));
        candidates.into_iter().min_by_key(|r| r.fence)
    }
}
