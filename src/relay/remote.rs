//! What the tapper shares with a peer tap, and how it starts one without naming the
//! network: the relay of one node knows peer taps only through [`StartTap`], which the
//! cluster layer ([`crate::cluster`]) implements over its transport.
//!
//! The tapper and a tap share a [`TapCell`]: the tapper writes the wanted keys and the
//! acknowledgements waiting on them, and wakes the tap; it never waits on the tap. The lock
//! is never held across an await.

use std::collections::BTreeSet;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use super::delta::Inflow;
use super::error::RelayError;
use crate::frame::{ChannelKey, NodeId};
use crate::rt::prelude::*;
use crate::signal::Group;

/// An acknowledgement the tapper waits on.
pub(crate) type Ack<R> = <R as Runtime>::OneshotSender<()>;

/// What the tapper wants of one peer tap.
pub(crate) struct Wanted<R: Runtime> {
    pub(crate) keys: BTreeSet<ChannelKey>,
    pub(crate) acks: Vec<Ack<R>>,
    pub(crate) closed: bool,
}

/// Shared by the tapper (writes) and one peer tap (takes).
pub(crate) struct TapCell<R: Runtime> {
    pub(crate) wanted: R::Mutex<Wanted<R>>,
    pub(crate) wake: R::Notify,
}

impl<R: Runtime> TapCell<R> {
    pub(crate) fn new(rt: &R, node: NodeId) -> Self {
        let wanted = Wanted {
            keys: BTreeSet::new(),
            acks: Vec::new(),
            closed: false,
        };
        TapCell {
            wanted: rt.mutex(&format!("tap-{}:wanted", node.0), wanted),
            wake: rt.notify(&format!("tap-{}:wake", node.0)),
        }
    }

    /// Sets the keys wanted of the peer; `ack` is answered once they are applied there, or
    /// the tap has owned up to a gap.
    pub(crate) async fn want(&self, keys: BTreeSet<ChannelKey>, ack: Option<Ack<R>>) {
        let mut wanted = self.wanted.lock().await;
        wanted.keys = keys;
        wanted.acks.extend(ack);
        drop(wanted);
        self.wake.notify_one();
    }

    pub(crate) async fn is_closed(&self) -> bool {
        self.wanted.lock().await.closed
    }

    /// Tells the tap to stop.
    pub(crate) async fn close(&self) {
        self.wanted.lock().await.closed = true;
        self.wake.notify_one();
    }
}

/// What a new peer tap is given: the leaseholder it taps, its cell, and the delta's inlet.
pub(crate) struct TapOrder<R: Runtime> {
    pub(crate) node: NodeId,
    pub(crate) cell: Arc<TapCell<R>>,
    pub(crate) inlet: R::Sender<Inflow>,
}

/// Starts peer taps: the relay's way to reach its transport without naming it.
pub(crate) trait StartTap<R: Runtime>: Send + Sync + 'static {
    /// Starts the tap `order` describes as routine `name` of `scope`.
    fn start<'a>(
        &'a self,
        scope: &'a Group<RelayError, R>,
        name: String,
        order: TapOrder<R>,
    ) -> Pin<Box<dyn Future<Output = ()> + Send + 'a>>;
}
