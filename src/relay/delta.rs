//! The delta: dynamic fan-out of frames from one inlet to many subscribers.
//!
//! Each subscriber has its own bounded outlet, its keys and its delivery policy. A frame goes
//! to every subscriber whose keys it touches, as a shared pointer. When an outlet is full, a
//! lossless subscriber holds the fan-out back (backpressure); a lossy one waits at most its
//! patience, counted from when the frame's fan-out began, then misses the frame. A miss is
//! never silent: the subscriber's next delivery carries how many frames it missed.
//!
//! # Why the delta cannot deadlock with its subscribers
//! The Go original's B1: a streamer stopped reading, the delta blocked sending into its full
//! outlet, and the streamer blocked sending its disconnect to the delta. Here the delta never
//! waits on an outlet without also serving its control channel: while a send is pending it
//! still accepts connects, key updates and disconnects, and a disconnect of the subscriber
//! it waits on ends that wait. So a subscriber's control request is always served, whatever
//! the state of its outlet, and the only thing the delta can wait for is a subscriber that
//! is alive, connected, lossless and not reading — which is that subscriber's choice, not a
//! cycle. Control requests are acknowledged through oneshots the delta never waits on.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::time::Duration;

use std::sync::Arc;

pub use super::delivery::{Delivery, Inflow, Policy};
use super::reached;
use crate::bugs::{Bug, Bugs};
use crate::frame::{ChannelKey, Frame, WriterGroup};
use crate::rt::prelude::*;
use crate::rt::{coverage, Tokio, TrySendError};

/// Frames the delta fans out in one go before it looks at its control channel again.
const BATCH: usize = 32;

/// A subscriber's identity, unique among those connected.
pub type SubscriberId = u64;

/// Why a control request failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeltaError {
    /// The delta has stopped.
    Stopped,
    /// A subscriber with this id is already connected.
    AlreadyConnected(SubscriberId),
    /// No subscriber with this id is connected.
    NotConnected(SubscriberId),
}

impl fmt::Display for DeltaError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DeltaError::Stopped => f.write_str("the delta has stopped"),
            DeltaError::AlreadyConnected(id) => write!(f, "subscriber {id} is already connected"),
            DeltaError::NotConnected(id) => write!(f, "subscriber {id} is not connected"),
        }
    }
}

impl std::error::Error for DeltaError {}

type Ack<R> = <R as Runtime>::OneshotSender<Result<(), DeltaError>>;

enum Control<R: Runtime> {
    Connect(SubscriberId, Subscriber<R>, Ack<R>),
    Update(SubscriberId, Arc<BTreeSet<ChannelKey>>, Ack<R>),
    Disconnect(SubscriberId, Ack<R>),
}

struct Subscriber<R: Runtime> {
    keys: Arc<BTreeSet<ChannelKey>>,
    exclude: BTreeSet<WriterGroup>,
    policy: Policy,
    outlet: R::Sender<Delivery>,
    missed: u64,
    interrupted: bool,
}

/// Sends control requests to a running delta. Cheap to clone.
pub struct DeltaHandle<R: Runtime = Tokio> {
    rt: R,
    control: R::Sender<Control<R>>,
}

/// The delta's task state; [`Delta::run`] is its body.
#[must_use = "a delta does nothing until it runs"]
pub struct Delta<R: Runtime = Tokio> {
    rt: R,
    inlet: R::Receiver<Inflow>,
    control: Option<R::Receiver<Control<R>>>,
    subscribers: BTreeMap<SubscriberId, Subscriber<R>>,
    order: Vec<SubscriberId>,
    close_deadline: Duration,
    bugs: Bugs,
}

/// How long a stopping delta goes on fanning out what its inlet holds, by default.
const CLOSE_DEADLINE: Duration = Duration::from_secs(1);

impl<R: Runtime> Delta<R> {
    /// A delta reading frames from `inlet`, and the handle that connects subscribers to it.
    #[track_caller]
    pub fn new(rt: R, inlet: R::Receiver<Inflow>) -> (Self, DeltaHandle<R>) {
        let (tx, rx) = rt.channel("delta:control", 16);
        let handle = DeltaHandle {
            rt: rt.clone(),
            control: tx,
        };
        let (subscribers, order) = (BTreeMap::new(), Vec::new());
        (
            Delta {
                rt,
                inlet,
                control: Some(rx),
                subscribers,
                order,
                close_deadline: CLOSE_DEADLINE,
                bugs: Bugs::NONE,
            },
            handle,
        )
    }

    /// How long, once told to stop, the delta goes on fanning out what its inlet already
    /// holds (1 s by default): a lossless subscriber that stopped reading cannot hold a
    /// stopping delta beyond it. What is left then is dropped.
    pub fn close_deadline(mut self, deadline: Duration) -> Self {
        self.close_deadline = deadline;
        self
    }

    /// Reintroduces catalogued bugs (B1's delta half, B2, B2b): the harness's lever.
    #[doc(hidden)]
    pub fn bugs(mut self, bugs: Bugs) -> Self {
        self.bugs = bugs;
        self
    }

    /// Fans frames out until the inlet closes and is drained; then disconnects every
    /// subscriber, whose outlets close once they have read what is buffered.
    pub async fn run(self) {
        self.run_until(std::future::pending()).await
    }

    /// As [`Delta::run`], and also stops once `stop` completes: it then fans out what the
    /// inlet already holds, without waiting for more, for at most its
    /// [`close_deadline`](Delta::close_deadline). The stop is looked at first, so a busy
    /// inlet cannot keep the delta from stopping.
    pub async fn run_until(mut self, stop: impl std::future::Future<Output = ()>) {
        let mut stop = std::pin::pin!(stop);
        let (rt, deadline) = (self.rt.clone(), self.close_deadline);
        let stopped_at = loop {
            let control = self.control.as_mut();
            let inflow = crate::select! {
                () = &mut stop => break rt.now(),
                request = recv_control(control) => {
                    match request {
                        Some(request) => self.apply(request),
                        None => self.control = None,
                    }
                    continue;
                }
                inflow = self.inlet.recv() => match inflow {
                    Some(inflow) => inflow,
                    None => return,
                },
            };
            let mut fan_out = std::pin::pin!(self.fan_out_batch(inflow));
            crate::select! {
                () = &mut stop => {
                    let at = rt.now();
                    if rt.timeout_at(at + deadline, fan_out).await.is_err() {
                        return gave_up();
                    }
                    break at;
                }
                () = &mut fan_out => {}
            }
        };
        let rest = async {
            while let Ok(inflow) = self.inlet.try_recv() {
                self.take(inflow).await;
            }
        };
        if rt.timeout_at(stopped_at + deadline, rest).await.is_err() {
            gave_up();
        }
    }

    fn apply(&mut self, request: Control<R>) {
        let (ack, result) = match request {
            Control::Connect(id, subscriber, ack) => (ack, self.connect(id, subscriber)),
            Control::Update(id, keys, ack) => {
                let found = self.subscribers.get_mut(&id).map(|s| s.keys = keys);
                (ack, found.ok_or(DeltaError::NotConnected(id)))
            }
            Control::Disconnect(id, ack) => {
                let found = self.subscribers.remove(&id).map(drop);
                (ack, found.ok_or(DeltaError::NotConnected(id)))
            }
        };
        let _ = ack.send(result);
    }

    fn connect(&mut self, id: SubscriberId, subscriber: Subscriber<R>) -> Result<(), DeltaError> {
        if self.subscribers.contains_key(&id) {
            return Err(DeltaError::AlreadyConnected(id));
        }
        self.subscribers.insert(id, subscriber);
        Ok(())
    }

    /// Takes `inflow` and up to [`BATCH`]` - 1` more already waiting behind it, before
    /// looking at control again: fewer wake-ups per frame under load, and a control request
    /// waits at most one batch (or is served inside a wait for room).
    async fn fan_out_batch(&mut self, inflow: Inflow) {
        self.take(inflow).await;
        for _ in 1..BATCH {
            match self.inlet.try_recv() {
                Ok(inflow) => self.take(inflow).await,
                Err(_) => return,
            }
        }
    }

    async fn take(&mut self, inflow: Inflow) {
        match inflow {
            Inflow::Frame(frame) => self.fan_out(frame).await,
            Inflow::Gap(keys) => self.mark_gap(&keys),
        }
    }

    /// Marks the next delivery of every subscriber of one of `keys` as interrupted.
    fn mark_gap(&mut self, keys: &BTreeSet<ChannelKey>) {
        let touched = self.subscribers.values_mut();
        for subscriber in touched.filter(|s| !s.keys.is_disjoint(keys)) {
            subscriber.interrupted = true;
        }
    }

    /// Offers `frame` to every subscriber whose keys it touches, in id order.
    async fn fan_out(&mut self, frame: Frame) {
        let start = self.rt.now();
        let mut order = std::mem::take(&mut self.order);
        order.clear();
        order.extend(self.subscribers.keys().copied());
        for &id in &order {
            let timed_out = self.offer(id, &frame, start).await;
            if timed_out && self.bugs.has(Bug::B2bTimeoutSkipsLaterStreamers) {
                break;
            }
        }
        self.order = order;
    }

    /// Offers `frame` to subscriber `id`; true if its patience ran out.
    async fn offer(&mut self, id: SubscriberId, frame: &Frame, start: R::Instant) -> bool {
        let Some(subscriber) = self.subscribers.get_mut(&id) else {
            return false;
        };
        let excluded = frame
            .group()
            .is_some_and(|g| subscriber.exclude.contains(&g));
        if excluded || !frame.touches(&subscriber.keys) {
            return false;
        }
        let delivery = Delivery {
            frame: frame.clone(),
            keys: subscriber.keys.clone(),
            missed: subscriber.missed,
            interrupted: subscriber.interrupted,
        };
        match subscriber.outlet.try_send(delivery) {
            Ok(()) => (subscriber.missed, subscriber.interrupted) = (0, false),
            Err(TrySendError::Closed(_)) => drop(self.subscribers.remove(&id)),
            Err(TrySendError::Full(delivery)) => {
                return self.wait_for_room(id, delivery, start).await
            }
        }
        false
    }

    /// Waits for room in subscriber `id`'s outlet as its policy allows, serving control
    /// requests meanwhile; a disconnect of `id` ends the wait. True if the patience ran out.
    async fn wait_for_room(
        &mut self,
        id: SubscriberId,
        delivery: Delivery,
        start: R::Instant,
    ) -> bool {
        let Some(subscriber) = self.subscribers.get(&id) else {
            return false;
        };
        let (outlet, policy) = (subscriber.outlet.clone(), subscriber.policy);
        let deadline = match policy {
            Policy::Lossy { .. } if self.bugs.has(Bug::B2SlowStreamerBlocksFanOut) => None,
            Policy::Lossless => None,
            Policy::Lossy { patience } => Some(start + patience),
        };
        if deadline.is_some_and(|at| at <= self.rt.now()) {
            return self.miss(id);
        }
        let serve_control = !self.bugs.has(Bug::B1DisconnectThenDrain);
        loop {
            let control = self.control.as_mut().filter(|_| serve_control);
            crate::select! {
                permit = outlet.reserve() => {
                    if let Ok(permit) = permit {
                        permit.send(delivery);
                        if let Some(subscriber) = self.subscribers.get_mut(&id) {
                            (subscriber.missed, subscriber.interrupted) = (0, false);
                        }
                    }
                    return false;
                }
                request = recv_control(control) => match request {
                    Some(request) => self.apply(request),
                    None => self.control = None,
                },
                () = sleep_until(&self.rt, deadline) => break,
            }
            if !self.subscribers.contains_key(&id) {
                coverage::reached(reached::DISCONNECT_WHILE_OUTLET_FULL);
                return false;
            }
        }
        self.miss(id)
    }

    /// Subscriber `id` misses the frame: its patience ran out (or was zero, and no time is
    /// spent on a timer that has already expired). True, for [`offer`](Self::offer).
    fn miss(&mut self, id: SubscriberId) -> bool {
        if let Some(subscriber) = self.subscribers.get_mut(&id) {
            coverage::reached(reached::LOSSY_PATIENCE_RAN_OUT);
            subscriber.missed += 1;
        }
        true
    }
}

/// Says that a stopping delta reached its close deadline with frames left.
fn gave_up() {
    tracing::warn!("a stopping delta dropped what it still held at its close deadline");
}

/// The next control request, or never once the control channel is gone.
async fn recv_control<R: Runtime>(
    control: Option<&mut R::Receiver<Control<R>>>,
) -> Option<Control<R>> {
    match control {
        Some(control) => control.recv().await,
        None => std::future::pending().await,
    }
}

/// Sleeps until `deadline`, or forever without one.
async fn sleep_until<R: Runtime>(rt: &R, deadline: Option<R::Instant>) {
    match deadline {
        Some(deadline) => rt.sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}

impl<R: Runtime> DeltaHandle<R> {
    /// Connects subscriber `id` for `keys` with an outlet of `capacity` deliveries. Once this
    /// returns, every frame the delta takes from its inlet afterwards and that touches `keys`
    /// is offered to the subscriber.
    #[track_caller]
    pub fn connect(
        &self,
        id: SubscriberId,
        keys: BTreeSet<ChannelKey>,
        policy: Policy,
        capacity: usize,
    ) -> impl std::future::Future<Output = Result<R::Receiver<Delivery>, DeltaError>> + Send + '_
    {
        self.connect_excluding(id, keys, policy, capacity, BTreeSet::new())
    }

    /// Connects as [`connect`](Self::connect) does, except that frames written by a writer
    /// of a group in `exclude` are never offered to the subscriber.
    #[track_caller]
    pub fn connect_excluding(
        &self,
        id: SubscriberId,
        keys: BTreeSet<ChannelKey>,
        policy: Policy,
        capacity: usize,
        exclude: BTreeSet<WriterGroup>,
    ) -> impl std::future::Future<Output = Result<R::Receiver<Delivery>, DeltaError>> + Send + '_
    {
        let (outlet, deliveries) = self.rt.channel(&format!("delta:outlet:{id}"), capacity);
        let subscriber = Subscriber {
            exclude,
            keys: Arc::new(keys),
            policy,
            outlet,
            missed: 0,
            interrupted: false,
        };
        async move {
            self.request(|ack| Control::Connect(id, subscriber, ack))
                .await?;
            Ok(deliveries)
        }
    }

    pub(crate) fn runtime(&self) -> &R {
        &self.rt
    }

    /// Replaces subscriber `id`'s keys.
    pub async fn update(
        &self,
        id: SubscriberId,
        keys: BTreeSet<ChannelKey>,
    ) -> Result<(), DeltaError> {
        self.request(|ack| Control::Update(id, Arc::new(keys), ack))
            .await
    }

    /// Disconnects subscriber `id`: its outlet closes once what is buffered is read. Served
    /// even while the delta waits on that very outlet, so the subscriber may stop reading
    /// before it disconnects.
    pub async fn disconnect(&self, id: SubscriberId) -> Result<(), DeltaError> {
        self.request(|ack| Control::Disconnect(id, ack)).await
    }

    async fn request(&self, make: impl FnOnce(Ack<R>) -> Control<R>) -> Result<(), DeltaError> {
        let (ack, done) = self.rt.oneshot("delta:ack");
        let sent = self.control.send(make(ack)).await;
        sent.map_err(|_| DeltaError::Stopped)?;
        done.await.unwrap_or(Err(DeltaError::Stopped))
    }
}

impl<R: Runtime> Clone for DeltaHandle<R> {
    fn clone(&self) -> Self {
        DeltaHandle {
            rt: self.rt.clone(),
            control: self.control.clone(),
        }
    }
}

impl<R: Runtime> fmt::Debug for DeltaHandle<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("DeltaHandle")
    }
}

impl<R: Runtime> fmt::Debug for Delta<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Delta")
            .field("subscribers", &self.order.len())
            .finish()
    }
}
