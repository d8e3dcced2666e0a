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
