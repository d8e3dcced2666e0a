//! Mailboxes: bounded queues of requests with a reply each, and requests whose errors say
//! exactly what the caller may assume.
//!
//! Each queued request carries a small state that the caller and the actor settle with
//! compare-and-swaps: the actor takes a request only if the caller has not withdrawn it,
//! and answers it only if the caller has not abandoned it; a caller that gives up withdraws
//! a queued request, abandons a taken one, and waits for an answer already on its way. So a
//! request the caller gave up on while it was queued is never processed
//! ([`RequestError::Busy`], [`RequestError::TimedOut`] with `taken: false`: safe to send
//! again), one given up on after it was taken is reported as maybe processed, and
//! [`Request::answer`] returns `true` exactly when the caller got the answer. A caller whose
//! future is dropped (a cancelled broadcast) gives its request up the same way.
//! Requests still queued when the actor ends are answered at once with
//! [`RequestError::BrokenPromise`] — the reply's sender is dropped with the queue — never
//! left to time out. The Go grid retried every error, handlers' own included, and left
//! queued requests unanswered.

use std::fmt;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::patterns::retry::{Classify, Delivery};
use crate::rt::{OneshotSender, Receiver, RecvError, Runtime, Sender, TrySendError};

const QUEUED: u8 = 0;
const TAKEN: u8 = 1;
const WITHDRAWN: u8 = 2;
const ANSWERED: u8 = 3;
const ABANDONED: u8 = 4;

/// What a caller does when the mailbox is full.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Busy {
    /// Fail at once with [`RequestError::Busy`]: not delivered.
    Reject,
    /// Wait for room, within the request's timeout.
    Wait,
}

/// Why a request got no answer, and what the caller may assume.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum RequestError<E> {
    /// The mailbox was full and the policy was to reject: not delivered.
    Busy,
    /// No mailbox by that name, or it was closed: not delivered.
    NoMailbox,
    /// The timeout passed; `taken` says whether the actor had taken the request (then it
    /// may have been processed) or it was withdrawn from the queue unprocessed.
    TimedOut {
        /// Whether the actor had taken the request.
        taken: bool,
    },
    /// The actor ended without answering; `taken` as for a timeout.
    BrokenPromise {
        /// Whether the actor had taken the request.
        taken: bool,
    },
    /// The handler answered with this error.
    Application(E),
}

impl<E> RequestError<E> {
    /// The same error with its application error converted by `convert`, which may fail.
    pub fn try_map<F, X>(
        self,
        convert: impl FnOnce(E) -> Result<F, X>,
    ) -> Result<RequestError<F>, X> {
        Ok(match self {
            Self::Busy => RequestError::Busy,
            Self::NoMailbox => RequestError::NoMailbox,
            Self::TimedOut { taken } => RequestError::TimedOut { taken },
            Self::BrokenPromise { taken } => RequestError::BrokenPromise { taken },
            Self::Application(error) => RequestError::Application(convert(error)?),
        })
    }
}

impl<E> Classify for RequestError<E> {
    fn delivery(&self) -> Delivery {
        match self {
            Self::Busy | Self::NoMailbox => Delivery::NotDelivered,
            Self::TimedOut { taken } | Self::BrokenPromise { taken } => match taken {
                false => Delivery::NotDelivered,
                true => Delivery::MaybeDelivered,
            },
            Self::Application(_) => Delivery::Application,
        }
    }
}

/// A request in a mailbox: the message, its state, and where the answer goes.
pub struct Envelope<R: Runtime, M, A: Send + 'static, E: Send + 'static> {
    message: M,
    state: Arc<AtomicU8>,
    reply: R::OneshotSender<Result<A, E>>,
}

/// A request the actor has taken: answer it with [`Request::answer`]; dropping it
/// unanswered is a broken promise.
#[must_use = "an unanswered request is a broken promise to its caller"]
pub struct Request<R: Runtime, M, A: Send + 'static, E: Send + 'static> {
    /// The message.
    pub message: M,
    state: Arc<AtomicU8>,
    reply: R::OneshotSender<Result<A, E>>,
}

impl<R: Runtime, M, A: Send + 'static, E: Send + 'static> Request<R, M, A, E> {
    /// Answers the caller; `false` if it already gave up, and then nothing was sent.
    pub fn answer(self, answer: Result<A, E>) -> bool {
        let claimed =
            self.state
                .compare_exchange(TAKEN, ANSWERED, Ordering::AcqRel, Ordering::Acquire);
        claimed.is_ok() && self.reply.send(answer).is_ok()
    }
}

/// The sending side of a mailbox; cheap to clone.
pub struct Outbox<R: Runtime, M: Send + 'static, A: Send + 'static, E: Send + 'static> {
    rt: R,
    name: Arc<str>,
    queue: R::Sender<Envelope<R, M, A, E>>,
}

/// The actor's side of a mailbox. Dropping it answers every queued request with a broken
/// promise.
pub struct Inbox<R: Runtime, M: Send + 'static, A: Send + 'static, E: Send + 'static> {
    queue: R::Receiver<Envelope<R, M, A, E>>,
}

/// The two sides of a mailbox.
pub type Mailbox<R, M, A, E> = (Outbox<R, M, A, E>, Inbox<R, M, A, E>);

/// A mailbox named `name` holding at most `capacity` requests.
///
/// # Panics
/// If `capacity` is zero.
#[track_caller]
pub fn mailbox<R, M, A, E>(rt: &R, name: &str, capacity: usize) -> Mailbox<R, M, A, E>
where
    R: Runtime,
    M: Send + 'static,
    A: Send + 'static,
    E: Send + 'static,
{
    let (queue, inbox) = rt.channel(&format!("mailbox:{name}"), capacity);
    let outbox = Outbox {
        rt: rt.clone(),
        name: name.into(),
        queue,
    };
    (outbox, Inbox { queue: inbox })
}

impl<R: Runtime, M: Send + 'static, A: Send + 'static, E: Send + 'static> Outbox<R, M, A, E> {
    /// Sends `message` and waits for its answer, at most `timeout` in all.
    pub async fn request(
        &self,
        message: M,
        busy: Busy,
        timeout: Duration,
    ) -> Result<A, RequestError<E>> {
        let deadline = self.rt.now() + timeout;
        let state = Arc::new(AtomicU8::new(QUEUED));
        let _withdraw_if_dropped = Pending(state.clone());
        let (reply, answer) = self.rt.oneshot(&format!("mailbox:{}/reply", self.name));
        let envelope = Envelope {
            message,
            state: state.clone(),
            reply,
        };
        match busy {
            Busy::Reject => match self.queue.try_send(envelope) {
                Ok(()) => {}
                Err(TrySendError::Full(_)) => return Err(RequestError::Busy),
                Err(TrySendError::Closed(_)) => return Err(RequestError::NoMailbox),
            },
            Busy::Wait => match self
                .rt
                .timeout_at(deadline, self.queue.send(envelope))
                .await
            {
                Ok(Ok(())) => {}
                Ok(Err(_)) => return Err(RequestError::NoMailbox),
                Err(_) => return Err(RequestError::TimedOut { taken: false }),
            },
        }
        let mut answer = answer;
        let outcome = match self.rt.timeout_at(deadline, &mut answer).await {
            Ok(outcome) => outcome,
            Err(_) => match give_up(&state) {
                Some(taken) => return Err(RequestError::TimedOut { taken }),
                None => answer.await,
            },
        };
        match outcome {
            Ok(answer) => answer.map_err(RequestError::Application),
            Err(RecvError) => Err(RequestError::BrokenPromise {
                taken: give_up(&state) != Some(false),
            }),
        }
    }

    /// The mailbox's name.
    pub fn name(&self) -> &str {
        &self.name
    }
}

/// Gives a request up when its caller's future is dropped before the answer came (a
/// cancelled caller): queued, it is withdrawn and never processed; taken, it is abandoned.
struct Pending(Arc<AtomicU8>);

impl Drop for Pending {
    fn drop(&mut self) {
        give_up(&self.0);
    }
}

/// Withdraws a queued request (`Some(false)`) or abandons a taken one (`Some(true)`);
/// `None` if its answer is already on its way.
fn give_up(state: &AtomicU8) -> Option<bool> {
    let swap = |from, to| state.compare_exchange(from, to, Ordering::AcqRel, Ordering::Acquire);
    match swap(QUEUED, WITHDRAWN) {
        Ok(_) => Some(false),
        Err(_) => swap(TAKEN, ABANDONED).ok().map(|_| true),
    }
}

impl<R: Runtime, M: Send + 'static, A: Send + 'static, E: Send + 'static> Inbox<R, M, A, E> {
    /// The next request its caller still waits for; `None` once every outbox is gone.
    pub async fn next(&mut self) -> Option<Request<R, M, A, E>> {
        loop {
            let envelope = self.queue.recv().await?;
            let take =
                envelope
                    .state
                    .compare_exchange(QUEUED, TAKEN, Ordering::AcqRel, Ordering::Acquire);
            if take.is_ok() {
                let Envelope {
                    message,
                    state,
                    reply,
                } = envelope;
                return Some(Request {
                    message,
                    state,
                    reply,
                });
            }
        }
    }

    /// Refuses further requests; those queued can still be taken.
    pub fn close(&mut self) {
        self.queue.close();
    }
}

impl<R: Runtime, M: Send + 'static, A: Send + 'static, E: Send + 'static> Clone
    for Outbox<R, M, A, E>
{
    fn clone(&self) -> Self {
        Self {
            rt: self.rt.clone(),
            name: self.name.clone(),
            queue: self.queue.clone(),
        }
    }
}

impl<R: Runtime, M: Send + 'static, A: Send + 'static, E: Send + 'static> fmt::Debug
    for Outbox<R, M, A, E>
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Outbox").field(&self.name).finish()
    }
}

impl<R: Runtime, M: Send + 'static, A: Send + 'static, E: Send + 'static> fmt::Debug
    for Inbox<R, M, A, E>
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Inbox").field(&self.queue).finish()
    }
}

impl<R: Runtime, M, A: Send + 'static, E: Send + 'static> fmt::Debug for Envelope<R, M, A, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Envelope")
    }
}

impl<R: Runtime, M: fmt::Debug, A: Send + 'static, E: Send + 'static> fmt::Debug
    for Request<R, M, A, E>
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Request").field(&self.message).finish()
    }
}

impl<E: fmt::Debug> fmt::Display for RequestError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Busy => f.write_str("the mailbox is full: not delivered"),
            Self::NoMailbox => f.write_str("no such mailbox: not delivered"),
            Self::TimedOut { taken: false } => {
                f.write_str("timed out while queued: withdrawn unprocessed")
            }
            Self::TimedOut { taken: true } => {
                f.write_str("timed out after the actor took it: maybe processed")
            }
            Self::BrokenPromise { taken: false } => {
                f.write_str("the actor ended with the request queued: not processed")
            }
            Self::BrokenPromise { taken: true } => {
                f.write_str("the actor ended without answering: maybe processed")
            }
            Self::Application(e) => write!(f, "the handler answered with an error: {e:?}"),
        }
    }
}

impl<E: fmt::Debug> std::error::Error for RequestError<E> {}
