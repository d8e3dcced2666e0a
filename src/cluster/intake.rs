//! The leaseholder's end of a write from another node: frames that arrive as `Write` go
//! into this node's relay through a local writer, one at a time, and each is answered —
//! `Written` once the relay took it, `WriteRefused` with the reason if it refused it — before
//! the next is read. The caller's wait for the answer is its back-pressure.
//!
//! The intake holds no handle of the relay, only a writer, so it never keeps a relay open,
//! and every wait gives way to a cancel: closing the relay never waits on a writing peer.

use super::send;
use crate::frame::Frame;
use crate::net::{Connection, Message, Peers, Stream, WriteRefusal};
use crate::relay::{RelayError, WriteError, Writer};
use crate::rt::prelude::*;
use crate::signal::Context;

/// Writes `first`, then every later `Write` of the connection, until the peer leaves, falls
/// silent for the peers' `silence`, or the routine is cancelled.
pub(super) async fn take_writes<R: Runtime, T, S: Stream>(
    ctx: &Context<RelayError, R>,
    peers: &Peers<T>,
    connection: &mut Connection<S>,
    writer: Writer<R>,
    first: Frame,
) -> Result<(), String> {
    let mut next = Some(first);
    loop {
        let frame = match next.take() {
            Some(frame) => frame,
            None => {
                let heard = crate::select! {
                    () = ctx.cancelled() => return Ok(()),
                    heard = ctx.runtime().timeout(peers.silence, connection.recv()) => heard,
                };
                match heard.map_err(|_| "the writing peer fell silent".to_string())? {
                    Ok(Some(Message::Write(frame))) => frame,
                    Ok(Some(Message::Beat)) => continue,
                    Ok(Some(_)) => return Err("a message a writer does not send".into()),
                    Ok(None) => return Ok(()),
                    Err(e) => return Err(e.to_string()),
                }
            }
        };
        let answer = crate::select! {
            () = ctx.cancelled() => return Ok(()),
            written = writer.write(frame) => answer(written),
        };
        send(ctx, peers, connection, &answer).await?;
    }
}

/// The answer to a write.
fn answer(written: Result<(), WriteError>) -> Message {
    let refusal = match written {
        Ok(()) => return Message::Written,
        Err(WriteError::UnknownChannel(key, _)) => WriteRefusal::UnknownChannel(key),
        Err(WriteError::NotLeaseholder { key, .. }) => WriteRefusal::NotLeaseholder(key),
        Err(_) => WriteRefusal::Closed,
    };
    Message::WriteRefused(refusal)
}
