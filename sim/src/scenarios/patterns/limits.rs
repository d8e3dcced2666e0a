//! Clients sharing one rate limiter of one or two random quotas, acquiring random permit
//! counts, some giving up their waits: every admission conforms to every quota, the waits
//! are FIFO (a request made earlier is never admitted later), and no admission precedes
//! its request.

use std::num::NonZeroU32;
use std::sync::{Arc, Mutex as StdMutex};
use std::time::Duration;

use sigrelay::bugs::Bugs;
use sigrelay::patterns::ratelimit::{Quota, RateLimiter};
use sigrelay::rt::prelude::*;

use super::ms;

/// An admission: when, how many permits, and when the request was made.
type Admitted = (Duration, u32, Duration);

/// Replays the admissions, in the order they were admitted, through a GCRA model of
/// `quota`: each must be admissible at its time.
fn conforms(quota: (u32, u64, u32), admissions: &[Admitted]) -> Result<(), String> {
    let (count, period, burst) = quota;
    let emission = ms(period) / count;
    let mut tat = Duration::ZERO;
    for &(at, n, _) in admissions {
        let earliest = tat.saturating_sub(emission * (burst - n));
        if at < earliest {
            return Err(format!(
                "{n} permits admitted at {at:?}, before {earliest:?} ({count} per {period} ms, burst {burst})"
            ));
        }
        tat = tat.max(at) + emission * n;
    }
    Ok(())
}

pub async fn rate_limited_clients<R: Runtime>(rt: R, _bugs: Bugs) {
    let mut rng = rt.rng();
    let mut quotas = vec![(1 + rng.below(8) as u32, 100, 1 + rng.below(3) as u32)];
    if rng.chance(0.5) {
        quotas.push((1 + rng.below(20) as u32, 1000, 1 + rng.below(6) as u32));
    }
    let nz = |n: u32| NonZeroU32::new(n).expect("positive");
    let limits: Vec<Quota> = quotas
        .iter()
        .map(|&(count, period, burst)| {
            let quota = Quota::new(nz(count), ms(period)).expect("a period");
            quota.allow_burst(nz(burst))
        })
        .collect();
    let limiter = RateLimiter::new(&rt, "clients/limiter", &limits);
    let burst = quotas.iter().map(|q| q.2).min().expect("a quota");
    let log = Arc::new(StdMutex::new(Vec::<Admitted>::new()));
    let start = rt.now();
    let mut clients = Vec::new();
    for c in 0..3 {
        let (limiter, log, clock, mut rng) = (limiter.clone(), log.clone(), rt.clone(), rt.rng());
        clients.push(rt.spawn(&format!("clients/{c}"), async move {
            for _ in 0..4 {
                clock.sleep(ms(rng.below(30))).await;
                let n = 1 + rng.below(u64::from(burst)) as u32;
                let asked = clock.now().saturating_duration_since(start);
                if rng.chance(0.2) {
                    let patience = ms(rng.below(200));
                    let _gave_up = clock.timeout(patience, limiter.acquire(n)).await;
                    continue;
                }
                let admission = limiter.acquire(n).await.expect("within the burst");
                let at = admission.admitted_at().saturating_duration_since(start);
                assert_eq!(clock.now().saturating_duration_since(start), at);
                log.lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .push((at, n, asked));
            }
        }));
    }
    for client in clients {
        client.await.expect("a client ends");
    }
    let admissions = log.lock().unwrap_or_else(|p| p.into_inner()).clone();
    for quota in &quotas {
        if let Err(violation) = conforms(*quota, &admissions) {
            panic!("rate exceeded: {violation}; admissions {admissions:?}");
        }
    }
    for a in &admissions {
        for b in &admissions {
            assert!(
                a.2 >= b.2 || a.0 <= b.0,
                "asked before, admitted after: {a:?} {b:?}"
            );
        }
    }
    for &(at, _, asked) in &admissions {
        assert!(at >= asked, "admitted before it asked");
    }
}
