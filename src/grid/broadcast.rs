//! Broadcasts to a group of actors: [`Grid::fastest`] returns on the first answer and
//! cancels the rest at once; [`Grid::all`] returns a [`Status`] per member; [`Grid::resend`]
//! sends again only to the members that did not succeed and for which sending again is
//! safe.
//!
//! Cancelling a member's request closes its exchange: still queued in the member's mailbox,
//! it is withdrawn and never processed; taken, it is abandoned and its answer dropped. A
//! member answered with an application error has processed the message and is never sent
//! it again (the Go grid retried the handler's own errors: processed twice, G5).

use std::num::NonZeroUsize;
use std::time::Duration;

use super::actor::Actor;
use super::coordinator::Coordinator;
use super::error::GridError;
use super::mailbox::Busy;
use super::Grid;
use crate::bugs::Bug;
use crate::net::Transport;
use crate::patterns::replicate::{first_ok, ReplicaError, Replication};
use crate::patterns::retry::{Classify, Delivery};
use crate::rt::{JoinHandle, Runtime};

/// How one member's request ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Status<T, E> {
    /// It answered.
    Answered(T),
    /// It failed; the error says whether it was delivered.
    Failed(GridError<E>),
    /// The broadcast stopped waiting for it (another answered first, or time ran out): it
    /// may have been delivered.
    Cancelled,
    /// Nothing was sent to it: no actor holds its name.
    NotAttempted,
    /// The task sending to it panicked.
    Panicked(String),
}

impl<T, E> Status<T, E> {
    /// Whether the member answered.
    pub fn is_answered(&self) -> bool {
        matches!(self, Self::Answered(_))
    }
}

/// Which failed members [`Grid::resend`] sends to again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resend {
    /// Only those the message surely did not reach.
    NotDelivered,
    /// Also those it may have reached (cancelled, lost, timed out once taken): for
    /// idempotent messages.
    AlsoMaybeDelivered,
}

/// Every member's status, in the order the members were given.
pub type Statuses<T, E> = Vec<(String, Status<T, E>)>;

impl<R: Runtime, C: Coordinator, T: Transport> Grid<R, C, T> {
    /// Sends `message` to every member at once and returns the first answer with its
    /// member's name; the other requests are cancelled the moment it arrives. If none
    /// answers within `timeout` (plus the slack), every member's status.
    pub async fn fastest<A: Actor<R>>(
        &self,
        members: &[String],
        message: &A::Message,
        timeout: Duration,
    ) -> Result<(String, A::Reply), Statuses<A::Reply, A::Error>>
    where
        A::Message: Clone + Sync,
    {
        let Some(count) = NonZeroUsize::new(members.len()) else {
            return Err(Vec::new());
        };
        if self.config().bugs.has(Bug::G4FastestWaitsForAll) {
            return waited_for_all(self.all::<A>(members, message, timeout).await);
        }
        let slack = self.config().reply_slack;
        let replication = Replication::all(count, slack).within(timeout + slack);
        let replica = |i: usize, mut stop: crate::patterns::replicate::Stop<R>| {
            let (grid, name, message) = (self.clone(), members[i].clone(), message.clone());
            async move {
                crate::select! {
                    () = stop.stopped() => Err(None),
                    answered = grid.request::<A>(&name, &message, Busy::Wait, timeout) => answered.map_err(Some),
                }
            }
        };
        let won = first_ok(self.runtime(), "grid/fastest", replication, replica).await;
        match won {
            Ok(winner) => Ok((members[winner.index].clone(), winner.value)),
            Err(all_failed) => {
                let statuses = all_failed.causes.into_iter().map(|cause| match cause {
                    ReplicaError::Failed(Some(error)) => failed(error),
                    ReplicaError::Failed(None) | ReplicaError::TimedOut => Status::Cancelled,
                    ReplicaError::NotStarted => Status::NotAttempted,
                    ReplicaError::Panicked(why) => Status::Panicked(why),
                });
                Err(members.iter().cloned().zip(statuses).collect())
            }
        }
    }

    /// Sends `message` to every member at once and waits for each, at most `timeout` (plus
    /// the slack): a member still silent then is cancelled.
    pub async fn all<A: Actor<R>>(
        &self,
        members: &[String],
        message: &A::Message,
        timeout: Duration,
    ) -> Statuses<A::Reply, A::Error>
    where
        A::Message: Clone + Sync,
    {
        let rt = self.runtime();
        let deadline = rt.now() + timeout + self.config().reply_slack;
        let requests: Vec<_> = members
            .iter()
            .map(|name| {
                let task = format!("grid/all/{name}");
                let (grid, name, message) = (self.clone(), name.clone(), message.clone());
                let request = async move {
                    grid.request::<A>(&name, &message, Busy::Wait, timeout)
                        .await
                };
                rt.spawn(&task, request)
            })
            .collect();
        let mut statuses = Vec::with_capacity(members.len());
        for (name, mut request) in members.iter().cloned().zip(requests) {
            let status = match rt.timeout_at(deadline, &mut request).await {
                Ok(Ok(Ok(answer))) => Status::Answered(answer),
                Ok(Ok(Err(error))) => failed(error),
                Ok(Err(joined)) => Status::Panicked(joined.to_string()),
                Err(_) => {
                    request.abort();
                    Status::Cancelled
                }
            };
            statuses.push((name, status));
        }
        statuses
    }

    /// Sends `message` again to the members of `previous` that did not answer and for
    /// which `resend` allows it; the others keep their status.
    pub async fn resend<A: Actor<R>>(
        &self,
        previous: Statuses<A::Reply, A::Error>,
        message: &A::Message,
        timeout: Duration,
        resend: Resend,
    ) -> Statuses<A::Reply, A::Error>
    where
        A::Message: Clone + Sync,
    {
        let retry_application = self.config().bugs.has(Bug::G5RetryApplicationError);
        let again: Vec<String> = previous
            .iter()
            .filter(|(_, status)| safe_to_resend(status, resend, retry_application))
            .map(|(name, _)| name.clone())
            .collect();
        let mut fresh = self.all::<A>(&again, message, timeout).await.into_iter();
        previous
            .into_iter()
            .map(|(name, status)| match again.contains(&name) {
                true => fresh.next().expect("one status per member sent to"),
                false => (name, status),
            })
            .collect()
    }
}

/// A member's failure as its status: a name no actor holds was not attempted.
fn failed<T, E>(error: GridError<E>) -> Status<T, E> {
    match error {
        GridError::NoActor => Status::NotAttempted,
        other => Status::Failed(other),
    }
}

/// Whether a member with `status` may be sent the message again.
fn safe_to_resend<T, E>(status: &Status<T, E>, resend: Resend, retry_application: bool) -> bool {
    let maybe_ok = resend == Resend::AlsoMaybeDelivered;
    match status {
        Status::Answered(_) | Status::Panicked(_) => false,
        Status::NotAttempted => true,
        Status::Cancelled => maybe_ok,
        Status::Failed(error) => match error.delivery() {
            Delivery::NotDelivered => true,
            Delivery::MaybeDelivered => maybe_ok,
            Delivery::Application => retry_application,
        },
    }
}

/// G4: the first answer in member order, found only once every member has answered.
fn waited_for_all<T, E>(statuses: Statuses<T, E>) -> Result<(String, T), Statuses<T, E>> {
    if !statuses.iter().any(|(_, s)| s.is_answered()) {
        return Err(statuses);
    }
    let answered = statuses
        .into_iter()
        .find_map(|(name, status)| match status {
            Status::Answered(answer) => Some((name, answer)),
            _ => None,
        });
    Ok(answered.expect("one answered"))
}
