//! A user's own code under the sigrelay harness: a small order pipeline written once against
//! `R: Runtime`, so it runs on tokio in production and under shuttle in the harness.
//!
//! Orders go from an intake through a bounded channel to a pricer, which books each one in
//! a ledger and counts it in an audit, under two locks; an auditor checks, while orders
//! flow, that the audit counts exactly what the ledger holds. The planted bug is the
//! classic one: the auditor takes the two locks in the other order. On some schedules
//! nothing happens; on others the pricer holds the ledger and waits for the audit while
//! the auditor holds the audit and waits for the ledger.
//!
//! [`SCENARIOS`] puts both versions under the harness; `src/main.rs` is the whole binary.

use std::sync::Arc;

use sigrelay::rt::coverage;
use sigrelay::rt::prelude::*;
use sim::Scenario;

/// The hard state the correct pipeline must be seen in: an audit while orders flow.
pub const AUDIT_MID_STREAM: &str = "orders: the auditor checked while orders were in flight";

/// Orders one run books.
pub const ORDERS: u64 = 6;

/// The order pipeline and the auditor. With `planted`, the auditor takes the locks in the
/// other order. Returns the ledger's total.
pub async fn book_orders<R: Runtime>(rt: R, planted: bool) -> u64 {
    let ledger = Arc::new(rt.mutex("ledger", Vec::<u64>::new()));
    let audit = Arc::new(rt.mutex("audit", 0u64));
    let (orders_tx, mut orders) = rt.channel::<u64>("orders", 2);
    let intake = rt.spawn("intake", async move {
        for order in 1..=ORDERS {
            orders_tx.send(order).await.expect("the pricer is alive");
        }
    });
    let (book, count) = (ledger.clone(), audit.clone());
    let pricer = rt.spawn("pricer", async move {
        while let Some(order) = orders.recv().await {
            let mut booked = book.lock().await;
            let mut counted = count.lock().await;
            booked.push(order * 10);
            *counted += 1;
        }
    });
    let (book, count, turn) = (ledger.clone(), audit.clone(), rt.clone());
    let auditor = rt.spawn("auditor", async move {
        loop {
            let (booked, counted) = match planted {
                false => {
                    let booked = book.lock().await;
                    (booked.len() as u64, *count.lock().await)
                }
                true => {
                    let counted = count.lock().await;
                    (book.lock().await.len() as u64, *counted)
                }
            };
            assert_eq!(booked, counted, "the audit counts what the ledger holds");
            if booked == ORDERS {
                return;
            }
            if booked > 0 {
                coverage::reached(AUDIT_MID_STREAM);
            }
            turn.yield_now().await;
        }
    });
    intake.await.expect("the intake ends");
    pricer.await.expect("the pricer ends");
    auditor.await.expect("the auditor ends");
    let total = ledger.lock().await.iter().sum();
    total
}

/// The pipeline's scenarios: the real code, which must book every order and be seen
/// auditing mid-stream, and the planted bug.
pub static SCENARIOS: &[Scenario] = &[
    Scenario::shuttle(
        "orders",
        "every order is booked and audited, and the audit always matches the ledger",
        |rt, _| {
            Box::pin(async move {
                let total = book_orders(rt, false).await;
                assert_eq!(
                    total,
                    (1..=ORDERS).sum::<u64>() * 10,
                    "every order is booked"
                );
            })
        },
    )
    .reaching(&[AUDIT_MID_STREAM]),
    Scenario::shuttle(
        "orders-planted",
        "the same pipeline with the auditor taking the locks in the other order",
        |rt, _| {
            Box::pin(async move {
                book_orders(rt, true).await;
            })
        },
    ),
];
