//! Turmoil entry point: the body as a client of a turmoil simulation.

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use super::Failure;
use crate::rt::panic_message;
use crate::rt::turmoil::Census;
use crate::rt::Turmoil;

/// A turmoil run: seed, simulated duration, hosts beside the body, and faults at set
/// points of simulated time.
#[derive(Clone)]
#[must_use = "a check does nothing until it is run"]
pub struct TurmoilCheck {
    seed: u64,
    duration: Duration,
    hosts: Vec<(String, HostBody)>,
    faults: Vec<(Duration, NetFault)>,
    strict: bool,
}

/// A change to the simulated network or its hosts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NetFault {
    /// Messages between the two hosts are dropped, both ways.
    Partition(String, String),
    /// Messages from the first host to the second are dropped.
    PartitionOneWay(String, String),
    /// Ends a partition, both ways.
    Repair(String, String),
    /// Ends a one-way partition from the first host to the second.
    RepairOneWay(String, String),
    /// Messages between the two hosts are held, both ways, until released.
    Hold(String, String),
    /// Delivers what a hold kept, and ends it.
    Release(String, String),
    /// Every message takes up to this long (a random latency below it).
    MaxLatency(Duration),
    /// The host loses power: its software stops at once and its sockets vanish without
    /// sending a reset (peers find out by silence), until it restarts.
    Crash(String),
    /// The host's software starts again (after a crash, or instead of running on).
    Restart(String),
}

/// The census of each host's latest start, and of the body ("main").
type Censuses = Rc<RefCell<BTreeMap<String, Arc<Census>>>>;

/// What each host still runs when a run fails: a leak if the body had returned (its tasks,
/// or a host's, never ended), else what was running when the run stopped.
fn still_running(censuses: &BTreeMap<String, Arc<Census>>, returned: bool) -> String {
    let mut out = match returned {
        true => "leak: the body returned but these tasks never ended:".to_string(),
        false => "still running when the run stopped:".to_string(),
    };
    for (host, census) in censuses {
        let alive = census.live();
        if !alive.is_empty() {
            out.push_str(&format!("\n  host \"{host}\": {}", quoted(&alive)));
        }
    }
    out
}

fn quoted(names: &[String]) -> String {
    let names: Vec<String> = names.iter().map(|n| format!("\"{n}\"")).collect();
    names.join(", ")
}

/// A host's software: started once per (re)start of the host.
type HostBody = Rc<dyn Fn(Turmoil) -> Pin<Box<dyn Future<Output = ()>>>>;

impl std::fmt::Debug for TurmoilCheck {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let hosts: Vec<&str> = self.hosts.iter().map(|(name, _)| name.as_str()).collect();
        f.debug_struct("TurmoilCheck")
            .field("seed", &self.seed)
            .field("duration", &self.duration)
            .field("hosts", &hosts)
            .finish()
    }
}

impl TurmoilCheck {
    /// A run with `seed`, simulating at most 60 s.
    pub fn new(seed: u64) -> Self {
        Self {
            seed,
            duration: Duration::from_secs(60),
            hosts: Vec::new(),
            faults: Vec::new(),
            strict: false,
        }
    }

    /// Strict leak check (as Go's goleak): the run fails if any task the body spawned is
    /// still alive when the body returns, even one that would end later. By default the run
    /// waits for them, and fails only if they have not ended by the end of the simulation.
    pub fn strict(mut self, strict: bool) -> Self {
        self.strict = strict;
        self
    }

    /// Applies `fault` once `at` of simulated time has passed.
    pub fn fault(mut self, at: Duration, fault: NetFault) -> Self {
        self.faults.push((at, fault));
        self.faults.sort_by_key(|(at, _)| *at);
        self
    }

    /// Adds host `name` running `software` beside the body (again after each restart); the
    /// run ends when the body does.
    pub fn host<F, Fut>(mut self, name: &str, software: F) -> Self
    where
        F: Fn(Turmoil) -> Fut + 'static,
        Fut: Future<Output = ()> + 'static,
    {
        let body: HostBody = Rc::new(move |rt| Box::pin(software(rt)));
        self.hosts.push((name.to_string(), body));
        self
    }

    /// Fails the run if the body has not finished after `duration` of simulated time.
    pub fn duration(mut self, duration: Duration) -> Self {
        self.duration = duration;
        self
    }

    /// Runs `body` as the client "main"; returns the failure instead of panicking.
    pub fn try_run<F, Fut>(&self, body: F) -> Result<(), Failure>
    where
        F: FnOnce(Turmoil) -> Fut + 'static,
        Fut: Future<Output = ()> + 'static,
    {
        let mut sim = ::turmoil::Builder::new()
            .rng_seed(self.seed)
            .simulation_duration(self.duration)
            .build();
        let censuses: Censuses = Rc::default();
        for (i, (name, software)) in self.hosts.iter().enumerate() {
            let (software, seed) = (software.clone(), self.seed.wrapping_add(i as u64 + 1));
            let (censuses, host) = (censuses.clone(), name.clone());
            sim.host(name.as_str(), move || {
                let rt = Turmoil::new(seed);
                let census = rt.census().clone();
                censuses.borrow_mut().insert(host.clone(), census.clone());
                let run = software(rt);
                async move {
                    run.await;
                    census.drained().await;
                    Ok(())
                }
            });
        }
        let rt = Turmoil::new(self.seed);
        let census = rt.census().clone();
        censuses.borrow_mut().insert("main".into(), census.clone());
        let returned = Rc::new(Cell::new(false));
        let (body_returned, strict) = (returned.clone(), self.strict);
        sim.client("main", async move {
            body(rt).await;
            body_returned.set(true);
            let alive = census.live();
            if strict && !alive.is_empty() {
                return Err(format!(
                    "strict leak check: tasks outlived the body on host \"main\": {}",
                    quoted(&alive)
                )
                .into());
            }
            census.drained().await;
            Ok(())
        });
        let outcome = super::as_check(|| catch_unwind(AssertUnwindSafe(|| self.run(&mut sim))));
        let message = match outcome {
            Ok(Ok(())) => return Ok(()),
            Ok(Err(e)) => e.to_string(),
            Err(payload) => panic_message(payload.as_ref()),
        };
        let message = format!(
            "{message}\n{}",
            still_running(&censuses.borrow(), returned.get())
        );
        Err(Failure {
            backend: "turmoil",
            message,
            reproducer: format!("seed {}", self.seed),
            replay: format!(
                "sigrelay::check::TurmoilCheck::new({}).try_run(body)",
                self.seed
            ),
            #[cfg(any(feature = "rt-shuttle", feature = "rt-loom"))]
            record: None,
        })
    }
}

impl TurmoilCheck {
    /// Steps `sim` until the body is done, applying each fault when its time comes.
    fn run(&self, sim: &mut ::turmoil::Sim<'_>) -> ::turmoil::Result {
        let mut faults = self.faults.iter().peekable();
        loop {
            while let Some((_, fault)) = faults.next_if(|(at, _)| *at <= sim.elapsed()) {
                self.apply(sim, fault);
            }
            if sim.step()? {
                return Ok(());
            }
        }
    }
}

impl TurmoilCheck {
    /// Applies `fault`. A crash cuts the host off before stopping it: the resets its sockets
    /// would send on drop are lost like the rest of its traffic, so neither the peers nor
    /// the network's random draws depend on the order tokio drops the host's tasks in (an
    /// order set by process-wide task ids, which differ between a sweep and a replay).
    fn apply(&self, sim: &mut ::turmoil::Sim<'_>, fault: &NetFault) {
        let at_ns = sim.elapsed().as_nanos() as u64;
        let _network = tracing::info_span!("node", name = "network", at_ns).entered();
        tracing::info!(?fault, "network fault");
        let others = |host: &str| {
            let names = self.hosts.iter().map(|(name, _)| name.as_str());
            names
                .chain(["main"])
                .filter(|name| *name != host)
                .map(str::to_string)
                .collect::<Vec<_>>()
        };
        match fault {
            NetFault::Crash(host) => {
                for other in others(host) {
                    sim.partition(host.as_str(), other.as_str());
                }
                sim.crash(host.as_str());
            }
            NetFault::Restart(host) => {
                for other in others(host) {
                    sim.repair(host.as_str(), other.as_str());
                }
                sim.bounce(host.as_str());
            }
            other => apply(sim, other),
        }
    }
}

fn apply(sim: &mut ::turmoil::Sim<'_>, fault: &NetFault) {
    match fault {
        NetFault::Partition(a, b) => sim.partition(a.as_str(), b.as_str()),
        NetFault::PartitionOneWay(a, b) => sim.partition_oneway(a.as_str(), b.as_str()),
        NetFault::Repair(a, b) => sim.repair(a.as_str(), b.as_str()),
        NetFault::RepairOneWay(a, b) => sim.repair_oneway(a.as_str(), b.as_str()),
        NetFault::Hold(a, b) => sim.hold(a.as_str(), b.as_str()),
        NetFault::Release(a, b) => sim.release(a.as_str(), b.as_str()),
        NetFault::MaxLatency(latency) => sim.set_max_message_latency(*latency),
        NetFault::Crash(_) | NetFault::Restart(_) => {}
    }
}

/// Runs `body` in a turmoil simulation with `seed`; panics on failure.
pub fn turmoil_run<F, Fut>(seed: u64, body: F)
where
    F: FnOnce(Turmoil) -> Fut + 'static,
    Fut: Future<Output = ()> + 'static,
{
    if let Err(failure) = TurmoilCheck::new(seed).try_run(body) {
        panic!("{failure}");
    }
}
