//! Mailboxes: answers, application errors, busy policies, timeouts and broken promises,
//! each saying whether the request was delivered.

use std::time::Duration;

use sigrelay::grid::{mailbox, Busy, RequestError};
use sigrelay::patterns::retry::{Classify, Delivery};
use sigrelay::rt::prelude::*;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// An actor doubling even numbers and refusing odd ones: answers and application errors.
pub async fn requests_are_answered_or_refused_by_the_handler<R: Runtime>(rt: R) {
    let (outbox, mut inbox) = mailbox::<R, u32, u32, String>(&rt, "doubler", 4);
    let actor = rt.spawn("doubler", async move {
        while let Some(request) = inbox.next().await {
            let n = request.message;
            let answer = if n % 2 == 0 {
                Ok(n * 2)
            } else {
                Err(format!("{n} is odd"))
            };
            request.answer(answer);
        }
    });
    assert_eq!(outbox.request(2, Busy::Reject, ms(100)).await, Ok(4));
    let refused = outbox
        .request(3, Busy::Reject, ms(100))
        .await
        .expect_err("odd");
    assert_eq!(refused, RequestError::Application("3 is odd".into()));
    assert_eq!(refused.delivery(), Delivery::Application);
    drop(outbox);
    actor.await.expect("the actor ends with its last outbox");
}

/// A full mailbox rejects at once; a request that timed out while queued is withdrawn and
/// never reaches the actor; with `Busy::Wait` a request waits for room within its timeout.
pub async fn a_full_mailbox_rejects_and_withdrawn_requests_are_never_processed<R: Runtime>(rt: R) {
    let start = rt.now();
    let (outbox, mut inbox) = mailbox::<R, u32, u32, ()>(&rt, "slow", 1);
    let first = outbox.clone();
    let queued = rt.spawn("first", async move {
        first.request(1, Busy::Reject, ms(100)).await
    });
    rt.sleep(ms(1)).await;
    let busy = outbox.request(2, Busy::Reject, ms(100)).await;
    assert_eq!(busy, Err(RequestError::Busy));
    assert_eq!(rt.now(), start + ms(1), "rejected at once");
    let waited = outbox.request(3, Busy::Wait, ms(50)).await;
    assert_eq!(waited, Err(RequestError::TimedOut { taken: false }));
    let timed_out = queued.await.expect("the first caller ends");
    assert_eq!(timed_out, Err(RequestError::TimedOut { taken: false }));
    assert_eq!(
        timed_out.expect_err("timed out").delivery(),
        Delivery::NotDelivered
    );
    drop(outbox);
    assert!(
        inbox.next().await.is_none(),
        "the withdrawn request is never handed out"
    );
}

/// When the actor ends, the request in its hands and those still queued are answered at
/// that instant: taken ones as maybe processed, queued ones as not.
pub async fn an_ending_actor_breaks_its_promises_at_once<R: Runtime>(rt: R) {
    let start = rt.now();
    let (outbox, mut inbox) = mailbox::<R, u32, u32, ()>(&rt, "doomed", 4);
    let clock = rt.clone();
    let actor = rt.spawn("doomed", async move {
        let in_hand = inbox.next().await.expect("a request");
        clock.sleep(ms(10)).await;
        drop(in_hand);
    });
    let mut callers = Vec::new();
    for n in 0..3 {
        let outbox = outbox.clone();
        callers.push(rt.spawn(&format!("caller-{n}"), async move {
            outbox
                .request(n, Busy::Reject, Duration::from_secs(60))
                .await
        }));
        rt.sleep(ms(1)).await;
    }
    actor.await.expect("the actor ends");
    let mut outcomes = Vec::new();
    for caller in callers {
        outcomes.push(caller.await.expect("a caller ends"));
    }
    assert_eq!(
        rt.now(),
        start + ms(10),
        "answered when the actor ended, not at the timeout"
    );
    assert_eq!(
        outcomes,
        [
            Err(RequestError::BrokenPromise { taken: true }),
            Err(RequestError::BrokenPromise { taken: false }),
            Err(RequestError::BrokenPromise { taken: false }),
        ]
    );
    assert_eq!(
        outcomes[0].clone().expect_err("broken").delivery(),
        Delivery::MaybeDelivered
    );
}

/// A request taken and then outlived by its caller's timeout is "maybe processed"; the
/// actor's late answer is refused.
pub async fn a_request_timed_out_after_it_was_taken_may_have_been_processed<R: Runtime>(rt: R) {
    let (outbox, mut inbox) = mailbox::<R, u32, u32, ()>(&rt, "late", 1);
    let clock = rt.clone();
    let actor = rt.spawn("late", async move {
        let request = inbox.next().await.expect("a request");
        clock.sleep(ms(200)).await;
        request.answer(Ok(1))
    });
    let late = outbox.request(1, Busy::Wait, ms(100)).await;
    assert_eq!(late, Err(RequestError::TimedOut { taken: true }));
    assert!(!actor.await.expect("the actor ends"), "the caller was gone");
}

/// The mailbox kernel for loom: a caller's timeout races the actor's take; either the
/// actor processes it and the caller hears "taken", or it is withdrawn and never handed out.
pub async fn mailbox_kernel<R: Runtime>(rt: R) {
    let (outbox, mut inbox) = mailbox::<R, u32, u32, ()>(&rt, "race", 1);
    let clock = rt.clone();
    let actor = rt.spawn("actor", async move {
        clock.sleep(ms(10)).await;
        let taken = inbox.next().await;
        taken.map(|request| request.answer(Ok(7)))
    });
    let answer = outbox.request(1, Busy::Reject, ms(10)).await;
    drop(outbox);
    let handed_out = actor.await.expect("the actor ends");
    match answer {
        Ok(7) => assert_eq!(handed_out, Some(true), "answered and heard"),
        Err(RequestError::TimedOut { taken: true }) => {
            assert_eq!(handed_out, Some(false), "abandoned: the answer is refused")
        }
        Err(RequestError::TimedOut { taken: false }) => {
            assert_eq!(handed_out, None, "withdrawn: never handed out")
        }
        other => panic!("{other:?}"),
    }
}
