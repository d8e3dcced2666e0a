//! Writes from any node of a cluster (Synnax's distribution-layer writer): a [`Writer`]
//! takes frames for channels any node leases, writes the series this node leases (and free
//! ones) into its own relay, and sends each other leaseholder's series to that node's
//! server, which writes them there. From the leaseholder, frames reach streamers on every
//! node as frames written there do.
//!
//! One connection per leaseholder carries one `Write` at a time and waits for its answer,
//! so a leaseholder's back-pressure reaches the writer as a slow `write`. An answer that
//! does not come within the peers' `silence` gives [`WriteError::Unconfirmed`]: the frame
//! may have been written, and it is not sent again, so nothing is written twice across a
//! reconnect. A leaseholder that cannot be dialled gives [`WriteError::Unreachable`]: nothing
//! was written there.
//!
//! # Why a write cannot hang
//! Every network wait — dial (the handshake deadline), send and answer (the silence) — is
//! bounded, and a write given up part-way drops its connection rather than leave a
//! half-written message on it: the next write dials afresh.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use crate::frame::{Frame, NodeId, Series};
use crate::net::{Connection, Message, Peers, Transport, WriteRefusal};
use crate::relay::{self, Relay, WriteError, WriterGroup};
use crate::rt::prelude::*;

/// A connection to one leaseholder's server and when it last carried a write.
struct Link<R: Runtime, T: Transport> {
    connection: Connection<T::Stream>,
    used: R::Instant,
}

type Slot<R, T> = Arc<<R as Runtime>::Mutex<Option<Link<R, T>>>>;

/// Each leaseholder's connection slot.
type Links<R, T> = Arc<<R as Runtime>::Mutex<BTreeMap<NodeId, Slot<R, T>>>>;

/// Writes frames of any node's channels from this node. Cheap to clone: clones share their
/// connections.
pub struct Writer<R: Runtime, T: Transport> {
    rt: R,
    local: relay::Writer<R>,
    peers: Arc<Peers<T>>,
    links: Links<R, T>,
}

impl<R: Runtime, T: Transport> Writer<R, T> {
    /// A writer into `relay`'s node that reaches the other leaseholders with `peers`.
    pub fn new(relay: &Relay<R>, peers: Peers<T>) -> Self {
        let rt = relay.runtime().clone();
        let links = Arc::new(rt.mutex("cluster-writer:links", BTreeMap::new()));
        Writer {
            local: relay.writer(),
            peers: Arc::new(peers),
            links,
            rt,
        }
    }

    /// This writer as a member of `group`, on every node its frames reach.
    pub fn in_group(self, group: WriterGroup) -> Self {
        let local = self.local.in_group(group);
        Writer { local, ..self }
    }

    /// Writes `frame`: the series this node may write locally, then each other
    /// leaseholder's series, in node order. Returns once every part was taken; the first
    /// part that fails is handed back in the error, and parts before it stay written.
    pub async fn write(&self, frame: Frame) -> Result<(), WriteError> {
        let group = self.local.group().or(frame.group());
        let frame = frame.with_group(group);
        if let Some(series) = frame.series().iter().find(|s| !self.local.knows(s.key)) {
            return Err(WriteError::UnknownChannel(series.key, frame));
        }
        for (node, part) in parts(&frame, self.peers.me) {
            match node {
                None => self.local.write(part).await?,
                Some(node) => self.remote(node, part).await?,
            }
        }
        Ok(())
    }

    /// Writes `frame` at leaseholder `node`.
    async fn remote(&self, node: NodeId, frame: Frame) -> Result<(), WriteError> {
        let slot = self.slot(node).await;
        let mut held = slot.lock().await;
        let fresh = |link: &Link<R, T>| {
            let idle = self.rt.now().saturating_duration_since(link.used);
            idle < self.peers.silence / 2
        };
        let mut link = match held.take().filter(fresh) {
            Some(link) => link,
            None => match self.peers.dial(&self.rt, node).await {
                Ok(connection) => Link {
                    connection,
                    used: self.rt.now(),
                },
                Err(_) => {
                    let leaseholder = node;
                    return Err(WriteError::Unreachable { leaseholder, frame });
                }
            },
        };
        let write = Message::Write(frame.clone());
        let silence = self.peers.silence;
        let sent = self.rt.timeout(silence, link.connection.send(&write)).await;
        let answer = match sent {
            Ok(Ok(())) => self.rt.timeout(silence, answer(&mut link.connection)).await,
            _ => Ok(None),
        };
        let refusal = match answer {
            Ok(Some(Ok(()))) => None,
            Ok(Some(Err(refusal))) => Some(refusal),
            _ => {
                let leaseholder = node;
                return Err(WriteError::Unconfirmed { leaseholder, frame });
            }
        };
        link.used = self.rt.now();
        *held = Some(link);
        match refusal {
            None => Ok(()),
            Some(refusal) => Err(refused(refusal, node, frame)),
        }
    }

    /// The connection slot of `node`, made on first use.
    async fn slot(&self, node: NodeId) -> Slot<R, T> {
        let mut links = self.links.lock().await;
        let name = format!("cluster-writer:link-{}", node.0);
        let slot = links
            .entry(node)
            .or_insert_with(|| Arc::new(self.rt.mutex(&name, None)));
        slot.clone()
    }
}

/// The leaseholder's answer to a write; `None` if the connection ended or said something
/// else.
async fn answer<S: crate::net::Stream>(
    connection: &mut Connection<S>,
) -> Option<Result<(), WriteRefusal>> {
    loop {
        match connection.recv().await {
            Ok(Some(Message::Written)) => return Some(Ok(())),
            Ok(Some(Message::WriteRefused(refusal))) => return Some(Err(refusal)),
            Ok(Some(Message::Beat)) => continue,
            _ => return None,
        }
    }
}

/// The error a leaseholder's refusal stands for.
fn refused(refusal: WriteRefusal, node: NodeId, frame: Frame) -> WriteError {
    match refusal {
        WriteRefusal::UnknownChannel(key) => WriteError::UnknownChannel(key, frame),
        WriteRefusal::NotLeaseholder(key) => WriteError::NotLeaseholder {
            key,
            leaseholder: node,
            frame,
        },
        WriteRefusal::Closed => WriteError::Closed(frame),
    }
}

/// `frame` split by where each series is written: `None` for this node (its leases and free
/// channels), else the leaseholder. A frame written in one place is not copied.
fn parts(frame: &Frame, me: NodeId) -> Vec<(Option<NodeId>, Frame)> {
    let place = |s: &Series| s.key.leaseholder().filter(|&n| n != me);
    let mut places: BTreeMap<Option<NodeId>, Vec<Series>> = BTreeMap::new();
    for series in frame.series() {
        places
            .entry(place(series))
            .or_default()
            .push(series.clone());
    }
    if places.len() == 1 {
        let place = places.into_keys().next().expect("one place");
        return vec![(place, frame.clone())];
    }
    let valid = "the series of a valid frame";
    let group = frame.group();
    let split = places.into_iter();
    split
        .map(|(place, series)| (place, Frame::new(series).expect(valid).with_group(group)))
        .collect()
}

impl<R: Runtime, T: Transport> Clone for Writer<R, T> {
    fn clone(&self) -> Self {
        Writer {
            rt: self.rt.clone(),
            local: self.local.clone(),
            peers: self.peers.clone(),
            links: self.links.clone(),
        }
    }
}

impl<R: Runtime, T: Transport> fmt::Debug for Writer<R, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let node = self.peers.me;
        f.debug_struct("cluster::Writer")
            .field("node", &node)
            .finish()
    }
}
