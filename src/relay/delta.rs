//! The delta: dynamic fan-out of frames to many subscribers.
//!
//! Each subscriber has its own bounded outlet, its keys and its delivery policy. A frame goes
//! to every subscriber whose keys it touches, as a shared pointer. When an outlet is full, a
//! lossless subscriber holds the fan-out back (backpressure); a lossy one waits at most its
//! patience, counted from when the frame's fan-out began, then misses the frame. A miss is
//! never silent: the subscriber's next delivery carries how many frames it missed.
//!
//! The fan-out runs in the task that brings the frame ([`fan_out`](super::fan_out): why it
//! cannot deadlock is argued there): a writer's, for frames written on this node, so a frame
//! takes one hop from its writer to the outlets and a write returns once every subscriber it
//! touches has it (or missed it as its policy allows). The delta's own task serves its inlet,
//! which peer taps feed with frames and gap markers from other nodes. Control requests
//! (connect, key update, disconnect) are served in the caller's task, under a lock no one
//! holds across an await, so they never wait on the data path.

use std::collections::BTreeSet;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use super::delivery::Subscriber;
pub use super::delivery::{Delivery, Inflow, Policy};
use super::fan_out::{Shared, Stopped};
use super::keys::Keys;
pub use super::table::SubscriberId;
use super::table::Table;
use crate::bugs::Bugs;
use crate::frame::{ChannelKey, WriterGroup};
use crate::rt::prelude::*;
use crate::rt::Tokio;

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

impl From<Stopped> for DeltaError {
    fn from(_: Stopped) -> Self {
        DeltaError::Stopped
    }
}

/// Connects subscribers to a delta and fans frames out through it. Cheap to clone.
pub struct DeltaHandle<R: Runtime = Tokio> {
    shared: Arc<Shared<R>>,
}

/// The delta's task state; [`Delta::run`] is its body. However it ends — its inlet done,
/// stopped, cancelled, or dropped without running — it stops the delta: every outlet
/// closes once read.
#[must_use = "a delta does nothing until it runs"]
pub struct Delta<R: Runtime = Tokio> {
    stopping: StopOnDrop<R>,
    inlet: R::Receiver<Inflow>,
    close_deadline: Duration,
}

/// Stops the delta when dropped, however its task ends.
struct StopOnDrop<R: Runtime>(Arc<Shared<R>>);

impl<R: Runtime> Drop for StopOnDrop<R> {
    fn drop(&mut self) {
        self.0.stop();
    }
}

/// How long a stopping delta goes on fanning out what its inlet holds, by default.
const CLOSE_DEADLINE: Duration = Duration::from_secs(1);

impl<R: Runtime> Delta<R> {
    /// A delta reading frames from `inlet`, and the handle that connects subscribers to it.
    #[track_caller]
    pub fn new(rt: R, inlet: R::Receiver<Inflow>) -> (Self, DeltaHandle<R>) {
        let shared = Arc::new(Shared::new(rt));
        let handle = DeltaHandle {
            shared: shared.clone(),
        };
        let delta = Delta {
            stopping: StopOnDrop(shared),
            inlet,
            close_deadline: CLOSE_DEADLINE,
        };
        (delta, handle)
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
    pub fn bugs(self, bugs: Bugs) -> Self {
        self.stopping.0.set_bugs(bugs);
        self
    }

    /// Fans out what its inlet brings until the inlet closes and is drained; then stops:
    /// every subscriber is disconnected, and its outlet closes once it has read what is
    /// buffered.
    pub async fn run(self) {
        self.run_until(std::future::pending()).await
    }

    /// As [`Delta::run`], and also stops once `stop` completes: it then fans out what the
    /// inlet already holds, without waiting for more, for at most its
    /// [`close_deadline`](Delta::close_deadline). The stop is looked at first, so a busy
    /// inlet cannot keep the delta from stopping.
    pub async fn run_until(self, stop: impl std::future::Future<Output = ()>) {
        let Delta {
            stopping,
            mut inlet,
            close_deadline,
        } = self;
        let shared = &*stopping.0;
        let mut stop = std::pin::pin!(stop);
        let rt = shared.rt.clone();
        let stopped_at = loop {
            let inflow = crate::select! {
                () = &mut stop => break rt.now(),
                inflow = inlet.recv() => match inflow {
                    Some(inflow) => inflow,
                    None => return,
                },
            };
            let mut offer = std::pin::pin!(shared.offer(inflow));
            crate::select! {
                () = &mut stop => {
                    let at = rt.now();
                    if rt.timeout_at(at + close_deadline, offer).await.is_err() {
                        gave_up();
                        return;
                    }
                    break at;
                }
                _ = &mut offer => {}
            }
        };
        let rest = async {
            while let Ok(inflow) = inlet.try_recv() {
                let _ = shared.offer(inflow).await;
            }
        };
        if rt
            .timeout_at(stopped_at + close_deadline, rest)
            .await
            .is_err()
        {
            gave_up();
        }
    }
}

/// Says that a stopping delta reached its close deadline with frames left.
fn gave_up() {
    tracing::warn!("a stopping delta dropped what it still held at its close deadline");
}

impl<R: Runtime> DeltaHandle<R> {
    /// Connects subscriber `id` for `keys` with an outlet of `capacity` deliveries. Once this
    /// returns, every frame fanned out afterwards (written, or taken from the inlet) that
    /// touches `keys` is offered to the subscriber.
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
        let name = format!("delta:outlet:{id}");
        let (outlet, deliveries) = self.shared.rt.channel(&name, capacity);
        let subscriber = Subscriber {
            exclude,
            keys: Arc::new(Keys::new(keys)),
            policy,
            outlet,
            missed: 0,
            interrupted: false,
        };
        async move {
            self.shared.control_turn().await;
            let connect = |table: &mut Table<R>| match table.insert(id, subscriber) {
                Ok(()) => Ok(()),
                Err(_) => Err(DeltaError::AlreadyConnected(id)),
            };
            self.shared.with_table(connect)??;
            Ok(deliveries)
        }
    }

    pub(crate) fn runtime(&self) -> &R {
        &self.shared.rt
    }

    /// Fans `inflow` out in the caller's task, after every fan-out that took its turn
    /// before; waits where a subscriber's outlet is full, as its policy allows. Handed back
    /// if the delta has stopped.
    pub(crate) fn offer(
        &self,
        inflow: Inflow,
    ) -> impl std::future::Future<Output = Result<(), Inflow>> + '_ {
        self.shared.offer(inflow)
    }

    /// Replaces subscriber `id`'s keys.
    pub async fn update(
        &self,
        id: SubscriberId,
        keys: BTreeSet<ChannelKey>,
    ) -> Result<(), DeltaError> {
        let keys = Arc::new(Keys::new(keys));
        self.shared.control_turn().await;
        let update = |table: &mut Table<R>| match table.set_keys(id, keys) {
            true => Ok(()),
            false => Err(DeltaError::NotConnected(id)),
        };
        self.shared.with_table(update)?
    }

    /// Disconnects subscriber `id`: its outlet closes once what is buffered is read. Served
    /// even while a fan-out waits on that very outlet (and that wait ends), so the
    /// subscriber may stop reading before it disconnects.
    pub async fn disconnect(&self, id: SubscriberId) -> Result<(), DeltaError> {
        self.shared.control_turn().await;
        let removed = self.shared.with_table(|table| table.remove(id))?;
        self.shared.changed();
        removed.map(drop).ok_or(DeltaError::NotConnected(id))
    }
}

impl<R: Runtime> Clone for DeltaHandle<R> {
    fn clone(&self) -> Self {
        DeltaHandle {
            shared: self.shared.clone(),
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
            .field("close_deadline", &self.close_deadline)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::{Frame, NodeId, Samples, Series};

    fn frame(value: i64) -> Inflow {
        let series = Series {
            key: ChannelKey::leased(NodeId(1), 1),
            timestamps: vec![value],
            samples: Samples::I64(vec![value]),
        };
        Inflow::Frame(Frame::new(vec![series]).expect("one series"))
    }

    /// A fan-out that waited for room gives its place in the turn back, so the next one is
    /// a single pass again rather than a wait for the turn.
    #[test]
    fn a_turn_is_given_back_once_its_wait_ends() {
        on_tokio(async {
            let (_delta, handle, mut outlet) = one_subscriber().await;
            handle.offer(frame(0)).await.expect("room for one");
            let read = async {
                let first = outlet.recv().await.map(|d| d.series().count());
                (first, outlet.recv().await.is_some())
            };
            let (waited, read) = futures::join!(handle.offer(frame(1)), read);
            assert_eq!((waited.is_ok(), read), (true, (Some(1), true)));
            assert_eq!(handle.shared.turns(), 0, "the turn was given back");
            handle.offer(frame(2)).await.expect("room again");
            assert_eq!(handle.shared.turns(), 0);
        });
    }

    /// A delta that is not run (the tests fan out in their own task) with one lossless
    /// subscriber of the frames' key and room for one delivery: what keeps the delta, its
    /// handle and the outlet.
    async fn one_subscriber() -> (
        impl Sized,
        DeltaHandle<Tokio>,
        <Tokio as Runtime>::Receiver<Delivery>,
    ) {
        let (writes, inlet) = Tokio.channel("writes", 1);
        let (delta, handle) = Delta::new(Tokio, inlet);
        let key = ChannelKey::leased(NodeId(1), 1);
        let connect = handle.connect(1, [key].into(), Policy::Lossless, 1);
        let outlet = connect.await.expect("connects");
        ((writes, delta), handle, outlet)
    }

    fn on_tokio(body: impl std::future::Future<Output = ()>) {
        let runtime = tokio::runtime::Builder::new_current_thread().build();
        runtime.expect("a runtime builds").block_on(body);
    }

    /// A fan-out that finds room when no other is counted is one pass under the table's
    /// lock: it never waits for the turn.
    #[test]
    fn a_fan_out_with_room_never_waits_for_the_turn() {
        on_tokio(async {
            let (_delta, handle, _outlet) = one_subscriber().await;
            let _held = handle.shared.hold_turn().await;
            let offered = futures::FutureExt::now_or_never(handle.offer(frame(0)));
            assert!(matches!(offered, Some(Ok(()))), "it waited for the turn");
        });
    }

    /// A fan-out that comes while another waits for room is counted and queued behind it,
    /// so frames reach the outlet in the order they were offered.
    #[test]
    fn a_fan_out_behind_a_waiting_one_is_counted_and_keeps_its_place() {
        on_tokio(async {
            let (_delta, handle, mut outlet) = one_subscriber().await;
            handle.offer(frame(0)).await.expect("room for one");
            let mut waits = std::pin::pin!(handle.offer(frame(1)));
            let mut behind = std::pin::pin!(handle.offer(frame(2)));
            assert!(
                futures::poll!(waits.as_mut()).is_pending(),
                "the outlet is full"
            );
            assert!(futures::poll!(behind.as_mut()).is_pending(), "queued");
            assert_eq!(handle.shared.turns(), 2, "one holds the turn, one waits");
            let read = async {
                let mut got = Vec::new();
                for _ in 0..3 {
                    let delivery = outlet.recv().await.expect("delivered");
                    got.extend(delivery.series().map(|s| s.timestamps[0]));
                }
                got
            };
            let (waited, queued, got) = futures::join!(waits, behind, read);
            assert!(waited.is_ok() && queued.is_ok(), "the delta runs");
            assert_eq!(got, [0, 1, 2], "in the order offered");
            assert_eq!(handle.shared.turns(), 0);
        });
    }
}
