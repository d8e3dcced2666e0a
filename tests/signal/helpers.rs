//! Transient errors, sends and receives that give up on cancel, ranges and ticks.

use std::sync::Arc;
use std::time::Duration;

use sigrelay::rt::prelude::*;
use sigrelay::signal::{Cancelled, Fault, GoError, Group, SendStop};

const MS: Duration = Duration::from_millis(1);

pub async fn transient_reports_never_block<R: Runtime>(rt: R) {
    let g = Group::<String, R>::builder(rt, "g")
        .transient_capacity(2)
        .build();
    let mut transients = g.transients().await.expect("taken once");
    assert!(g.transients().await.is_none());
    g.go("noisy", |ctx| async move {
        let queued: Vec<_> = (0..5).map(|i| ctx.report(format!("hiccup {i}"))).collect();
        assert_eq!(queued, [true, true, false, false, false]);
        Ok(())
    })
    .await
    .unwrap();
    assert!(
        g.wait().await.is_ok(),
        "transient errors do not fail the routine"
    );
    assert_eq!(g.dropped_transients(), 3);
    let first = transients.recv().await.expect("queued");
    assert_eq!(
        (&*first.path, first.error.as_str()),
        ("g/noisy", "hiccup 0")
    );
    assert_eq!(transients.recv().await.expect("queued").error, "hiccup 1");
}

pub async fn send_and_recv_give_up_on_cancel<R: Runtime>(rt: R) {
    let g = Group::<String, R>::new(rt.clone(), "g");
    let (tx, mut rx) = rt.channel::<u32>("full", 1);
    tx.try_send(0).unwrap();
    let (_idle_tx, mut idle_rx) = rt.channel::<u32>("idle", 1);
    let (got_tx, got_rx) = rt.oneshot("outcome");
    g.go("blocked", move |ctx| async move {
        let sent = ctx.send(&tx, 7).await;
        let received = ctx.recv(&mut idle_rx).await;
        let _ = got_tx.send((sent, received));
        Err(Fault::Cancelled)
    })
    .await
    .unwrap();
    rt.sleep(MS).await;
    g.cancel().await;
    let (sent, received) = got_rx.await.expect("the routine reports");
    assert_eq!(
        sent,
        Err(SendStop::Cancelled(7)),
        "the value is handed back"
    );
    assert_eq!(received, Err(Cancelled));
    assert_eq!(rx.recv().await, Some(0));
    assert!(g.wait().await.is_ok());
}

pub async fn range_consumes_until_closed<R: Runtime>(rt: R) {
    let g = Group::<String, R>::new(rt.clone(), "g");
    let (tx, rx) = rt.channel::<u32>("items", 2);
    let sum = Arc::new(rt.mutex("sum", 0));
    let total = Arc::clone(&sum);
    g.go_range("summer", rx, move |v| {
        let total = Arc::clone(&total);
        async move {
            *total.lock().await += v;
            Ok(())
        }
    })
    .await
    .unwrap();
    for v in 1..=3 {
        tx.send(v).await.unwrap();
    }
    drop(tx);
    assert!(g.wait().await.is_ok());
    assert_eq!(*sum.lock().await, 6);

    let g = Group::<String, R>::new(rt.clone(), "h");
    let (_tx, rx) = rt.channel::<u32>("silent", 1);
    g.go_range("waiter", rx, |_| async { Ok(()) })
        .await
        .unwrap();
    g.cancel().await;
    assert!(g.wait().await.is_ok());
    let endings = g.endings().await;
    assert_eq!(endings.len(), 1, "the range was cancelled");
}

pub async fn ticks_skip_missed_intervals<R: Runtime>(rt: R) {
    let g = Group::<String, R>::new(rt.clone(), "g");
    let ticks = Arc::new(rt.mutex("ticks", Vec::new()));
    let log = Arc::clone(&ticks);
    let (clock, start) = (rt.clone(), rt.now());
    g.go_tick("ticker", 10 * MS, move |now| {
        let (log, clock) = (Arc::clone(&log), clock.clone());
        async move {
            let first = {
                let mut log = log.lock().await;
                log.push(now.saturating_duration_since(start));
                log.len() == 1
            };
            if first {
                clock.sleep(35 * MS).await;
            }
            Ok(())
        }
    })
    .await
    .unwrap();
    rt.sleep(100 * MS).await;
    g.drain().await;
    assert!(g.wait().await.is_ok());
    let ticks = ticks.lock().await.clone();
    assert_eq!(ticks[0], 10 * MS);
    assert_eq!(
        ticks[1],
        55 * MS,
        "the ticks missed during the stall are skipped"
    );
    assert!(
        ticks.windows(2).all(|w| w[1] - w[0] >= 10 * MS),
        "no burst: {ticks:?}"
    );
    let zero = g
        .go_tick("never", Duration::ZERO, |_| async { Ok(()) })
        .await;
    assert_eq!(zero, Err(GoError::ZeroInterval("never".into())));
}
