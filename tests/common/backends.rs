//! How a test suite runs one body on each backend. Shared by the conformance and signal
//! suites.

use std::future::Future;
use std::sync::Arc;

use sigrelay::check::{LoomCheck, ShuttleCheck, Strategy, TurmoilCheck};
use sigrelay::rt::{Loom, Shuttle, Tokio, Turmoil};

/// The seed every backend's runtime is given.
pub const SEED: u64 = 0x5167_2e1a;

/// Once on a current-thread tokio runtime with a paused clock (it advances when idle).
pub fn tokio<F, Fut>(body: F)
where
    F: FnOnce(Tokio) -> Fut,
    Fut: Future<Output = ()>,
{
    Tokio::seed_thread_rng(SEED);
    let rt = ::tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .start_paused(true)
        .build()
        .expect("a current-thread runtime builds");
    rt.block_on(body(Tokio));
}

/// Under 200 random and 200 PCT schedules.
pub fn shuttle<F, Fut>(body: F)
where
    F: Fn(Shuttle) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()>,
{
    let body = Arc::new(body);
    let random = body.clone();
    ShuttleCheck::new(Strategy::Random, 200)
        .seed(SEED)
        .run(move |rt| random(rt));
    ShuttleCheck::new(Strategy::Pct { depth: 3 }, 200)
        .seed(SEED)
        .run(move |rt| body(rt));
}

/// Every interleaving with at most two preemptions.
pub fn loom<F, Fut>(body: F)
where
    F: Fn(Loom) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()>,
{
    LoomCheck::default().seed(SEED).run(body);
}

/// Once as the client of a turmoil simulation.
pub fn turmoil<F, Fut>(body: F)
where
    F: FnOnce(Turmoil) -> Fut + 'static,
    Fut: Future<Output = ()> + 'static,
{
    if let Err(failure) = TurmoilCheck::new(SEED).try_run(body) {
        panic!("{failure}");
    }
}
