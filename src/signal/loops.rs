//! Routines shaped as loops: consume a channel until it closes, or tick on an interval.

use std::future::Future;
use std::time::Duration;

use super::error::{Fault, GoError};
use super::{Error, Group};
use crate::rt::prelude::*;
use crate::rt::Instant;

impl<E: Error, R: Runtime> Group<E, R> {
    /// Starts routine `name` handing each value of `rx` to `each`, until `rx` is closed and
    /// drained (the routine returns `Ok`) or the routine is cancelled. Drain by closing the
    /// channel upstream: a drain signal alone does not stop a range, so no value in flight
    /// is lost.
    #[track_caller]
    pub fn go_range<T, F, Fut>(
        &self,
        name: &str,
        mut rx: R::Receiver<T>,
        mut each: F,
    ) -> impl Future<Output = Result<(), GoError>> + Send + '_
    where
        T: Send + 'static,
        F: FnMut(T) -> Fut + Send + 'static,
        Fut: Future<Output = Result<(), Fault<E>>> + Send + 'static,
    {
        self.routine(name).go(move |ctx| async move {
            while let Some(value) = ctx.recv(&mut rx).await.map_err(|_| Fault::Cancelled)? {
                each(value).await?;
            }
            Ok(())
        })
    }

    /// Starts routine `name` calling `tick` every `interval` of runtime time until it is told
    /// to drain (it returns `Ok`) or cancel. After a stall (a slow tick, a busy runtime) the
    /// missed ticks are skipped, never run back to back.
    #[track_caller]
    pub fn go_tick<F, Fut>(
        &self,
        name: &str,
        interval: Duration,
        mut tick: F,
    ) -> impl Future<Output = Result<(), GoError>> + Send + '_
    where
        F: FnMut(R::Instant) -> Fut + Send + 'static,
        Fut: Future<Output = Result<(), Fault<E>>> + Send + 'static,
    {
        let start = self.routine(name);
        async move {
            if interval.is_zero() {
                return Err(GoError::ZeroInterval(start.name().to_string()));
            }
            start
                .go(move |ctx| async move {
                    let rt = ctx.runtime().clone();
                    let mut next = rt.now() + interval;
                    loop {
                        crate::select! {
                            () = ctx.drained() => break,
                            () = rt.sleep_until(next) => {}
                        }
                        tick(rt.now()).await?;
                        next = next_tick(next, interval, rt.now());
                    }
                    match ctx.is_cancelled() {
                        true => Err(Fault::Cancelled),
                        false => Ok(()),
                    }
                })
                .await
        }
    }
}

/// The tick after the one scheduled at `scheduled`: one interval later, or one interval
/// from `now` if that moment has already passed.
fn next_tick<I: Instant>(scheduled: I, interval: Duration, now: I) -> I {
    let next = scheduled + interval;
    if next <= now {
        now + interval
    } else {
        next
    }
}
