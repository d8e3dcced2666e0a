//! A node's grid server: every connection its listener accepts is admitted by the cluster
//! handshake and carries one exchange — a start or a call — served by a routine of its own.
//!
//! A call is checked (the actor runs here; a fenced call's fence is current) and queued in
//! the actor's mailbox; while it waits, the server also watches the connection: the caller
//! closing it is the cancel, and dropping the mailbox request then withdraws it if still
//! queued (never processed) or abandons it if taken. The server waits on the network only
//! under the call's own timeout plus the slack, and on the mailbox only under the call's
//! timeout, so no exchange can hold a routine past a cancel or forever.

use std::sync::Arc;

use super::actor::ActorError;
use super::coordinator::Coordinator;
use super::node::{start, Inner};
use super::wire::{Ask, GridMessage, Reply};
use crate::net::{Listener, Transport};
use crate::rt::Runtime;
use crate::signal::{Context, Fault};

type Ctx<R> = Context<ActorError, R>;

/// The `listener` routine: accepts connections until the node stops.
pub(crate) async fn listen<R: Runtime, C: Coordinator, T: Transport>(
    ctx: Ctx<R>,
    inner: Arc<Inner<R, C, T>>,
    mut listener: T::Listener,
) -> Result<(), Fault<ActorError>> {
    let mut next = 0u64;
    loop {
        let accepted = crate::select! {
            () = ctx.drained() => return Ok(()),
            accepted = listener.accept() => accepted,
        };
        let Ok((stream, _from)) = accepted else {
            continue;
        };
        next += 1;
        let node = inner.clone();
        let serve = move |ctx| serve(ctx, node, stream);
        let started = ctx.scope().go(&format!("exchange-{next}"), serve).await;
        started.map_err(|_| Fault::Cancelled)?;
    }
}

/// Serves one exchange.
async fn serve<R: Runtime, C: Coordinator, T: Transport>(
    ctx: Ctx<R>,
    inner: Arc<Inner<R, C, T>>,
    stream: T::Stream,
) -> Result<(), Fault<ActorError>> {
    let rt = inner.rt.clone();
    let Ok((mut connection, _node)) = inner.peers.admit(&rt, stream).await else {
        return Ok(());
    };
    let deadline = inner.peers.handshake_deadline;
    let first = crate::select! {
        () = ctx.cancelled() => return Err(Fault::Cancelled),
        first = rt.timeout(deadline, connection.recv()) => first,
    };
    let Ok(Ok(Some(message))) = first else {
        return Ok(());
    };
    let reply = match GridMessage::unwrap(message) {
        Ok(GridMessage::Ask(Ask::Start { kind, name })) => {
            let started = crate::select! {
                () = ctx.cancelled() => return Err(Fault::Cancelled),
                started = start(&inner, &kind, &name) => started,
            };
            Reply::Started(started)
        }
        Ok(GridMessage::Ask(Ask::Call(call))) => {
            let answered = crate::select! {
                () = ctx.cancelled() => return Err(Fault::Cancelled),
                answered = inner.answer(call) => answered,
                _gone = connection.recv() => return Ok(()),
            };
            Reply::Answered(answered)
        }
        _ => return Ok(()),
    };
    let reply = GridMessage::Reply(reply).wrap();
    let write = connection.send(&reply);
    let slack = inner.config.reply_slack.max(deadline);
    crate::select! {
        () = ctx.cancelled() => Err(Fault::Cancelled),
        _sent = rt.timeout(slack, write) => Ok(()),
    }
}
