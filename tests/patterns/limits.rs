//! The rate limiter, retries, preemption and error context, at exact virtual times.

use std::error::Error as _;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use sigrelay::patterns::context::ContextError;
use sigrelay::patterns::preempt::{Preempt, Preempted};
use sigrelay::patterns::ratelimit::{Quota, RateError, RateLimiter};
use sigrelay::patterns::retry::{
    retry, Classify, Delivery, GiveUp, Jitter, RetryBudget, RetryPolicy,
};
use sigrelay::rt::prelude::*;

use super::supervision::ms;

fn nz(n: u32) -> NonZeroU32 {
    NonZeroU32::new(n).expect("not zero")
}

/// 100 permits at 10/s with a burst of one: the first at once, the last at exactly 9.9 s.
pub async fn hundred_permits_at_ten_per_second_take_nine_point_nine_seconds<R: Runtime>(rt: R) {
    let start = rt.now();
    let limiter = RateLimiter::new(&rt, "api", &[Quota::per_second(nz(10))]);
    for i in 0..100 {
        let admission = limiter.acquire(1).await.expect("one permit fits the burst");
        assert_eq!(admission.admitted_at(), start + ms(100 * i));
    }
    assert_eq!(rt.now(), start + ms(9900));
}

/// Three clones wait at once behind a spent burst: admitted in the order they asked, one
/// emission interval apart.
pub async fn waiters_are_admitted_in_order<R: Runtime>(rt: R) {
    let start = rt.now();
    let limiter = RateLimiter::new(
        &rt,
        "shared",
        &[Quota::per_second(nz(4)).allow_burst(nz(2))],
    );
    limiter.acquire(2).await.expect("the burst");
    let (order_tx, mut order) = rt.channel::<(usize, Duration)>("order", 3);
    let mut waiters = Vec::new();
    for i in 0..3 {
        let (limiter, order_tx, clock) = (limiter.clone(), order_tx.clone(), rt.clone());
        waiters.push(rt.spawn(&format!("waiter-{i}"), async move {
            clock.sleep(ms(i as u64)).await;
            limiter.acquire(1).await.expect("fits");
            let at = clock.now().saturating_duration_since(start);
            order_tx.send((i, at)).await.expect("main reads");
        }));
    }
    drop(order_tx);
    let mut seen = Vec::new();
    while let Some(entry) = order.recv().await {
        seen.push(entry);
    }
    assert_eq!(seen, [(0, ms(250)), (1, ms(500)), (2, ms(750))]);
    for waiter in waiters {
        waiter.await.expect("the waiter completes");
    }
}

/// `try_acquire` says when; `acquire_by` fails at once if its deadline is too early; a
/// request past the burst is a typed error. None of them reserves anything.
pub async fn try_and_deadline_fail_fast_without_reserving<R: Runtime>(rt: R) {
    let start = rt.now();
    let limiter = RateLimiter::new(&rt, "api", &[Quota::per_second(nz(2))]);
    limiter.try_acquire(1).await.expect("the first is free");
    let retry_at = limiter
        .try_acquire(1)
        .await
        .expect_err("the second must wait");
    assert_eq!(retry_at, RateError::RetryAt(start + ms(500)));
    let early = limiter.acquire_by(1, start + ms(400)).await;
    assert_eq!(
        early.expect_err("too early"),
        RateError::RetryAt(start + ms(500))
    );
    assert_eq!(rt.now(), start, "failed at once");
    let too_large = limiter.acquire(2).await.expect_err("past the burst");
    assert_eq!(too_large, RateError::TooLarge { asked: 2, burst: 1 });
    let admission = limiter
        .acquire_by(1, start + ms(500))
        .await
        .expect("in time");
    assert_eq!(admission.admitted_at(), start + ms(500));
    assert_eq!(rt.now(), start + ms(500));
}

/// 2/s (burst 2) and 10/min (burst 10) together: ten permits by 4 s, the eleventh waits
/// for the minute quota, at 6 s.
pub async fn a_composite_limiter_admits_when_every_quota_does<R: Runtime>(rt: R) {
    let start = rt.now();
    let quotas = [
        Quota::per_second(nz(2)).allow_burst(nz(2)),
        Quota::per_minute(nz(10)).allow_burst(nz(10)),
    ];
    let limiter = RateLimiter::new(&rt, "both", &quotas);
    let mut times = Vec::new();
    for _ in 0..11 {
        let admission = limiter.acquire(1).await.expect("fits both bursts");
        times.push(admission.admitted_at().saturating_duration_since(start));
    }
    let expected: Vec<Duration> = [0, 0, 500, 1000, 1500, 2000, 2500, 3000, 3500, 4000, 6000]
        .into_iter()
        .map(ms)
        .collect();
    assert_eq!(times, expected);
}

/// A wait given up before its slot gives the slot back; so does a refunded admission.
pub async fn a_dropped_wait_refunds_its_slot<R: Runtime>(rt: R) {
    let start = rt.now();
    let limiter = RateLimiter::new(&rt, "api", &[Quota::per_second(nz(1))]);
    limiter.acquire(1).await.expect("free");
    assert!(rt.timeout(ms(300), limiter.acquire(1)).await.is_err());
    let admission = limiter.acquire(1).await.expect("the refunded slot");
    assert_eq!(admission.admitted_at(), start + ms(1000));
    admission.refund().await;
    let again = limiter.try_acquire(1).await.expect("refunded again");
    assert_eq!(again.admitted_at(), start + ms(1000));
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CallError {
    Unreachable,
    Reset,
    Rejected,
}

impl Classify for CallError {
    fn delivery(&self) -> Delivery {
        match self {
            Self::Unreachable => Delivery::NotDelivered,
            Self::Reset => Delivery::MaybeDelivered,
            Self::Rejected => Delivery::Application,
        }
    }
}

fn policy(attempts: u32) -> RetryPolicy {
    RetryPolicy {
        attempts: nz(attempts),
        initial: ms(100),
        max: ms(1000),
        jitter: Jitter::None,
        deadline: None,
        idempotent: false,
    }
}

/// Attempts at 0, 0.1, 0.3 and 0.7 s (backoff doubling); a cap of three gives up at 0.3 s.
pub async fn retry_backs_off_exactly_and_stops_at_the_cap<R: Runtime>(rt: R) {
    let start = rt.now();
    let calls = Arc::new(std::sync::Mutex::new(Vec::new()));
    let (clock, log) = (rt.clone(), calls.clone());
    let value = retry(&rt, &policy(5), None, |attempt| {
        log.lock()
            .unwrap()
            .push(clock.now().saturating_duration_since(start));
        async move {
            if attempt < 4 {
                Err(CallError::Unreachable)
            } else {
                Ok(attempt)
            }
        }
    })
    .await
    .expect("the fourth attempt succeeds");
    assert_eq!(value, 4);
    assert_eq!(*calls.lock().unwrap(), [ms(0), ms(100), ms(300), ms(700)]);
    let start = rt.now();
    let gave_up = retry(&rt, &policy(3), None, |_| async {
        Err::<(), _>(CallError::Unreachable)
    })
    .await
    .expect_err("three attempts fail");
    assert_eq!((gave_up.attempts, gave_up.reason), (3, GiveUp::Exhausted));
    assert_eq!(gave_up.last, Some(CallError::Unreachable));
    assert_eq!(rt.now(), start + ms(300));
}

/// An application error is never retried; a maybe-delivered one only when idempotent.
pub async fn retry_respects_delivery_classes<R: Runtime>(rt: R) {
    let count = Arc::new(AtomicU32::new(0));
    let failing = |error: CallError| {
        let count = count.clone();
        move |_| {
            count.fetch_add(1, Ordering::SeqCst);
            async move { Err::<(), _>(error) }
        }
    };
    let rejected = retry(&rt, &policy(5), None, failing(CallError::Rejected)).await;
    let rejected = rejected.expect_err("rejected");
    assert_eq!(rejected.reason, GiveUp::NotRetryable(Delivery::Application));
    assert_eq!(count.swap(0, Ordering::SeqCst), 1);
    let reset = retry(&rt, &policy(5), None, failing(CallError::Reset)).await;
    assert_eq!(reset.expect_err("not idempotent").attempts, 1);
    let idempotent = RetryPolicy {
        idempotent: true,
        ..policy(3)
    };
    let reset = retry(&rt, &idempotent, None, failing(CallError::Reset)).await;
    assert_eq!(reset.expect_err("retried").reason, GiveUp::Exhausted);
    assert_eq!(count.load(Ordering::SeqCst), 1 + 3);
}

/// A total deadline of 250 ms: attempts at 0 and 0.1 s, then the 0.3 s wake would pass it.
/// A budget of one retry shared by two callers: the second caller gets none.
pub async fn retry_stops_at_the_deadline_and_the_budget<R: Runtime>(rt: R) {
    let start = rt.now();
    let bounded = RetryPolicy {
        deadline: Some(ms(250)),
        ..policy(10)
    };
    let unreachable = |_| async { Err::<(), _>(CallError::Unreachable) };
    let gave_up = retry(&rt, &bounded, None, unreachable)
        .await
        .expect_err("deadline");
    assert_eq!((gave_up.attempts, gave_up.reason), (2, GiveUp::Deadline));
    assert_eq!(rt.now(), start + ms(100));
    let slow = |_| async { std::future::pending::<Result<(), CallError>>().await };
    let cut = retry(&rt, &bounded, None, slow).await.expect_err("cut");
    assert_eq!((cut.last, cut.reason), (None, GiveUp::Deadline));

    let budget = RetryBudget::new(&rt, "retries", 0.0, 1);
    let first = retry(&rt, &policy(3), Some(&budget.clone()), unreachable).await;
    assert_eq!(first.expect_err("spent").attempts, 2);
    let second = retry(&rt, &policy(3), Some(&budget), unreachable).await;
    let second = second.expect_err("no budget");
    assert_eq!((second.attempts, second.reason), (1, GiveUp::Budget));
    assert_eq!(budget.remaining().await, 0);
}

/// Full jitter draws each backoff in `[0, base]` from the runtime's RNG.
pub async fn retry_jitter_stays_within_the_backoff<R: Runtime>(rt: R) {
    let jittered = RetryPolicy {
        jitter: Jitter::Full,
        ..policy(4)
    };
    let start = rt.now();
    let unreachable = |_| async { Err::<(), _>(CallError::Unreachable) };
    let _ = retry(&rt, &jittered, None, unreachable).await;
    let waited = rt.now().saturating_duration_since(start);
    assert!(waited <= ms(100 + 200 + 400), "{waited:?}");
}

/// Units of 10 ms with a deadline at 95 ms: the checkpoint after the tenth unit stops the
/// computation; a stop flag stops it at the next checkpoint.
pub async fn preempt_stops_at_the_deadline_and_on_request<R: Runtime>(rt: R) {
    let start = rt.now();
    let mut checkpoints = Preempt::new(&rt).until(start + ms(95)).yield_every(3);
    let mut units = 0;
    let stopped = loop {
        if let Err(why) = checkpoints.checkpoint().await {
            break why;
        }
        rt.sleep(ms(10)).await;
        units += 1;
    };
    assert_eq!((stopped, units), (Preempted::Deadline, 10));
    assert_eq!(rt.now(), start + ms(100));
    let flag = Arc::new(AtomicBool::new(false));
    let seen = flag.clone();
    let mut checkpoints = Preempt::new(&rt).unless(move || seen.load(Ordering::SeqCst));
    for unit in 0.. {
        if unit == 5 {
            flag.store(true, Ordering::SeqCst);
        }
        if let Err(why) = checkpoints.checkpoint().await {
            assert_eq!((why, unit), (Preempted::Stopped, 5));
            break;
        }
    }
    assert_eq!(checkpoints.checkpoints(), 6);

    let mut checkpoints = Preempt::new(&rt);
    for n in 1..=130 {
        checkpoints
            .checkpoint()
            .await
            .expect("no deadline, no stop");
        assert_eq!(checkpoints.yields(), n / 64, "yields every 64 checkpoints");
    }
}

/// A low-level error wrapped twice: the chain, the place and time, the outermost user
/// message, and a report that shows the message with the id.
pub async fn error_context_keeps_the_chain_and_the_user_message<R: Runtime>(rt: R) {
    let start = rt.now();
    rt.sleep(ms(42)).await;
    let io = std::io::Error::new(std::io::ErrorKind::NotFound, "config.toml missing");
    let low = ContextError::new(&rt, "read the configuration", io).for_item(7);
    let mid = low
        .wrap(&rt, "load the pipeline")
        .in_stage("parse")
        .with_user_message("the configuration file is missing");
    let top = mid.wrap(&rt, "start the service").in_routine("svc/loader");
    assert_eq!(
        top.to_string(),
        "start the service in routine svc/loader at stage parse on item 7"
    );
    assert_eq!(
        top.user_message(),
        Some("the configuration file is missing")
    );
    let detail = top.detail();
    assert!(detail.contains("caused by: load the pipeline at stage parse on item 7"));
    assert!(
        detail.ends_with("caused by: config.toml missing"),
        "{detail}"
    );
    let report = top.report();
    assert_eq!(
        report,
        format!(
            "the configuration file is missing (error {:016x})",
            top.id()
        )
    );
    assert_eq!(top.at(), start + ms(42));
    assert!(top.source().is_some());
    let bare = ContextError::msg(&rt, "divide");
    assert!(bare.report().starts_with("an unexpected error occurred"));
    assert_ne!(bare.id(), top.id());
}
