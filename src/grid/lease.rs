//! Holding a lease: keep-alives on a period, and the instant after which the lease can no
//! longer be proven. Both the fenced leader and a node's actors stand on a held lease.
//!
//! The coordinator ends a lease `ttl` after it *received* the last keep-alive; the holder
//! counts from when it *sent* it, which is earlier, and gives up `margin` before that.
//! [`hold`] returns at `last_sent + ttl - margin` unless a newer keep-alive was
//! acknowledged by then, and at once if the coordinator says the lease is gone. So whatever
//! the network does, the holder has stopped acting on the lease at least `margin` before
//! anyone else can take what it held — on one clock; across machines `margin` must exceed
//! the clocks' drift over one `ttl`.

use std::time::Duration;

use super::coordinator::{CoordError, Coordinator, LeaseId};
use crate::rt::Runtime;

/// How a lease is kept and when its holder gives it up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LeaseTiming {
    /// The lease's time to live.
    pub ttl: Duration,
    /// How often it is kept alive.
    pub keep_alive_every: Duration,
    /// How long before the lease could end its holder stops acting on it.
    pub margin: Duration,
}

impl LeaseTiming {
    /// How long after a keep-alive was sent the lease is proven.
    pub fn proven(&self) -> Duration {
        self.ttl.saturating_sub(self.margin)
    }
}

/// Keeps `lease` alive until it can no longer be proven; `sent` is when the last
/// acknowledged grant or keep-alive was sent. Each keep-alive is given up at the proof's
/// end, so a keep-alive that never returns cannot hold the lease's end back.
pub async fn hold<R: Runtime, C: Coordinator>(
    rt: &R,
    coordinator: &C,
    lease: LeaseId,
    sent: R::Instant,
    timing: LeaseTiming,
) {
    let mut proven_until = sent + timing.proven();
    loop {
        let next = rt.now() + timing.keep_alive_every;
        if next >= proven_until {
            rt.sleep_until(proven_until).await;
            return;
        }
        rt.sleep_until(next).await;
        let at = rt.now();
        match rt
            .timeout_at(proven_until, coordinator.keep_alive(lease))
            .await
        {
            Ok(Ok(_)) => proven_until = proven_until.max(at + timing.proven()),
            Ok(Err(CoordError::LeaseGone(_) | CoordError::Closed)) | Err(_) => return,
            Ok(Err(_)) => {}
        }
    }
}
