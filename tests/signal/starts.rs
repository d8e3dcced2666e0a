//! Routines the tests start again and again: each named by what it does with the signals.

use sigrelay::rt::prelude::*;
use sigrelay::signal::{Fault, Group};

/// A root group named `g`.
pub fn group<R: Runtime>(rt: R) -> Group<String, R> {
    Group::new(rt, "g")
}

/// Starts `name`: returns `Ok` when told to drain.
pub async fn drains<R: Runtime>(g: &Group<String, R>, name: &str) {
    g.go(name, |ctx| async move {
        ctx.drained().await;
        Ok(())
    })
    .await
    .unwrap();
}

/// Starts `name`: returns cancelled when told to cancel, and ignores the drain.
pub async fn ignores_drain<R: Runtime>(g: &Group<String, R>, name: &str) {
    g.go(name, |ctx| async move {
        ctx.cancelled().await;
        Err(Fault::Cancelled)
    })
    .await
    .unwrap();
}

/// Starts `name`: ignores every signal, so only an abort ends it.
pub async fn ignores_everything<R: Runtime>(g: &Group<String, R>, name: &str) {
    g.go(name, |_| std::future::pending()).await.unwrap();
}

/// Starts `name`: fails at once with the error `broken`.
pub async fn fails<R: Runtime>(g: &Group<String, R>, name: &str) {
    g.go(name, |_| async { Err(Fault::Error("broken".to_string())) })
        .await
        .unwrap();
}

/// Starts `name`: returns `Ok` once the returned sender fires (or is dropped).
pub async fn held<R: Runtime>(g: &Group<String, R>, name: &str) -> R::OneshotSender<()> {
    let (tx, rx) = g.runtime().oneshot::<()>("release");
    g.go(name, |_| async move {
        let _ = rx.await;
        Ok(())
    })
    .await
    .unwrap();
    tx
}
