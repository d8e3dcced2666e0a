//! A peer tap's connected life: key sets out (one in flight at a time), frames and gap
//! markers in and on to the delta, beats both ways, and silence taken for a lost link.

use std::sync::Arc;
use std::time::Duration;

use super::{answer, Ctx, Ended, PeerTap};
use crate::cluster::PATIENCE;
use crate::frame::Frame;
use crate::net::{Connection, Message, Peers, Stream};
use crate::relay::Inflow;
use crate::rt::prelude::*;
use crate::rt::{coverage, TrySendError};

impl<R: Runtime> PeerTap<R> {
    /// Streams over `connection` until the tap is closed or the connection is lost.
    pub(super) async fn stream<T, S: Stream>(
        &mut self,
        ctx: &Ctx<R>,
        peers: &Peers<T>,
        connection: &mut Connection<S>,
    ) -> Ended {
        let (rt, cell) = (ctx.runtime().clone(), self.cell.clone());
        let (mut heard, mut said) = (rt.now(), rt.now());
        if let Err(ended) = self.send_keys(&rt, peers, connection).await {
            return ended;
        }
        loop {
            let (beat_at, silent_at) = (said + peers.beat, heard + peers.silence);
            let step = crate::select! {
                () = ctx.cancelled() => Err(Ended::Closed),
                () = cell.wake.notified() => match self.in_flight {
                    None => self.send_keys(&rt, peers, connection).await,
                    Some(_) if cell.is_closed().await => Err(Ended::Closed),
                    Some(_) => Ok(()),
                },
                message = connection.recv() => {
                    heard = rt.now();
                    match message {
                        Ok(Some(message)) => self.take(&rt, peers, connection, message).await,
                        Ok(None) => Err(Ended::Lost("the peer closed the connection".into())),
                        Err(e) => Err(Ended::Lost(e.to_string())),
                    }
                },
                () = rt.sleep_until(beat_at) => {
                    said = rt.now();
                    send(&rt, peers, connection, &Message::Beat).await
                },
                () = rt.sleep_until(silent_at) => Err(Ended::Lost("the peer fell silent".into())),
            };
            if let Err(ended) = step {
                return ended;
            }
        }
    }

    /// Acts on one message from the peer's server.
    async fn take<T, S: Stream>(
        &mut self,
        rt: &R,
        peers: &Peers<T>,
        connection: &mut Connection<S>,
        message: Message,
    ) -> Result<(), Ended> {
        match message {
            Message::Frame(frame) => {
                let foreign = frame.series().iter();
                let mut foreign = foreign.filter(|s| s.key.leaseholder() != Some(self.node));
                if let Some(series) = foreign.next() {
                    let why = format!(
                        "a frame of channel {}, which the peer does not lease",
                        series.key
                    );
                    return Err(Ended::Lost(why));
                }
                self.forward(rt, frame).await;
                Ok(())
            }
            Message::Gap(_) => {
                self.owes_gap = true;
                Ok(())
            }
            Message::Applied => {
                let acks = self.in_flight.take();
                let acks =
                    acks.ok_or_else(|| Ended::Lost("`Applied` with no key set in flight".into()))?;
                self.applied = Some(self.keys.clone());
                tracing::debug!(
                    peer = self.node.0,
                    keys = self.keys.len(),
                    "the peer applied the key set"
                );
                answer::<R>(acks);
                self.send_keys(rt, peers, connection).await
            }
            Message::Beat => Ok(()),
            _ => Err(Ended::Lost("a message a server does not send".into())),
        }
    }

    /// Sends the wanted keys unless they are the applied ones, in which case the waiting
    /// acknowledgements are answered at once.
    async fn send_keys<T, S: Stream>(
        &mut self,
        rt: &R,
        peers: &Peers<T>,
        connection: &mut Connection<S>,
    ) -> Result<(), Ended> {
        let mut wanted = self.cell.wanted.lock().await;
        if wanted.closed {
            return Err(Ended::Closed);
        }
        let acks = std::mem::take(&mut wanted.acks);
        if self.applied.as_deref() == Some(&wanted.keys) {
            drop(wanted);
            answer::<R>(acks);
            return Ok(());
        }
        self.keys = Arc::new(wanted.keys.clone());
        drop(wanted);
        self.in_flight = Some(acks);
        let keys = Message::Keys(self.keys.iter().copied().collect());
        send(rt, peers, connection, &keys).await
    }

    /// Puts `frame` into the delta's inlet, after the gap marker it owes. A frame that finds
    /// no room within [`PATIENCE`] is dropped and a gap owed; until the inlet takes a frame
    /// again the tap is stalled, and drops what finds no room at once — it keeps reading the
    /// connection, so an `Applied` behind a backlog of frames is reached in bounded time.
    async fn forward(&mut self, rt: &R, frame: Frame) {
        let patience = match self.stalled {
            true => None,
            false => Some(PATIENCE),
        };
        if self.owes_gap {
            let gap = Inflow::Gap(self.keys.clone());
            if !push(rt, &self.inlet, gap, patience).await {
                self.stalled = true;
                return;
            }
            tracing::debug!(peer = self.node.0, "gap marker before the next frame");
            self.owes_gap = false;
        }
        let taken = push(rt, &self.inlet, Inflow::Frame(frame), patience).await;
        self.stalled = !taken;
        if !taken {
            coverage::reached(crate::cluster::TAP_DROPPED_FRAME);
            self.owes_gap = true;
        }
    }
}

/// Puts `inflow` into the delta's inlet if there is room, or room comes within `patience`.
async fn push<R: Runtime>(
    rt: &R,
    inlet: &R::Sender<Inflow>,
    inflow: Inflow,
    patience: Option<Duration>,
) -> bool {
    match (inlet.try_send(inflow), patience) {
        (Ok(()), _) => true,
        (Err(TrySendError::Full(inflow)), Some(patience)) => {
            let sent = rt.timeout(patience, inlet.send(inflow)).await;
            matches!(sent, Ok(Ok(())))
        }
        (Err(_), _) => false,
    }
}

/// Sends `message`, taking a write that does not finish within the peers' silence for a
/// lost link.
async fn send<R: Runtime, T, S: Stream>(
    rt: &R,
    peers: &Peers<T>,
    connection: &mut Connection<S>,
    message: &Message,
) -> Result<(), Ended> {
    match rt.timeout(peers.silence, connection.send(message)).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(Ended::Lost(e.to_string())),
        Err(_) => Err(Ended::Lost("a write to the peer timed out".into())),
    }
}
