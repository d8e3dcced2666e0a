//! The model checkers see every order of the tasks' visible operations: small bodies whose
//! outcomes are counted by hand, explored exhaustively (shuttle's DFS, loom), must show every
//! one. A backend that left out a scheduling point an operation needs — two sends run as
//! one step, a last sender's drop taken together with the send before it — loses outcomes
//! here.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};

use sigrelay::check::{LoomCheck, ShuttleCheck, Strategy};
use sigrelay::rt::prelude::*;

/// What one run saw, in the words of `Debug`.
type Outcomes = Arc<Mutex<BTreeSet<String>>>;

/// A writer makes two `try_send`s while a reader makes two `try_recv`s (and keeps the
/// receiver until the writer is done).
async fn two_sends_against_two_reads<R: Runtime>(rt: R, outcomes: Outcomes) {
    let (tx, mut rx) = rt.channel::<u8>("pair", 4);
    let writer = rt.spawn("writer", async move {
        tx.try_send(1).expect("room for both");
        tx.try_send(2).expect("room for both");
    });
    let reader = rt.spawn(
        "reader",
        async move { ([rx.try_recv(), rx.try_recv()], rx) },
    );
    writer.await.expect("the writer ends");
    let (seen, _open_until_now) = reader.await.expect("the reader ends");
    outcomes.lock().unwrap().insert(format!("{seen:?}"));
}

/// A writer sends one value and drops the only sender while a reader makes three
/// `try_recv`s: the reader can take the value and then still find the channel open.
async fn a_send_then_the_last_drop<R: Runtime>(rt: R, outcomes: Outcomes) {
    let (tx, mut rx) = rt.channel::<u8>("last", 1);
    let writer = rt.spawn("writer", async move {
        tx.send(1).await.expect("the reader is alive");
        drop(tx);
    });
    let reader = rt.spawn("reader", async move {
        ([rx.try_recv(), rx.try_recv(), rx.try_recv()], rx)
    });
    writer.await.expect("the writer ends");
    let (seen, _open_until_now) = reader.await.expect("the reader ends");
    outcomes.lock().unwrap().insert(format!("{seen:?}"));
}

/// `inner`, failing any poll of it that answers no wake: every poll but the first must
/// follow a call of a waker it handed out.
struct Woken<F> {
    inner: std::pin::Pin<Box<F>>,
    polls: usize,
    wakes: Arc<Wakes>,
}

struct Wakes {
    count: std::sync::atomic::AtomicUsize,
    waker: Mutex<Option<std::task::Waker>>,
}

impl std::task::Wake for Wakes {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.count.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        if let Some(waker) = self.waker.lock().unwrap().as_ref() {
            waker.wake_by_ref();
        }
    }
}

impl<F: std::future::Future> std::future::Future for Woken<F> {
    type Output = F::Output;

    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<F::Output> {
        let wakes = self.wakes.count.load(std::sync::atomic::Ordering::SeqCst);
        assert!(
            self.polls <= wakes,
            "poll {} answers no wake",
            self.polls + 1
        );
        self.polls += 1;
        *self.wakes.waker.lock().unwrap() = Some(cx.waker().clone());
        let waker = std::task::Waker::from(self.wakes.clone());
        self.inner
            .as_mut()
            .poll(&mut std::task::Context::from_waker(&waker))
    }
}

/// A reader drains a channel of capacity 1 that a writer fills with three values and then
/// closes; the reader waits, is woken, takes a value and waits again, and every poll of it
/// must answer a wake. (Shuttle's executor remembers the wake that made a sleeping task
/// runnable, which left one poll more, finding nothing, after each. Loom is not held to
/// this: its `block_on` wakes spuriously on purpose, to explore futures that must bear it.)
async fn a_reader_polled_once_per_wake<R: Runtime>(rt: R, outcomes: Outcomes) {
    let (tx, mut rx) = rt.channel::<u8>("values", 1);
    let wakes = Arc::new(Wakes {
        count: Default::default(),
        waker: Mutex::new(None),
    });
    let reading = async move {
        let mut n = 0;
        while rx.recv().await.is_some() {
            n += 1;
        }
        n
    };
    let reader = Woken {
        inner: Box::pin(reading),
        polls: 0,
        wakes,
    };
    let reader = rt.spawn("reader", reader);
    for v in 0..3 {
        tx.send(v).await.expect("the reader is alive");
    }
    drop(tx);
    let n = reader.await.expect("every poll answers a wake");
    outcomes.lock().unwrap().insert(format!("{n}"));
}

const EMPTY: &str = "Err(Empty)";
const CLOSED: &str = "Err(Closed)";

fn expected(rows: &[&[&str]]) -> BTreeSet<String> {
    rows.iter().map(|r| format!("[{}]", r.join(", "))).collect()
}

/// Every outcome of the two sends: the reader's reads fall before, between or after them.
fn two_sends_outcomes() -> BTreeSet<String> {
    expected(&[
        &[EMPTY, EMPTY],
        &[EMPTY, "Ok(1)"],
        &["Ok(1)", EMPTY],
        &["Ok(1)", "Ok(2)"],
    ])
}

/// Every outcome of the send and the drop: `i` reads before the send, `j` between it and
/// the drop, `k` after (a read after the drop still takes a value left in the buffer).
fn last_drop_outcomes() -> BTreeSet<String> {
    expected(&[
        &[EMPTY, EMPTY, EMPTY],
        &[EMPTY, EMPTY, "Ok(1)"],
        &[EMPTY, "Ok(1)", EMPTY],
        &[EMPTY, "Ok(1)", CLOSED],
        &["Ok(1)", EMPTY, EMPTY],
        &["Ok(1)", EMPTY, CLOSED],
        &["Ok(1)", CLOSED, CLOSED],
    ])
}

fn on_shuttle_dfs<Fut: std::future::Future<Output = ()> + 'static>(
    body: fn(sigrelay::rt::Shuttle, Outcomes) -> Fut,
) -> BTreeSet<String> {
    let outcomes = Outcomes::default();
    let seen = outcomes.clone();
    let summary = ShuttleCheck::new(Strategy::Dfs, 1_000_000).run(move |rt| body(rt, seen.clone()));
    assert!(summary.iterations < 1_000_000, "the search ended by itself");
    let outcomes = outcomes.lock().unwrap().clone();
    outcomes
}

fn on_loom<Fut: std::future::Future<Output = ()> + 'static>(
    body: fn(sigrelay::rt::Loom, Outcomes) -> Fut,
) -> BTreeSet<String> {
    let outcomes = Outcomes::default();
    let seen = outcomes.clone();
    LoomCheck::default()
        .preemption_bound(None)
        .run(move |rt| body(rt, seen.clone()));
    let outcomes = outcomes.lock().unwrap().clone();
    outcomes
}

#[test]
fn shuttle_runs_every_order_of_two_sends_and_two_reads() {
    assert_eq!(
        on_shuttle_dfs(two_sends_against_two_reads),
        two_sends_outcomes()
    );
}

#[test]
fn shuttle_runs_a_read_between_a_send_and_the_last_drop() {
    assert_eq!(
        on_shuttle_dfs(a_send_then_the_last_drop),
        last_drop_outcomes()
    );
}

#[test]
fn loom_runs_every_order_of_two_sends_and_two_reads() {
    assert_eq!(on_loom(two_sends_against_two_reads), two_sends_outcomes());
}

#[test]
fn loom_runs_a_read_between_a_send_and_the_last_drop() {
    assert_eq!(on_loom(a_send_then_the_last_drop), last_drop_outcomes());
}

#[test]
fn shuttle_polls_a_woken_task_once_per_wake() {
    let seen = on_shuttle_dfs(a_reader_polled_once_per_wake);
    assert_eq!(seen, expected_count(3));
}

fn expected_count(n: u8) -> BTreeSet<String> {
    BTreeSet::from([n.to_string()])
}
