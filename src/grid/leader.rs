//! A fenced singleton leader: candidates stand through the coordinator's election (watched,
//! never polled), the winner leads with its fence, and a leader that can no longer prove
//! its lease stops itself before the lease can expire — so at no instant do two leaders
//! hold valid fences.
//!
//! # Why two leaders cannot overlap
//! A candidate keeps its lease alive every `keep_alive_every`. The coordinator ends the
//! lease `ttl` after it *received* the last keep-alive; the candidate counts from when it
//! *sent* it, which is earlier, and stops leading `margin` before that: at
//! `last_sent + ttl - margin`, unless a newer keep-alive was acknowledged. A successor
//! wins only once the old candidacy's key is gone, which is at the lease's end at the
//! earliest. So the old term ends at least `margin` before the new one begins, whatever
//! the network does — on one clock. Across machines, `margin` must exceed the clocks'
//! drift over one `ttl` (Akka's removal margin).
//!
//! The fence (the candidacy's creation revision) grows with every term; a side effect
//! carrying it can be refused by any service that has seen a larger one.

use std::future::Future;
use std::pin::pin;
use std::time::Duration;

use super::coordinator::{CoordError, Coordinator, Fence, LeaseId};
use super::lease::{hold, LeaseTiming};
use crate::bugs::{Bug, Bugs};
use crate::rt::{raised, Runtime, WatchSender};

/// How a candidate keeps its lease and when it gives its leadership up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LeaderConfig {
    /// The lease's time to live.
    pub ttl: Duration,
    /// How often the lease is kept alive.
    pub keep_alive_every: Duration,
    /// How long before the lease could end the leader stops.
    pub margin: Duration,
    /// The wait before standing again after a lost lease or an unreachable coordinator.
    pub retry: Duration,
    /// Reintroduced catalogue bugs: the harness's lever; empty by default.
    #[doc(hidden)]
    pub bugs: Bugs,
}

impl LeaderConfig {
    /// How the lease is kept.
    pub fn timing(&self) -> LeaseTiming {
        LeaseTiming {
            ttl: self.ttl,
            keep_alive_every: self.keep_alive_every,
            margin: self.margin,
        }
    }
}

impl Default for LeaderConfig {
    /// A 10 s lease kept alive every 2 s; leadership given up 1 s before it could end.
    fn default() -> Self {
        Self {
            ttl: Duration::from_secs(10),
            keep_alive_every: Duration::from_secs(2),
            margin: Duration::from_secs(1),
            retry: Duration::from_millis(500),
            bugs: Bugs::NONE,
        }
    }
}

/// One term of leadership: its fence, and a signal that completes when it must end.
#[derive(Debug)]
pub struct Term<R: Runtime> {
    fence: Fence,
    lease: LeaseId,
    ended: R::WatchReceiver<bool>,
}

impl<R: Runtime> Term<R> {
    /// The term's fence: pass it with every side effect.
    pub fn fence(&self) -> Fence {
        self.fence
    }

    /// The lease the term stands on.
    pub fn lease(&self) -> LeaseId {
        self.lease
    }

    /// Completes when the term ends: the lease can no longer be proven, or the candidate
    /// is stopping. The leader's future is dropped right after, so this is for a leader
    /// that wants to finish a step first.
    pub async fn ended(&mut self) {
        raised(&mut self.ended).await;
    }
}

/// How one term ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TermEnd {
    /// The leader's future returned: it resigned.
    Resigned,
    /// The lease could no longer be proven; the leader was stopped.
    LeaseLost,
    /// The candidate was told to stop.
    Stopped,
}

/// A won campaign: the lease, the fence, and when the lease was last proven.
struct Won<R: Runtime> {
    lease: LeaseId,
    fence: Fence,
    sent: R::Instant,
}

/// A candidate for leader of one election.
#[derive(Debug)]
pub struct Candidate<R: Runtime, C: Coordinator> {
    rt: R,
    coordinator: C,
    election: String,
    value: Vec<u8>,
    config: LeaderConfig,
}

impl<R: Runtime, C: Coordinator> Candidate<R, C> {
    /// A candidate for `election`, standing with `value` (who it is, for observers).
    pub fn new(
        rt: R,
        coordinator: C,
        election: &str,
        value: Vec<u8>,
        config: LeaderConfig,
    ) -> Self {
        let election = election.to_string();
        Self {
            rt,
            coordinator,
            election,
            value,
            config,
        }
    }

    /// Stands for leader until `until` completes: each time it wins, runs `lead(term)`
    /// until the term ends, then stands again. Returns how each term ended.
    pub async fn run<F, Fut>(
        &self,
        until: impl Future<Output = ()>,
        mut lead: F,
    ) -> Vec<(Fence, TermEnd)>
    where
        F: FnMut(Term<R>) -> Fut,
        Fut: Future<Output = ()>,
    {
        let mut until = pin!(until);
        let mut terms = Vec::new();
        loop {
            let stood = crate::select! {
                () = until.as_mut() => return terms,
                stood = self.stand() => stood,
            };
            let Ok(won) = stood else {
                crate::select! {
                    () = until.as_mut() => return terms,
                    () = self.rt.sleep(self.config.retry) => continue,
                }
            };
            let fence = won.fence;
            let end = self.lead(won, until.as_mut(), &mut lead).await;
            tracing::info!(election = %self.election, fence = fence.0, ?end, "term ended");
            terms.push((fence, end));
            if end == TermEnd::Stopped {
                return terms;
            }
        }
    }

    /// A fresh lease and a won campaign, the lease kept alive while waiting; also when
    /// the last acknowledged grant or keep-alive was sent, which the lease outlives.
    async fn stand(&self) -> Result<Won<R>, CoordError> {
        let mut sent = self.rt.now();
        let lease = self.coordinator.grant(self.config.ttl).await?;
        let campaign = self
            .coordinator
            .campaign(&self.election, self.value.clone(), lease);
        let mut campaign = pin!(campaign);
        loop {
            crate::select! {
                won = campaign.as_mut() => return won.map(|fence| Won { lease, fence, sent }),
                () = self.rt.sleep(self.config.keep_alive_every) => {
                    let at = self.rt.now();
                    self.coordinator.keep_alive(lease).await?;
                    sent = at;
                }
            }
        }
    }

    /// Runs one term: the leader's future, beside the keep-alives that prove the lease.
    async fn lead<F, Fut>(
        &self,
        Won { lease, fence, sent }: Won<R>,
        mut until: std::pin::Pin<&mut impl Future<Output = ()>>,
        lead: &mut F,
    ) -> TermEnd
    where
        F: FnMut(Term<R>) -> Fut,
        Fut: Future<Output = ()>,
    {
        let (end, ended) = self.rt.watch(&format!("{}/term", self.election), false);
        let term = Term {
            fence,
            lease,
            ended,
        };
        let leading = lead(term);
        let timing = self.config.timing();
        let ignore_lease = self.config.bugs.has(Bug::G3LeaderOutlivesLease);
        let held = async {
            hold(&self.rt, &self.coordinator, lease, sent, timing).await;
            if ignore_lease {
                loop {
                    hold(&self.rt, &self.coordinator, lease, self.rt.now(), timing).await;
                }
            }
        };
        let outcome = crate::select! {
            () = until.as_mut() => TermEnd::Stopped,
            () = leading => TermEnd::Resigned,
            () = held => TermEnd::LeaseLost,
        };
        let _told = end.send(true);
        if outcome != TermEnd::LeaseLost {
            let _ = self.coordinator.resign(&self.election, fence).await;
            let _ = self.coordinator.revoke(lease).await;
        }
        outcome
    }
}
