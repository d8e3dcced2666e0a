//! Heartbeats, the steward and replicated requests, at exact virtual times.

use std::num::NonZeroUsize;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use sigrelay::patterns::heartbeat::{heartbeat, Signal};
use sigrelay::patterns::replicate::{first_ok, LoserEnd, ReplicaError, Replication, Stop};
use sigrelay::patterns::steward::{Intensity, Steward, StewardConfig, StewardError, Ward, WardEnd};
use sigrelay::rt::prelude::*;
use sigrelay::signal::Group;

pub fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// Beats at 0.5 s and 1 s, a miss at 2 s and 3 s (one per timeout, never a burst), then the
/// end once the pulse is dropped.
pub async fn heartbeat_reports_beats_misses_and_the_end<R: Runtime>(rt: R) {
    let start = rt.now();
    let (pulse, mut monitor) = heartbeat(&rt, "worker", ms(1000));
    let clock = rt.clone();
    let worker = rt.spawn("worker", async move {
        for _ in 0..2 {
            clock.sleep(ms(500)).await;
            pulse.beat();
        }
        clock.sleep(ms(2500)).await;
        drop(pulse);
    });
    assert_eq!(monitor.next().await, Signal::Beat(1));
    assert_eq!(rt.now(), start + ms(500));
    assert_eq!(monitor.next().await, Signal::Beat(2));
    assert_eq!(monitor.next().await, Signal::Missed(start + ms(2000)));
    assert_eq!(rt.now(), start + ms(2000));
    assert_eq!(monitor.next().await, Signal::Missed(start + ms(3000)));
    assert_eq!(monitor.next().await, Signal::Stopped);
    assert_eq!(rt.now(), start + ms(3500));
    worker.await.expect("the worker ends");
}

/// A thousand beats with nobody observing never wait; the observer then sees the count.
pub async fn a_beat_never_waits_for_an_observer<R: Runtime>(rt: R) {
    let start = rt.now();
    let (pulse, mut monitor) = heartbeat(&rt, "busy", ms(10));
    for _ in 0..1000 {
        pulse.beat();
    }
    assert_eq!(rt.now(), start);
    assert_eq!(monitor.next().await, Signal::Beat(1000));
}

/// Counts live wards; a ward's guard is dropped when its task ends or is aborted.
struct Live(Arc<AtomicUsize>);

impl Live {
    fn enter(count: &Arc<AtomicUsize>) -> Self {
        let before = count.fetch_add(1, Ordering::SeqCst);
        assert_eq!(before, 0, "two wards alive at once");
        Self(count.clone())
    }
}

impl Drop for Live {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

fn config(backoff: u64, intensity: u32) -> StewardConfig {
    StewardConfig {
        timeout: ms(1000),
        grace: ms(500),
        backoff: ms(backoff),
        max_backoff: ms(4 * backoff),
        intensity: Intensity {
            restarts: intensity,
            within: ms(10_000),
        },
        ..StewardConfig::default()
    }
}

/// Ward 0 beats until 2 s and then hangs, ignoring the stop: missed at 3 s, aborted at
/// 3.5 s, ward 1 starts at 3.5 s + 250 ms. Ward 1 beats twice and then waits for the stop
/// without beating: missed at 5.75 s, stopped at once, ward 2 at 5.75 s + 500 ms (the
/// second restart doubles the backoff). Ward 2 returns: the steward returns. The output is
/// one stream throughout, and never two wards are alive.
pub async fn steward_stops_a_hung_ward_before_starting_the_next<R: Runtime>(rt: R) {
    let start = rt.now();
    let (out, mut starts) = rt.channel::<(u32, Duration)>("ward-output", 8);
    let live = Arc::new(AtomicUsize::new(0));
    let clock = rt.clone();
    let steward = Steward::new(rt.clone(), "steward", config(250, 3));
    let report = steward
        .run(
            out,
            std::future::pending(),
            move |mut ward: Ward<R, (u32, Duration)>| {
                let (clock, live) = (clock.clone(), live.clone());
                async move {
                    let _live = Live::enter(&live);
                    let since = clock.now().saturating_duration_since(start);
                    let _ = ward.output().send((ward.incarnation(), since)).await;
                    match ward.incarnation() {
                        0 => {
                            for _ in 0..4 {
                                clock.sleep(ms(500)).await;
                                ward.beat();
                            }
                            clock.sleep(ms(3_600_000)).await;
                        }
                        1 => {
                            for _ in 0..2 {
                                clock.sleep(ms(500)).await;
                                ward.beat();
                            }
                            ward.stopped().await;
                        }
                        _ => {}
                    }
                }
            },
        )
        .await
        .expect("the third ward returns");
    assert_eq!(report.restarts, 2);
    assert_eq!(
        report.ends,
        [
            WardEnd::Hung {
                missed: start + ms(3000),
                aborted: true
            },
            WardEnd::Hung {
                missed: start + ms(5750),
                aborted: false
            },
            WardEnd::Returned,
        ]
    );
    let mut seen = Vec::new();
    while let Some(entry) = starts.recv().await {
        seen.push(entry);
    }
    assert_eq!(seen, [(0, ms(0)), (1, ms(3750)), (2, ms(6250))]);
}

async fn panicking_ward<R: Runtime>(_ward: Ward<R, ()>) {
    panic!("the ward fails at once");
}

/// Wards that panic at once, with at most two restarts in 10 s: restarted at 1 s and 2 s
/// (backoff 1 s, capped), and the third failure, at 2 s, exceeds the intensity.
pub async fn steward_escalates_past_its_intensity<R: Runtime>(rt: R) {
    let start = rt.now();
    let (out, _unused) = rt.channel::<()>("nothing", 1);
    let mut config = config(1000, 2);
    config.max_backoff = ms(1000);
    let steward = Steward::new(rt.clone(), "steward", config);
    let err = steward
        .run(out, std::future::pending(), panicking_ward::<R>)
        .await
        .expect_err("three failures in 2 s exceed two restarts in 10 s");
    let StewardError::Intensity { intensity, ends } = err;
    assert_eq!(intensity.restarts, 2);
    assert_eq!(ends.len(), 3);
    assert!(ends
        .iter()
        .all(|end| *end == WardEnd::Panicked("the ward fails at once".into())));
    assert_eq!(rt.now(), start + ms(2000));
}

/// The steward's error as a routine's failure.
#[derive(Debug)]
struct Escalated(String);

impl std::fmt::Display for Escalated {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Escalated {}

/// Run as a signal routine, the steward's error is the routine's failure: its group sees it.
pub async fn steward_escalation_fails_its_group<R: Runtime>(rt: R) {
    let group: Group<Escalated, R> = Group::new(rt.clone(), "supervisor");
    let clock = rt.clone();
    group
        .go("steward", move |ctx| async move {
            let (out, _unused) = clock.channel::<()>("nothing", 1);
            let steward = Steward::new(clock.clone(), "steward", config(100, 1));
            let cancelled = async move { ctx.cancelled().await };
            let report = steward.run(out, cancelled, panicking_ward::<R>).await;
            report
                .map(drop)
                .map_err(|e| Escalated(e.to_string()).into())
        })
        .await
        .expect("the group is open");
    let failure = group.wait().await.expect_err("the steward escalated");
    assert!(
        failure.to_string().contains("more than 1 restarts"),
        "{failure}"
    );
}

async fn replica<R: Runtime>(
    rt: R,
    mut stop: Stop<R>,
    latency: Duration,
    outcome: Result<usize, &'static str>,
    honours_stop: bool,
) -> Result<usize, &'static str> {
    if !honours_stop {
        rt.sleep(latency).await;
        return outcome;
    }
    sigrelay::select! {
        () = stop.stopped() => Err("stopped"),
        () = rt.sleep(latency) => outcome,
    }
}

/// Latencies 3 s, 1 s, 2 s: replica 1 wins at exactly 1 s. Replica 0 returns when told to
/// stop; replica 2 ignores it and is aborted at 1 s + grace.
pub async fn first_ok_returns_the_first_success_and_reaps_the_losers<R: Runtime>(rt: R) {
    let start = rt.now();
    let latencies = [3000, 1000, 2000];
    let three = NonZeroUsize::new(3).expect("three");
    let clock = rt.clone();
    let winner = first_ok(&rt, "get", Replication::all(three, ms(500)), |i, stop| {
        replica(clock.clone(), stop, ms(latencies[i]), Ok(i), i != 2)
    })
    .await
    .expect("a replica succeeds");
    assert_eq!((winner.index, winner.value), (1, 1));
    assert_eq!(rt.now(), start + ms(1000), "the winner is not held up");
    let losers = winner.losers.await.expect("the reaper completes");
    assert_eq!(rt.now(), start + ms(1500));
    assert_eq!(
        losers,
        [
            Some(LoserEnd::Returned(Err("stopped"))),
            None,
            Some(LoserEnd::Aborted)
        ]
    );
}

/// Hedged by 1 s: replica 0 is slow (5 s), replica 1 starts at 1 s and fails at once, so
/// replica 2 starts at once and wins 0.5 s later; replica 0 is stopped.
pub async fn first_ok_hedges_and_moves_on_at_a_failure<R: Runtime>(rt: R) {
    let start = rt.now();
    let plan = [(5000, Ok(0)), (0, Err("refused")), (500, Ok(2))];
    let three = NonZeroUsize::new(3).expect("three");
    let clock = rt.clone();
    let winner = first_ok(
        &rt,
        "hedged",
        Replication::hedged(three, ms(1000), ms(100)),
        |i, stop| {
            let (latency, outcome) = plan[i];
            replica(clock.clone(), stop, ms(latency), outcome, true)
        },
    )
    .await
    .expect("replica 2 succeeds");
    assert_eq!(winner.index, 2);
    assert_eq!(rt.now(), start + ms(1500));
    let losers = winner.losers.await.expect("the reaper completes");
    assert_eq!(
        losers,
        [
            Some(LoserEnd::Returned(Err("stopped"))),
            Some(LoserEnd::Failed(ReplicaError::Failed("refused"))),
            None
        ]
    );
    assert_eq!(rt.now(), start + ms(1500), "replica 0 stopped at once");
}

/// Every replica fails: every cause, by index, once the last has failed.
pub async fn first_ok_reports_every_cause<R: Runtime>(rt: R) {
    let start = rt.now();
    let two = NonZeroUsize::new(2).expect("two");
    let clock = rt.clone();
    let failed = first_ok(&rt, "doomed", Replication::all(two, ms(100)), |i, stop| {
        let (clock, latency) = (clock.clone(), ms(100 * (i as u64 + 1)));
        async move {
            if i == 1 {
                clock.sleep(latency).await;
                panic!("replica 1 breaks");
            }
            replica(clock, stop, latency, Err("no"), true).await
        }
    })
    .await
    .expect_err("both fail");
    assert_eq!(
        failed.causes,
        [
            ReplicaError::Failed("no"),
            ReplicaError::Panicked("replica 1 breaks".into())
        ]
    );
    assert_eq!(rt.now(), start + ms(200));
}

/// A request bounded by 100 ms: replica 0 hangs (it answers only its stop), replica 1
/// fails at 20 ms; at exactly 100 ms the request gives up, reporting the hung replica as
/// timed out, and the hung one is stopped.
pub async fn first_ok_gives_up_at_its_timeout<R: Runtime>(rt: R) {
    let start = rt.now();
    let two = NonZeroUsize::new(2).expect("two");
    let clock = rt.clone();
    let bounded = Replication::all(two, ms(10)).within(ms(100));
    let failed = first_ok(&rt, "bounded", bounded, |i, stop| {
        let latency = if i == 0 { ms(3_600_000) } else { ms(20) };
        replica(clock.clone(), stop, latency, Err("refused"), true)
    })
    .await
    .expect_err("nothing succeeds in time");
    assert_eq!(rt.now(), start + ms(100));
    assert_eq!(
        failed.causes,
        [ReplicaError::TimedOut, ReplicaError::Failed("refused")]
    );
}

/// The steward's kernel for loom: a ward that hangs is stopped before the next starts.
pub async fn steward_kernel<R: Runtime>(rt: R) {
    let (out, _unused) = rt.channel::<()>("nothing", 1);
    let live = Arc::new(AtomicUsize::new(0));
    let mut config = config(10, 1);
    config.timeout = ms(100);
    config.grace = ms(10);
    let steward = Steward::new(rt.clone(), "steward", config);
    let report = steward
        .run(out, std::future::pending(), move |mut ward: Ward<R, ()>| {
            let live = live.clone();
            async move {
                let _live = Live::enter(&live);
                if ward.incarnation() == 0 {
                    ward.stopped().await;
                }
            }
        })
        .await
        .expect("the second ward returns");
    assert_eq!(report.restarts, 1);
}

/// `first_ok`'s kernel for loom: two replicas race; one wins, the other is reaped.
pub async fn first_ok_kernel<R: Runtime>(rt: R) {
    let two = NonZeroUsize::new(2).expect("two");
    let clock = rt.clone();
    let winner = first_ok(&rt, "race", Replication::all(two, ms(10)), |i, stop| {
        replica(clock.clone(), stop, ms(5), Ok(i), i == 0)
    })
    .await
    .expect("a replica succeeds");
    let losers = winner.losers.await.expect("the reaper completes");
    assert!(losers[winner.index].is_none());
    assert!(losers[1 - winner.index].is_some());
}
