//! The delta's shared state and the fan-out itself, run in the task that brings the frame:
//! a writer's (free channels, and leased ones through storage's gateway subscription) or
//! the delta's own, for what peer taps feed its inlet. A frame takes one hop, from the task
//! that wrote it to the subscribers' outlets.
//!
//! Two locks. The *turn* orders fan-outs: whoever holds it fans one frame (or gap marker)
//! out, and holds it across a wait for room in a full outlet, so every subscriber sees the
//! frames of a channel in the order their fan-outs took the turn. The *table* holds the
//! subscribers, under a lock held for no await ([`SyncLock`](crate::rt::SyncLock)): by a
//! fan-out for its offers between two waits, and by control requests, which never take the
//! turn.
//!
//! # Why a fan-out cannot deadlock with its subscribers
//! The Go original's B1: a streamer stopped reading, the delta blocked sending into its
//! full outlet, and the streamer blocked sending its disconnect to the delta. Here a control
//! request (connect, key update, disconnect) takes only the table, which no one holds across
//! an await, so it is served whatever a fan-out waits on. A disconnect of the subscriber the
//! fan-out waits on wakes it (`changed`), and the wait ends; so does the delta's stop. So
//! the only lasting wait is the turn holder's on a subscriber that is alive, connected,
//! lossless and not reading — that subscriber's choice, not a cycle — and those waiting for
//! the turn are fan-outs, which hold nothing a control request needs.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use super::delivery::{Delivery, Inflow, Policy};
use super::reached;
use crate::bugs::{Bug, Bugs};
use crate::frame::{ChannelKey, Frame, WriterGroup};
use crate::rt::prelude::*;
use crate::rt::{coverage, TrySendError};

/// A subscriber's identity, unique among those connected.
pub type SubscriberId = u64;

pub(super) struct Subscriber<R: Runtime> {
    pub(super) keys: Arc<BTreeSet<ChannelKey>>,
    pub(super) exclude: BTreeSet<WriterGroup>,
    pub(super) policy: Policy,
    pub(super) outlet: R::Sender<Delivery>,
    pub(super) missed: u64,
    pub(super) interrupted: bool,
}

impl<R: Runtime> Subscriber<R> {
    fn wants(&self, frame: &Frame) -> bool {
        let excluded = frame.group().is_some_and(|g| self.exclude.contains(&g));
        !excluded && frame.touches(&self.keys)
    }

    fn delivery(&self, frame: &Frame) -> Delivery {
        Delivery {
            frame: frame.clone(),
            keys: self.keys.clone(),
            missed: self.missed,
            interrupted: self.interrupted,
        }
    }

    fn delivered(&mut self) {
        (self.missed, self.interrupted) = (0, false);
    }
}

/// The connected subscribers, in id order: the order of every fan-out.
pub(super) type Table<R> = BTreeMap<SubscriberId, Subscriber<R>>;

/// A subscriber whose outlet was full, and what it is owed.
struct Full<R: Runtime> {
    id: SubscriberId,
    outlet: R::Sender<Delivery>,
    policy: Policy,
    delivery: Delivery,
}

/// Why the delta refused a request: it has stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Stopped;

/// What the delta's handles and its task share.
pub(super) struct Shared<R: Runtime> {
    pub(super) rt: R,
    table: R::SyncLock<Table<R>>,
    turn: R::Mutex<()>,
    changed: R::Notify,
    stopped: AtomicBool,
    bugs: AtomicU64,
}

impl<R: Runtime> Shared<R> {
    #[track_caller]
    pub(super) fn new(rt: R) -> Self {
        Shared {
            table: rt.sync_lock("delta:subscribers", BTreeMap::new()),
            turn: rt.mutex("delta:fan-out", ()),
            changed: rt.notify("delta:changed"),
            stopped: AtomicBool::new(false),
            bugs: AtomicU64::new(Bugs::NONE.bits()),
            rt,
        }
    }

    pub(super) fn set_bugs(&self, bugs: Bugs) {
        self.bugs.store(bugs.bits(), Ordering::Relaxed);
    }

    pub(super) fn bugs(&self) -> Bugs {
        Bugs::from_bits(self.bugs.load(Ordering::Relaxed))
    }

    fn stopped(&self) -> bool {
        self.stopped.load(Ordering::SeqCst)
    }

    /// Runs `apply` on the table, unless the delta has stopped: a stopped delta holds no
    /// subscriber, so every outlet closes once read.
    pub(super) fn with_table<T>(
        &self,
        apply: impl FnOnce(&mut Table<R>) -> T,
    ) -> Result<T, Stopped> {
        self.table.with(|table| match self.stopped() {
            true => Err(Stopped),
            false => Ok(apply(table)),
        })
    }

    /// Waits, before a control request, for nothing — unless B1 is reintroduced: then for
    /// the fan-out in progress to end, as the original's delta served no control request
    /// while a send waited.
    pub(super) async fn control_turn(&self) {
        if self.bugs().has(Bug::B1DisconnectThenDrain) {
            drop(self.turn.lock().await);
        }
    }

    /// Wakes a fan-out waiting for room: a subscriber left, or the delta stopped.
    pub(super) fn changed(&self) {
        self.changed.notify_one();
    }

    /// Stops the delta: every later request is refused, every outlet closes once read, and
    /// a fan-out waiting for room stops waiting.
    pub(super) fn stop(&self) {
        if !self.stopped.swap(true, Ordering::SeqCst) {
            self.table.with(Table::clear);
            self.changed();
        }
    }

    /// Fans `inflow` out in the caller's task, in its turn; handed back if the delta has
    /// stopped.
    pub(super) async fn offer(&self, inflow: Inflow) -> Result<(), Inflow> {
        let _turn = self.turn.lock().await;
        if self.stopped() {
            return Err(inflow);
        }
        match inflow {
            Inflow::Frame(frame) => self.fan_out(&frame).await,
            Inflow::Gap(keys) => self.mark_gap(&keys),
        }
        Ok(())
    }

    /// Marks the next delivery of every subscriber of one of `keys` as interrupted.
    fn mark_gap(&self, keys: &BTreeSet<ChannelKey>) {
        let _ = self.with_table(|table| {
            let touched = table.values_mut().filter(|s| !s.keys.is_disjoint(keys));
            touched.for_each(|s| s.interrupted = true);
        });
    }

    /// Offers `frame` to every subscriber it touches, in id order, waiting where an outlet
    /// is full as the subscriber's policy allows.
    async fn fan_out(&self, frame: &Frame) {
        let (start, mut from) = (self.rt.now(), 0);
        loop {
            let full = self.with_table(|table| offer_from(table, from, frame));
            let Ok(Some(full)) = full else {
                return;
            };
            let id = full.id;
            let timed_out = self.wait_for_room(full, start).await;
            if timed_out && self.bugs().has(Bug::B2bTimeoutSkipsLaterStreamers) {
                return;
            }
            match id.checked_add(1) {
                Some(next) => from = next,
                None => return,
            }
        }
    }

    /// Waits for room in a full outlet as its subscriber's policy allows, holding only the
    /// turn; the subscriber's disconnect or the delta's stop ends the wait. True if the
    /// patience ran out.
    async fn wait_for_room(&self, full: Full<R>, start: R::Instant) -> bool {
        let Full {
            id,
            outlet,
            policy,
            delivery,
        } = full;
        let deadline = match policy {
            Policy::Lossy { .. } if self.bugs().has(Bug::B2SlowStreamerBlocksFanOut) => None,
            Policy::Lossless => None,
            Policy::Lossy { patience } => Some(start + patience),
        };
        if deadline.is_some_and(|at| at <= self.rt.now()) {
            return self.miss(id);
        }
        loop {
            crate::select! {
                permit = outlet.reserve() => {
                    if let Ok(permit) = permit {
                        permit.send(delivery);
                        let delivered = |t: &mut Table<R>| t.get_mut(&id).map(Subscriber::delivered);
                        let _ = self.with_table(delivered);
                    }
                    return false;
                }
                () = self.changed.notified() => {
                    let here = self.with_table(|t| t.contains_key(&id));
                    if here != Ok(true) {
                        coverage::reached(reached::DISCONNECT_WHILE_OUTLET_FULL);
                        return false;
                    }
                }
                () = sleep_until(&self.rt, deadline) => break,
            }
        }
        self.miss(id)
    }

    /// Subscriber `id` misses the frame: its patience ran out (or was zero, and no time is
    /// spent on a timer that has already expired). True, for [`fan_out`](Self::fan_out).
    fn miss(&self, id: SubscriberId) -> bool {
        let _ = self.with_table(|table| {
            if let Some(subscriber) = table.get_mut(&id) {
                coverage::reached(reached::LOSSY_PATIENCE_RAN_OUT);
                subscriber.missed += 1;
            }
        });
        true
    }
}

/// Offers `frame` to the subscribers from id `from` on until one's outlet is full, and
/// returns that one; a subscriber whose outlet is gone is dropped.
fn offer_from<R: Runtime>(
    table: &mut Table<R>,
    mut from: SubscriberId,
    frame: &Frame,
) -> Option<Full<R>> {
    loop {
        let mut gone = None;
        for (&id, subscriber) in table.range_mut(from..) {
            if !subscriber.wants(frame) {
                continue;
            }
            match subscriber.outlet.try_send(subscriber.delivery(frame)) {
                Ok(()) => subscriber.delivered(),
                Err(TrySendError::Closed(_)) => {
                    gone = Some(id);
                    break;
                }
                Err(TrySendError::Full(delivery)) => {
                    let (outlet, policy) = (subscriber.outlet.clone(), subscriber.policy);
                    return Some(Full {
                        id,
                        outlet,
                        policy,
                        delivery,
                    });
                }
            }
        }
        let id = gone?;
        table.remove(&id);
        from = id.checked_add(1)?;
    }
}

/// Sleeps until `deadline`, or forever without one.
async fn sleep_until<R: Runtime>(rt: &R, deadline: Option<R::Instant>) {
    match deadline {
        Some(deadline) => rt.sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}
