//! How a test suite runs one body on each backend. Shared by the conformance and signal
//! suites.

use std::future::Future;
use std::sync::Arc;

use sigrelay::check::{LoomCheck, ShuttleCheck, Strategy, TurmoilCheck};
use sigrelay::rt::{Loom, Runtime, Shuttle, Tokio, Turmoil};

/// The seed every backend's runtime is given.
pub const SEED: u64 = 0x5167_2e1a;

/// How long a tokio body may take on the paused clock. The clock jumps ahead whenever every
/// task waits, so a deadlocked body reaches this at once instead of hanging the test.
pub const TOKIO_DEADLINE: std::time::Duration = std::time::Duration::from_secs(3600);

/// Once on a current-thread tokio runtime with a paused clock (it advances when idle),
/// within [`TOKIO_DEADLINE`] of it.
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
    let finished = rt.block_on(async { Tokio.timeout(TOKIO_DEADLINE, body(Tokio)).await });
    if finished.is_err() {
        let alive = rt.metrics().num_alive_tasks();
        panic!(
            "the body did not finish within {TOKIO_DEADLINE:?} of tokio's paused clock \
             (deadlocked or stalled); {alive} spawned task(s) still alive"
        );
    }
}

/// Under 200 random and 200 PCT schedules.
#[track_caller]
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
#[track_caller]
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

/// How long a body with real sockets may take on tokio's real clock before it fails.
pub const TOKIO_NET_DEADLINE: std::time::Duration = std::time::Duration::from_secs(60);

/// Once on a current-thread tokio runtime with the real clock — for bodies on real
/// sockets, where a paused clock would jump ahead while the kernel carries a message —
/// within [`TOKIO_NET_DEADLINE`].
#[allow(dead_code)]
pub fn tokio_net<F, Fut>(body: F)
where
    F: FnOnce(Tokio) -> Fut,
    Fut: Future<Output = ()>,
{
    Tokio::seed_thread_rng(SEED);
    let rt = ::tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a current-thread runtime builds");
    let finished = rt.block_on(async { Tokio.timeout(TOKIO_NET_DEADLINE, body(Tokio)).await });
    assert!(
        finished.is_ok(),
        "the body did not finish within {TOKIO_NET_DEADLINE:?} (deadlocked or stalled)"
    );
}

/// How many tasks are still alive once `body` has run on a current-thread tokio runtime with
/// a paused clock and the runtime then sat idle for a second: tokio runs no leak check of
/// its own after a body.
#[allow(dead_code)]
pub fn tokio_tasks_left_after(body: impl Future<Output = ()>) -> usize {
    let rt = ::tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .start_paused(true)
        .build()
        .expect("a current-thread runtime builds");
    rt.block_on(async {
        body.await;
        Tokio.sleep(std::time::Duration::from_secs(1)).await;
    });
    rt.metrics().num_alive_tasks()
}
