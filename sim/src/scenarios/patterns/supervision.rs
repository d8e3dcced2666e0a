//! A worker's interval heartbeat, a steward whose wards hang at random, and replicated
//! requests with random latencies, failures and hangs.

use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex as StdMutex};
use std::time::Duration;

use sigrelay::bugs::Bugs;
use sigrelay::patterns::heartbeat::{heartbeat_with, Signal};
use sigrelay::patterns::replicate::{first_ok, Replication, Stop};
use sigrelay::patterns::steward::{Intensity, Steward, StewardConfig, Ward, WardEnd};
use sigrelay::rt::prelude::*;

use super::ms;

/// A worker does random units of work inside `Pulse::beating`: its beats are exactly the
/// ticks before its work ended (a tick at the very instant it ends may count), and none is
/// lost while nobody observes.
pub async fn interval_heartbeat<R: Runtime>(rt: R, bugs: Bugs) {
    let mut rng = rt.rng();
    let period = ms(5 + rng.below(10));
    let units: Vec<u64> = (0..1 + rng.below(6)).map(|_| rng.below(20)).collect();
    let (pulse, mut monitor) = heartbeat_with(&rt, "worker/heartbeat", period * 2, bugs);
    let (done_tx, mut done) = rt.channel::<u64>("worker/results", 1);
    let clock = rt.clone();
    let total: u64 = units.iter().sum();
    let _worker = rt.spawn("worker", async move {
        let work = async {
            for (i, unit) in units.iter().enumerate() {
                clock.sleep(ms(*unit)).await;
                let _ = done_tx.send(i as u64).await;
            }
        };
        pulse.beating(period, work).await;
    });
    let start = rt.now();
    let mut results = 0;
    while done.recv().await.is_some() {
        results += 1;
    }
    let elapsed = rt.now().saturating_duration_since(start);
    assert_eq!(elapsed, ms(total), "the work is never held up by its beats");
    let ticks = (elapsed.as_nanos()).div_ceil(period.as_nanos()) as u64;
    let beats = match monitor.next().await {
        Signal::Beat(n) => n,
        Signal::Missed(_) | Signal::Stopped => 0,
    };
    let at_the_end = elapsed.as_nanos().checked_rem(period.as_nanos()) == Some(0);
    let tolerated = ticks + u64::from(at_the_end);
    assert!(
        (ticks..=tolerated).contains(&beats),
        "{beats} beats, but one per tick before the work ended: {ticks} ({results} units)"
    );
}

/// Counts live wards and names them: a second ward starting while one is alive is the
/// steward's cardinal sin.
#[derive(Default)]
struct Wards(StdMutex<Vec<u32>>);

impl Wards {
    fn enter(self: &Arc<Self>, incarnation: u32) -> WardGuard {
        let mut live = self.0.lock().unwrap_or_else(|p| p.into_inner());
        assert!(
            live.is_empty(),
            "two wards alive at once: steward/ward#{incarnation} started while steward/ward#{:?} was alive",
            live
        );
        live.push(incarnation);
        WardGuard(self.clone())
    }
}

struct WardGuard(Arc<Wards>);

impl Drop for WardGuard {
    fn drop(&mut self) {
        self.0 .0.lock().unwrap_or_else(|p| p.into_inner()).clear();
    }
}

/// How a ward behaves: beats for `units` units of `unit` ms each, then hangs — honouring
/// the stop or not — or returns.
#[derive(Debug, Clone, Copy)]
struct Plan {
    units: u64,
    unit: u64,
    hang: Option<bool>,
}

/// Wards hang at random, some deaf to the stop: each hang is seen exactly one timeout after
/// the last beat, a deaf ward is aborted after the grace, the next starts exactly one
/// backoff later, never while another is alive, and the output is one stream throughout.
pub async fn hung_wards<R: Runtime>(rt: R, bugs: Bugs) {
    let mut rng = rt.rng();
    let hangs = rng.below(4) as usize;
    let plans: Vec<Plan> = (0..=hangs)
        .map(|i| Plan {
            units: rng.below(4),
            unit: 1 + rng.below(30),
            hang: (i < hangs).then(|| rng.chance(0.5)),
        })
        .collect();
    let config = StewardConfig {
        timeout: ms(40),
        grace: ms(15),
        backoff: ms(10),
        max_backoff: ms(40),
        intensity: Intensity {
            restarts: 5,
            within: Duration::from_secs(10),
        },
        bugs,
    };
    let (out, mut output) = rt.channel::<(u32, u64)>("steward/output", 4);
    let (wards, clock, start) = (Arc::new(Wards::default()), rt.clone(), rt.now());
    let ward_plans = plans.clone();
    let reader = rt.spawn("steward/consumer", async move {
        let mut seen = Vec::new();
        while let Some(entry) = output.recv().await {
            seen.push(entry);
        }
        seen
    });
    let starts = Arc::new(StdMutex::new(Vec::new()));
    let started = starts.clone();
    let steward = Steward::new(rt.clone(), "steward", config.clone());
    let report = steward
        .run(
            out,
            std::future::pending(),
            move |ward: Ward<R, (u32, u64)>| {
                let plan = ward_plans[ward.incarnation() as usize];
                let since = clock.now().saturating_duration_since(start);
                started
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .push(since);
                let (clock, guard) = (clock.clone(), wards.enter(ward.incarnation()));
                run_ward(clock, ward, plan, guard)
            },
        )
        .await
        .expect("five restarts in ten seconds are allowed");
    let mut want_ends = Vec::new();
    let mut want_starts = vec![Duration::ZERO];
    let mut at = Duration::ZERO;
    for (k, plan) in plans.iter().enumerate() {
        let Some(deaf) = plan.hang else { break };
        let missed = at + ms(plan.units * plan.unit) + config.timeout;
        want_ends.push(WardEnd::Hung {
            missed: start + missed,
            aborted: deaf,
        });
        let backoff = (config.backoff * 2u32.pow(k as u32)).min(config.max_backoff);
        at = missed + if deaf { config.grace } else { Duration::ZERO } + backoff;
        want_starts.push(at);
    }
    want_ends.push(WardEnd::Returned);
    assert_eq!(report.ends, want_ends, "plans {plans:?}");
    assert_eq!(
        *starts.lock().unwrap_or_else(|p| p.into_inner()),
        want_starts
    );
    let seen = reader.await.expect("the consumer ends");
    let want: Vec<(u32, u64)> = plans
        .iter()
        .enumerate()
        .flat_map(|(k, p)| (0..p.units).map(move |u| (k as u32, u)))
        .collect();
    assert_eq!(seen, want, "one output stream across restarts");
}

async fn run_ward<R: Runtime>(rt: R, mut ward: Ward<R, (u32, u64)>, plan: Plan, _guard: impl Send) {
    for unit in 0..plan.units {
        rt.sleep(ms(plan.unit)).await;
        ward.beat();
        let _ = ward.output().send((ward.incarnation(), unit)).await;
    }
    match plan.hang {
        None => {}
        Some(false) => ward.stopped().await,
        Some(true) => rt.notify("ward/hang").notified().await,
    }
}

/// Replicas with random latencies, failures and hangs (a hung replica answers only its
/// stop), started at once or hedged: the earliest success wins at exactly its time, every
/// loser has ended by the grace after the win, and if all fail every cause is reported.
pub async fn replicated_requests<R: Runtime>(rt: R, bugs: Bugs) {
    let mut rng = rt.rng();
    let count = 2 + rng.below(3) as usize;
    let plan: Vec<(u64, u8)> = (0..count)
        .map(|_| (1 + rng.below(40), rng.below(4) as u8))
        .collect();
    let hedge = rng.chance(0.5).then(|| ms(5 + rng.below(20)));
    let grace = ms(5);
    let replicas = NonZeroUsize::new(count).expect("at least two");
    let patience = ms(100);
    let mut replication = match hedge {
        Some(delay) => Replication::hedged(replicas, delay, grace),
        None => Replication::all(replicas, grace),
    }
    .within(patience);
    replication.bugs = bugs;
    let live = Arc::new(StdMutex::new(Vec::new()));
    let (clock, counter, start) = (rt.clone(), live.clone(), rt.now());
    let outcome = first_ok(&rt, "replicas", replication, |i, stop| {
        let (clock, counter) = (clock.clone(), counter.clone());
        replica(clock, stop, (i, plan[i]), counter)
    })
    .await;
    let at = rt.now().saturating_duration_since(start);
    let ways = model(&plan, hedge);
    let first_success = |ends: &[Option<Duration>]| {
        (0..count)
            .filter(|i| plan[*i].1 == 0)
            .filter_map(|i| ends[i].map(|end| (end, i)))
            .min()
    };
    let gave_up_at = |ends: &[Option<Duration>], success_late: bool| match success_late
        || plan.iter().any(|p| p.1 == 3)
    {
        true => patience,
        false => ends
            .iter()
            .flatten()
            .copied()
            .max()
            .unwrap_or_default()
            .min(patience),
    };
    let ended_as_run = |ends: &&Vec<Option<Duration>>| match &outcome {
        Ok(winner) => ends[winner.index] == Some(at),
        Err(_) => {
            let none_in_time = first_success(ends).is_none_or(|(end, _)| end >= patience);
            none_in_time && at == gave_up_at(ends, first_success(ends).is_some())
        }
    };
    let Some(ends) = ways.iter().find(ended_as_run) else {
        panic!("no way the replicas may start explains the outcome at {at:?}: plan {plan:?}, hedge {hedge:?}, {ways:?}");
    };
    let first_success = first_success(ends);
    let in_time = first_success.filter(|(end, _)| *end < patience);
    if first_success.is_some_and(|(end, _)| end == patience) {
        return;
    }
    match outcome {
        Ok(winner) => {
            let (end, _) = in_time.expect("a success was possible in time");
            assert_eq!(
                at, end,
                "the winner returns at its time; plan {plan:?}, hedge {hedge:?}"
            );
            assert_eq!(
                ends[winner.index],
                Some(end),
                "replica {} won at {at:?}",
                winner.index
            );
            let losers = winner.losers.await.expect("the reaper ends");
            rt.sleep(grace).await;
            let alive = live.lock().unwrap_or_else(|p| p.into_inner()).clone();
            assert!(
                alive.is_empty(),
                "losers alive one grace after the win: replicas/replica#{alive:?}"
            );
            let reported = losers
                .iter()
                .enumerate()
                .all(|(i, l)| l.is_some() == (i != winner.index));
            assert!(reported, "every loser reported: {losers:?}");
        }
        Err(all) => {
            assert!(
                in_time.is_none(),
                "all failed but a replica could win: {plan:?}"
            );
            assert_eq!(all.causes.len(), count);
            assert_eq!(
                at,
                gave_up_at(ends, first_success.is_some()),
                "gave up at the deadline, or when the last replica failed"
            );
            rt.sleep(grace).await;
            let alive = live.lock().unwrap_or_else(|p| p.into_inner()).clone();
            assert!(
                alive.is_empty(),
                "replicas alive one grace after the timeout: replicas/replica#{alive:?}"
            );
        }
    }
}

/// Every way the replicas may start, and when each ends on its own: a hedged start follows
/// the delay after the last start or the earliest failure not yet seen, whichever is first,
/// each failure starting one replica. A failure at the very instant the delay ends may be
/// seen first or after the hedge: both are explored.
fn model(plan: &[(u64, u8)], hedge: Option<Duration>) -> Vec<Vec<Option<Duration>>> {
    let Some(delay) = hedge else {
        return vec![plan.iter().map(|p| end_of(Duration::ZERO, *p)).collect()];
    };
    let mut all = Vec::new();
    let first = vec![end_of(Duration::ZERO, plan[0])];
    hedged(
        plan,
        delay,
        (vec![Duration::ZERO], first),
        vec![false; plan.len()],
        &mut all,
    );
    all
}

fn end_of(start: Duration, (latency, kind): (u64, u8)) -> Option<Duration> {
    (kind != 3).then(|| start + ms(latency))
}

fn hedged(
    plan: &[(u64, u8)],
    delay: Duration,
    (starts, ends): (Vec<Duration>, Vec<Option<Duration>>),
    seen: Vec<bool>,
    all: &mut Vec<Vec<Option<Duration>>>,
) {
    if starts.len() == plan.len() {
        all.push(ends);
        return;
    }
    let last = *starts.last().expect("one started");
    let failed_first = (0..starts.len())
        .filter(|i| plan[*i].1 != 0 && !seen[*i])
        .filter_map(|i| ends[i].map(|end| (end, i)))
        .filter(|(end, _)| *end <= last + delay)
        .min();
    let mut branch = |at: Duration, consumed: Option<usize>| {
        let (mut starts, mut ends, mut seen) = (starts.clone(), ends.clone(), seen.clone());
        if let Some(i) = consumed {
            seen[i] = true;
        }
        starts.push(at);
        ends.push(end_of(at, plan[starts.len() - 1]));
        hedged(plan, delay, (starts, ends), seen, all);
    };
    match failed_first {
        Some((end, i)) if end == last + delay => {
            branch(end, Some(i));
            branch(end, None);
        }
        Some((end, i)) => branch(end.max(last), Some(i)),
        None => branch(last + delay, None),
    }
}

/// Kind 0 succeeds, 1 fails, 2 panics after its latency; 3 hangs until told to stop.
async fn replica<R: Runtime>(
    rt: R,
    mut stop: Stop<R>,
    (index, (latency, kind)): (usize, (u64, u8)),
    live: Arc<StdMutex<Vec<usize>>>,
) -> Result<u64, String> {
    live.lock().unwrap_or_else(|p| p.into_inner()).push(index);
    let _alive = Leave(live, index);
    let work = async {
        match kind {
            3 => {
                rt.notify("replicas/backend").notified().await;
                unreachable!("nobody answers a hung replica")
            }
            _ => rt.sleep(ms(latency)).await,
        }
        match kind {
            0 => Ok(latency),
            1 => Err(format!("replica failed after {latency} ms")),
            _ => panic!("replica broke after {latency} ms"),
        }
    };
    sigrelay::select! {
        () = stop.stopped() => Err("stopped".into()),
        done = work => done,
    }
}

struct Leave(Arc<StdMutex<Vec<usize>>>, usize);

impl Drop for Leave {
    fn drop(&mut self) {
        let mut live = self.0.lock().unwrap_or_else(|p| p.into_inner());
        live.retain(|i| *i != self.1);
    }
}
