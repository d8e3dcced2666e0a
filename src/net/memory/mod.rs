//! An in-memory network: listeners and byte streams inside one process, built on no
//! runtime's sockets, so a cluster runs under shuttle and loom as well as on tokio. Each
//! direction of a connection is a pipe with a bounded buffer: a writer whose reader does not
//! read waits, as on a real socket whose window is full — so a slow peer's server really
//! has to drop frames. Faults:
//! - [`MemoryNet::cut`] breaks every connection to an address and refuses new ones until
//!   [`MemoryNet::heal`]: a node that crashed, or was cut off from its callers (a reset).
//! - [`MemoryNet::hold`] silences every connection to an address, both ways, until
//!   [`MemoryNet::release`]: bytes stay in their pipes, readers see nothing, writers fill
//!   the buffers and wait (a partition that drops no connection).
//! - [`MemoryNet::with_latency`] delays every write by a time drawn from the run's RNG,
//!   kept in order per direction, on the runtime's clock (virtual under the checkers).
//! - [`MemoryNet::with_loss`] loses writes at a rate, each loss drawn from the run's RNG;
//!   a lost write breaks its connection, as a reset does.
//! - [`MemoryNet::chaos`] plays a [`Chaos`] plan: crashes and partitions of the addresses
//!   it names, each drawn from the run's RNG — which, when, for how long.
//!
//! # Why a std mutex guards a pipe
//! Every operation takes the lock, changes the state and returns; nothing that can switch
//! tasks happens while it is held, so under the checkers (one task at a time) it never
//! contends, and on tokio it is held for a copy. Wakers are called after it is released.

mod chaos;
mod pipe;
mod stream;

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::fmt;
use std::io;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};
use std::task::{Poll, Waker};
use std::time::Duration;

pub use self::chaos::{Chaos, ChaosError, Fault, Injected};
use self::pipe::{pipe, wake, Latency, Locked, Loss, Pipe};
pub use self::stream::MemoryStream;
use super::transport::{Listener, Transport};
use crate::rt::prelude::*;

/// How many bytes each direction of a connection buffers, by default.
const PIPE_CAPACITY: usize = 64 * 1024;

/// An in-memory network; clones share it. Addresses are `host:port`; binding port 0 picks a
/// free one.
#[derive(Clone, Default)]
pub struct MemoryNet {
    net: Arc<Mutex<Net>>,
    capacity: Option<usize>,
    latency: Option<Latency>,
    loss: Option<Loss>,
}

#[derive(Default)]
struct Net {
    listeners: BTreeMap<String, Arc<Locked<Backlog>>>,
    /// The pipes of every connection made to each address, to break on a cut.
    links: BTreeMap<String, Vec<Weak<Locked<Pipe>>>>,
    cut: BTreeSet<String>,
    held: BTreeSet<String>,
    next_port: u32,
    next_caller: u64,
}

/// Connections waiting to be accepted.
#[derive(Default)]
struct Backlog {
    waiting: VecDeque<(MemoryStream, String)>,
    acceptor: Option<Waker>,
}

/// A bound in-memory listener; dropping it unbinds its address.
pub struct MemoryListener {
    address: String,
    backlog: Arc<Locked<Backlog>>,
    net: MemoryNet,
}

impl MemoryNet {
    /// A new, empty network whose connections buffer 64 KiB each way.
    pub fn new() -> Self {
        MemoryNet::default()
    }

    /// The same network with `capacity` bytes buffered each way on connections made from
    /// now on (at least one).
    pub fn with_capacity(self, capacity: usize) -> Self {
        let capacity = Some(capacity.max(1));
        MemoryNet { capacity, ..self }
    }

    /// The same network with every write on connections made from now on delayed by a time
    /// between `min` and `max` (inclusive), drawn from `rt`'s RNG — so the seed picks the
    /// delays — and kept on `rt`'s clock and timers. Bytes of one direction still arrive
    /// in the order written.
    pub fn with_latency<R: Runtime>(self, rt: &R, min: Duration, max: Duration) -> Self {
        let (clock_rt, timer_rt, start) = (rt.clone(), rt.clone(), rt.now());
        let latency = Latency {
            clock: Arc::new(move || clock_rt.now().saturating_duration_since(start)),
            timer: Arc::new(move |d| Box::pin(timer_rt.sleep(d))),
            rng: Arc::new(Locked(Mutex::new(rt.rng()))),
            min,
            spread: max.saturating_sub(min).as_nanos() as u64,
        };
        MemoryNet {
            latency: Some(latency),
            ..self
        }
    }

    /// The same network with each write on connections made from now on lost with a
    /// chance of `per_million` in a million, drawn from `rt`'s RNG. A byte stream cannot
    /// skip bytes, so a lost write breaks its connection as a reset does (the writer gets
    /// `ConnectionReset`, reads on both ends end): what a TCP peer sees once the other
    /// stops acknowledging.
    pub fn with_loss<R: Runtime>(self, rt: &R, per_million: u32) -> Self {
        let loss = Loss {
            rng: Arc::new(Locked(Mutex::new(rt.rng()))),
            per_million,
        };
        MemoryNet {
            loss: Some(loss),
            ..self
        }
    }

    /// Plays `plan` on this network (see [`Chaos`]): each fault in turn after its gap, on
    /// `rt`'s clock, every draw from `rt`'s RNG, so the seed picks them all. Returns what it
    /// did, in order; a plan that cannot be played is an error before anything happens.
    /// Dropping the future ends the fault in progress.
    pub async fn chaos<R: Runtime>(
        &self,
        rt: &R,
        plan: &Chaos,
    ) -> Result<Vec<Injected>, ChaosError> {
        plan.validate()?;
        let (mut rng, start) = (rt.rng(), rt.now());
        let mut played = Vec::with_capacity(plan.count);
        for _ in 0..plan.count {
            let draw = plan.draw(&mut rng);
            rt.sleep(draw.gap).await;
            let at = rt.now().saturating_duration_since(start);
            let outage = Outage::begin(self, &draw.address, draw.fault);
            rt.sleep(draw.outage).await;
            drop(outage);
            let ended = rt.now().saturating_duration_since(start);
            played.push(Injected {
                at,
                address: draw.address,
                fault: draw.fault,
                outage: ended.saturating_sub(at),
            });
        }
        Ok(played)
    }

    /// Cuts `address` off: every connection made to it breaks at once (as by a reset: reads
    /// end, writes fail) and new ones are refused, until [`heal`](MemoryNet::heal).
    pub fn cut(&self, address: &str) {
        let mut net = self.net();
        net.cut.insert(address.to_string());
        let pipes: Vec<_> = net.links.remove(address).into_iter().flatten().collect();
        drop(net);
        pipes
            .iter()
            .filter_map(Weak::upgrade)
            .for_each(|p| p.lock().break_off());
    }

    /// Lets connections to `address` be made again.
    pub fn heal(&self, address: &str) {
        self.net().cut.remove(address);
    }

    /// Silences every connection to `address`, both ways, and those made to it from now on,
    /// until [`release`](MemoryNet::release): nothing breaks, nothing arrives.
    pub fn hold(&self, address: &str) {
        self.set_held(address, true);
    }

    /// Lets the connections to `address` deliver again what they hold.
    pub fn release(&self, address: &str) {
        self.set_held(address, false);
    }

    fn set_held(&self, address: &str, held: bool) {
        let mut net = self.net();
        match held {
            true => net.held.insert(address.to_string()),
            false => net.held.remove(address),
        };
        let pipes: Vec<_> = net
            .links
            .get(address)
            .into_iter()
            .flatten()
            .cloned()
            .collect();
        drop(net);
        pipes
            .iter()
            .filter_map(Weak::upgrade)
            .for_each(|p| p.lock().hold(held));
    }

    fn net(&self) -> MutexGuard<'_, Net> {
        self.net.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A fault of a [`Chaos`] plan in progress; it ends when dropped.
struct Outage<'a> {
    net: &'a MemoryNet,
    address: &'a str,
    fault: Fault,
}

impl<'a> Outage<'a> {
    fn begin(net: &'a MemoryNet, address: &'a str, fault: Fault) -> Self {
        match fault {
            Fault::Crash => net.cut(address),
            Fault::Partition => net.hold(address),
        }
        Outage {
            net,
            address,
            fault,
        }
    }
}

impl Drop for Outage<'_> {
    fn drop(&mut self) {
        match self.fault {
            Fault::Crash => self.net.heal(self.address),
            Fault::Partition => self.net.release(self.address),
        }
    }
}

impl Transport for MemoryNet {
    type Stream = MemoryStream;
    type Listener = MemoryListener;

    async fn connect(&self, address: &str) -> io::Result<MemoryStream> {
        let mut net = self.net();
        let backlog = net.listeners.get(address).cloned();
        let backlog = backlog.filter(|_| !net.cut.contains(address));
        let backlog = backlog.ok_or(io::ErrorKind::ConnectionRefused)?;
        net.next_caller += 1;
        let from = format!("memory-caller-{}", net.next_caller);
        let capacity = self.capacity.unwrap_or(PIPE_CAPACITY);
        let held = net.held.contains(address);
        let (ours, theirs) = (pipe(capacity, held), pipe(capacity, held));
        let links = net.links.entry(address.to_string()).or_default();
        links.retain(|pipe| pipe.strong_count() > 0);
        links.extend([Arc::downgrade(&ours), Arc::downgrade(&theirs)]);
        drop(net);
        let (latency, loss) = (self.latency.clone(), self.loss.clone());
        let server = MemoryStream::new(ours.clone(), theirs.clone(), latency, loss);
        let mut waiting = backlog.lock();
        waiting.waiting.push_back((server, from));
        let acceptor = waiting.acceptor.take();
        drop(waiting);
        wake(acceptor);
        let (latency, loss) = (self.latency.clone(), self.loss.clone());
        Ok(MemoryStream::new(theirs, ours, latency, loss))
    }

    async fn bind(&self, address: &str) -> io::Result<MemoryListener> {
        let mut net = self.net();
        let address = match address.rsplit_once(':') {
            Some((host, "0")) => {
                net.next_port += 1;
                format!("{host}:{}", 40_000 + net.next_port)
            }
            _ => address.to_string(),
        };
        if net.listeners.contains_key(&address) {
            return Err(io::ErrorKind::AddrInUse.into());
        }
        let backlog = Arc::new(Locked::default());
        net.listeners.insert(address.clone(), backlog.clone());
        let net = self.clone();
        Ok(MemoryListener {
            address,
            backlog,
            net,
        })
    }
}

impl Listener for MemoryListener {
    type Stream = MemoryStream;

    async fn accept(&mut self) -> io::Result<(MemoryStream, String)> {
        std::future::poll_fn(|cx| {
            let mut backlog = self.backlog.lock();
            match backlog.waiting.pop_front() {
                Some(accepted) => Poll::Ready(Ok(accepted)),
                None => {
                    backlog.acceptor = Some(cx.waker().clone());
                    Poll::Pending
                }
            }
        })
        .await
    }

    fn local_address(&self) -> io::Result<String> {
        Ok(self.address.clone())
    }
}

impl Drop for MemoryListener {
    fn drop(&mut self) {
        let removed = self.net.net().listeners.remove(&self.address);
        let waiting = std::mem::take(&mut self.backlog.lock().waiting);
        drop((removed, waiting));
    }
}

impl fmt::Debug for MemoryNet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let listeners: Vec<String> = self.net().listeners.keys().cloned().collect();
        f.debug_struct("MemoryNet")
            .field("listeners", &listeners)
            .field("latency", &self.latency.as_ref().map(|l| l.min))
            .field(
                "loss_per_million",
                &self.loss.as_ref().map(|l| l.per_million),
            )
            .finish()
    }
}

impl fmt::Debug for MemoryListener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryListener")
            .field("address", &self.address)
            .finish()
    }
}
