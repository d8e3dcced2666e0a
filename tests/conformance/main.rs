//! The conformance suite: one body per behaviour, written once against `R: Runtime` and run
//! on every backend — tokio (paused clock), shuttle (random and PCT schedules), loom (every
//! interleaving up to a preemption bound) and turmoil.

#[path = "../common/backends.rs"]
mod backends;
mod bodies;
mod cancel;
mod explore;
mod flow;

use bodies::*;
use cancel::*;
use flow::*;

macro_rules! conformance {
    ($($name:ident),* $(,)?) => {
        mod tokio {
            $( #[test] fn $name() { super::backends::tokio(super::$name::<sigrelay::rt::Tokio>) } )*
        }
        mod shuttle {
            $( #[test] fn $name() { super::backends::shuttle(super::$name::<sigrelay::rt::Shuttle>) } )*
        }
        mod loom {
            $( #[test] fn $name() { super::backends::loom(super::$name::<sigrelay::rt::Loom>) } )*
        }
        mod turmoil {
            $( #[test] fn $name() { super::backends::turmoil(super::$name::<sigrelay::rt::Turmoil>) } )*
        }
    };
}

conformance!(
    channel_capacity,
    channel_order,
    channel_closes_when_senders_dropped,
    send_hands_value_back_when_receiver_dropped,
    receiver_close_keeps_buffered_values,
    send_waits_while_full,
    reserve_holds_a_slot,
    oneshot_delivers_and_reports_drops,
    watch_sees_latest_value,
    mutex_excludes_and_hands_over,
    sync_lock_excludes,
    notify_stores_one_permit,
    join_returns_value_or_panic,
    abort_stops_a_blocked_task,
    timeout_fires,
    timeout_does_not_fire,
    sleeps_wake_in_deadline_order,
    select_is_biased,
    rng_is_deterministic,
    cancelled_lock_leaves_the_queue,
    cancelled_recv_loses_nothing,
    cancelled_send_gives_its_turn,
    cancelled_reserve_gives_its_slot,
    cancelled_notified_passes_it_on,
    cancelled_join_keeps_the_result,
    cancelled_sleep_disarms_its_timer,
    cancelled_oneshot_recv_keeps_the_value,
    cancelled_changed_keeps_the_change,
    receiver_streams_until_closed,
    semaphore_serves_requests_in_order,
    cancelled_acquire_gives_back_what_it_collected,
    interval_skips_missed_ticks,
    timeout_at_fires_at_the_deadline,
    sender_closed_wakes_when_receiver_goes,
);

/// A body that deadlocks on tokio fails its test at the deadline of the paused clock, saying
/// how many tasks were left, instead of hanging the test binary.
#[test]
#[should_panic(
    expected = "did not finish within 3600s of tokio's paused clock (deadlocked or stalled); 1 spawned task(s) still alive"
)]
fn a_tokio_deadlock_fails_instead_of_hanging() {
    backends::tokio(|rt| async move {
        use sigrelay::rt::prelude::*;
        let (tx, mut rx) = rt.channel::<u8>("never-written", 1);
        let stuck = rt.spawn("stuck", async move {
            let _own_sender = tx;
            rx.recv().await
        });
        let _ = stuck.await;
    });
}

/// The cancelled-lock body (a false deadlock once: a dropped lock stayed queued) over
/// 5,000 random and 5,000 PCT schedules; loom explores it in the suite above.
#[test]
fn a_cancelled_lock_holds_over_ten_thousand_schedules() {
    use sigrelay::check::{ShuttleCheck, Strategy};
    for strategy in [Strategy::Random, Strategy::Pct { depth: 3 }] {
        let check = ShuttleCheck::new(strategy, 5_000).seed(backends::SEED);
        let summary = check.run(cancelled_lock_leaves_the_queue);
        assert_eq!(summary.iterations, 5_000);
    }
}
