//! Writers: how frames enter the relay. Series of channels this node leases go to local
//! storage, and from there through the gateway tap to the delta; series of free channels go
//! straight to the delta. A frame mixing both is split in two.

use std::collections::BTreeSet;
use std::fmt;
use std::sync::Arc;

use super::delta::Inflow;
use super::error::WriteError;
use super::storage::Storage;
use crate::frame::{ChannelKey, Frame, NodeId, Series};
use crate::rt::prelude::*;
use crate::rt::Tokio;

/// Writes frames into the relay. Cheap to clone.
pub struct Writer<R: Runtime = Tokio> {
    pub(crate) node: NodeId,
    pub(crate) channels: Arc<BTreeSet<ChannelKey>>,
    pub(crate) storage: Storage<R>,
    pub(crate) free: R::Sender<Inflow>,
}

impl<R: Runtime> Writer<R> {
    /// Writes `frame`. Returns once storage and the delta's inlet have taken it, which may
    /// wait for room (backpressure). A refused frame is handed back in the error.
    pub async fn write(&self, frame: Frame) -> Result<(), WriteError> {
        if let Some((key, leaseholder)) = self.refusal(&frame) {
            return Err(match leaseholder {
                None => WriteError::UnknownChannel(key, frame),
                Some(leaseholder) => WriteError::NotLeaseholder {
                    key,
                    leaseholder,
                    frame,
                },
            });
        }
        let free = frame
            .series()
            .iter()
            .filter(|s| s.key.leaseholder().is_none());
        match free.count() {
            0 => self.storage.write(frame).await,
            n if n == frame.series().len() => self.write_free(frame).await?,
            _ => {
                let (free, leased) = split(&frame);
                self.storage.write(leased).await;
                self.write_free(free).await?;
            }
        }
        Ok(())
    }

    async fn write_free(&self, frame: Frame) -> Result<(), WriteError> {
        let sent = self.free.send(Inflow::Frame(frame.clone())).await;
        sent.map_err(|_| WriteError::Closed(frame))
    }

    /// The first series this writer may not write: its key, and its leaseholder if the
    /// channel is known.
    fn refusal(&self, frame: &Frame) -> Option<(ChannelKey, Option<NodeId>)> {
        frame
            .series()
            .iter()
            .find_map(|s| match s.key.leaseholder() {
                _ if !self.channels.contains(&s.key) => Some((s.key, None)),
                Some(node) if node != self.node => Some((s.key, Some(node))),
                _ => None,
            })
    }
}

/// The free and the leased series of `frame`, as two frames.
fn split(frame: &Frame) -> (Frame, Frame) {
    let (free, leased): (Vec<Series>, Vec<Series>) = frame
        .series()
        .iter()
        .cloned()
        .partition(|s| s.key.leaseholder().is_none());
    let valid = "series of a valid frame";
    (
        Frame::new(free).expect(valid),
        Frame::new(leased).expect(valid),
    )
}

impl<R: Runtime> Clone for Writer<R> {
    fn clone(&self) -> Self {
        Writer {
            node: self.node,
            channels: self.channels.clone(),
            storage: self.storage.clone(),
            free: self.free.clone(),
        }
    }
}

impl<R: Runtime> fmt::Debug for Writer<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Writer").field("node", &self.node).finish()
    }
}
