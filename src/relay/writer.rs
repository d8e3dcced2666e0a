//! Writers: how frames enter the relay. Series of channels this node leases go to local
//! storage, and from there through the gateway tap to the delta; series of free channels go
//! straight to the delta. A frame mixing both is split in two.

use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use super::delta::{DeltaHandle, Inflow};
use super::error::WriteError;
use super::keys::Keys;
use super::storage::Storage;
use crate::frame::{ChannelKey, Frame, NodeId, Series, WriterGroup};
use crate::rt::prelude::*;
use crate::rt::Tokio;

/// Writes frames into the relay. Cheap to clone.
pub struct Writer<R: Runtime = Tokio> {
    pub(crate) node: NodeId,
    pub(crate) group: Option<WriterGroup>,
    pub(crate) closing: Arc<AtomicBool>,
    /// The channels its relay serves, in key order.
    pub(crate) channels: Arc<[ChannelKey]>,
    /// Those of them it may write (free, or leased by its node).
    pub(super) writable: Arc<Keys>,
    pub(crate) storage: Storage<R>,
    pub(crate) delta: DeltaHandle<R>,
}

impl<R: Runtime> Writer<R> {
    /// This writer as a member of `group`: every frame it writes carries the group, so
    /// streamers that exclude it receive none of them.
    pub fn in_group(self, group: WriterGroup) -> Self {
        let group = Some(group);
        Writer { group, ..self }
    }

    /// The writer's group, if it has one.
    pub fn group(&self) -> Option<WriterGroup> {
        self.group
    }

    /// Writes `frame`. The frame is fanned out in the caller's task: this returns once every
    /// streamer whose keys it touches has it in its outlet, or missed it as a lossy policy
    /// allows, so a lossless streamer that does not read holds writers back (backpressure),
    /// never a control request. A refused frame is handed back in the error; once the
    /// relay's close has begun, every write is refused as closed, whatever its channels. A writer
    /// in a group marks the frame with it; a writer without one leaves the frame's own mark
    /// (that of the node's writer it came from, for a frame written across nodes).
    pub async fn write(&self, frame: Frame) -> Result<(), WriteError> {
        let frame = match self.group {
            Some(_) => frame.with_group(self.group),
            None => frame,
        };
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
        if self.closing.load(Ordering::Acquire) {
            return Err(WriteError::Closed(frame));
        }
        match free_series(&frame) {
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
        match self.delta.offer(Inflow::Frame(frame)).await {
            Ok(()) => Ok(()),
            Err(Inflow::Frame(frame)) => Err(WriteError::Closed(frame)),
            Err(Inflow::Gap(_)) => unreachable!("a frame is handed back as a frame"),
        }
    }

    /// Whether this writer's relay serves channel `key`.
    pub(crate) fn knows(&self, key: ChannelKey) -> bool {
        self.channels.binary_search(&key).is_ok()
    }

    /// The first series this writer may not write: its key, and its leaseholder if the
    /// channel is known. A frame whose keys lie in one run of writable channels has none,
    /// found by one bisection of the runs. Otherwise, as a frame's series are in key order
    /// as the channels are, each key is looked for past the one before: the next channel
    /// first, then by bisection.
    fn refusal(&self, frame: &Frame) -> Option<(ChannelKey, Option<NodeId>)> {
        if self.writable.covers(frame) {
            return None;
        }
        let mut ahead: &[ChannelKey] = &self.channels;
        for series in frame.series() {
            let key = series.key;
            let found = match ahead.first() {
                Some(next) if *next == key => Ok(0),
                _ => ahead.binary_search(&key),
            };
            let Ok(at) = found else {
                return Some((key, None));
            };
            ahead = &ahead[at + 1..];
            match key.leaseholder() {
                Some(node) if node != self.node => return Some((key, Some(node))),
                _ => {}
            }
        }
        None
    }
}

/// How many of the frame's series are of free channels: its first ones, as free keys
/// (leaseholder 0) sort before every leased one.
fn free_series(frame: &Frame) -> usize {
    let series = frame.series();
    let free = |s: &Series| s.key.leaseholder().is_none();
    match (series.first(), series.last()) {
        (Some(first), _) if !free(first) => 0,
        (_, Some(last)) if free(last) => series.len(),
        _ => series.partition_point(free),
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
        Frame::new(free).expect(valid).with_group(frame.group()),
        Frame::new(leased).expect(valid).with_group(frame.group()),
    )
}

impl<R: Runtime> Clone for Writer<R> {
    fn clone(&self) -> Self {
        Writer {
            node: self.node,
            group: self.group,
            closing: self.closing.clone(),
            channels: self.channels.clone(),
            writable: self.writable.clone(),
            storage: self.storage.clone(),
            delta: self.delta.clone(),
        }
    }
}

impl<R: Runtime> fmt::Debug for Writer<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Writer").field("node", &self.node).finish()
    }
}
