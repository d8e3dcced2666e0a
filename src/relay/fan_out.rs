//! The delta's shared state and the fan-out itself, run in the task that brings the frame:
//! a writer's (free channels, and leased ones through storage's gateway subscription) or
//! the delta's own, for what peer taps feed its inlet. A frame takes one hop, from the task
//! that wrote it to the subscribers' outlets.
//!
//! The *table* holds the subscribers under a lock held for no await
//! ([`SyncLock`](crate::rt::SyncLock)). The usual fan-out is one pass under it: the frame is
//! offered to every subscriber it touches and, every outlet having room, that is all — no
//! other lock, and no task woken but the streamers'. A fan-out that finds an outlet full
//! takes the *turn* (an asynchronous lock) in that same pass and holds it across its wait
//! for room. While one holds the turn or waits for it, every later fan-out is counted and
//! waits for the turn in order, so every subscriber sees the frames of a channel in the
//! order their fan-outs began. A place in the turn is given back guard first, count after,
//! so a count of zero always finds the turn free. Control requests take only the table.
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

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use super::delivery::{Delivery, Inflow, Policy, Subscriber};
use super::keys::frame_span;
use super::reached;
use super::table::{SubscriberId, Table};
use crate::bugs::{Bug, Bugs};
use crate::frame::{ChannelKey, Frame};
use crate::rt::prelude::*;
use crate::rt::{coverage, TrySendError};

/// The table, and how many fan-outs hold the turn or wait for it.
struct State<R: Runtime> {
    table: Table<R>,
    turns: usize,
}

/// What a fan-out found when it first took the table.
enum Begun<'a, R: Runtime> {
    /// Nothing left to do: every subscriber took the frame, or the gap is marked.
    Done,
    /// The delta has stopped.
    Stopped,
    /// Another fan-out holds the turn, or waits for it: this one is counted and waits too.
    Queued,
    /// An outlet was full: this fan-out has the turn (and is counted), and goes on from
    /// that subscriber once there is room.
    Full(Full<R>, Turn<'a, R>),
}

/// A fan-out's place in the turn, counted in [`State::turns`] from when it is taken until
/// it is dropped: the turn's guard first, then the count, so that a count of zero always
/// finds the turn free.
struct Turn<'a, R: Runtime> {
    shared: &'a Shared<R>,
    guard: Option<<R::Mutex<()> as crate::rt::Mutex<()>>::Guard<'a>>,
}

impl<R: Runtime> Drop for Turn<'_, R> {
    fn drop(&mut self) {
        drop(self.guard.take());
        self.shared.state.with(|s| s.turns -= 1);
    }
}

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
    state: R::SyncLock<State<R>>,
    turn: R::Mutex<()>,
    changed: R::Notify,
    stopped: AtomicBool,
    bugs: AtomicU64,
}

impl<R: Runtime> Shared<R> {
    #[track_caller]
    pub(super) fn new(rt: R) -> Self {
        Shared {
            state: rt.sync_lock(
                "delta:subscribers",
                State {
                    table: Table::new(),
                    turns: 0,
                },
            ),
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

    /// How many fan-outs hold the turn or wait for it.
    #[cfg(test)]
    pub(super) fn turns(&self) -> usize {
        self.state.with(|s| s.turns)
    }

    /// Holds the turn as a fan-out waiting for room does, without counting a place.
    #[cfg(test)]
    pub(super) async fn hold_turn(&self) -> impl Send + '_ {
        self.turn.lock().await
    }

    /// Runs `apply` on the table, unless the delta has stopped: a stopped delta holds no
    /// subscriber, so every outlet closes once read.
    pub(super) fn with_table<T>(
        &self,
        apply: impl FnOnce(&mut Table<R>) -> T,
    ) -> Result<T, Stopped> {
        self.state.with(|s| match self.stopped() {
            true => Err(Stopped),
            false => Ok(apply(&mut s.table)),
        })
    }

    /// Waits, before a control request, for nothing — unless B1 is reintroduced: then for
    /// the fan-out in progress to end, as the original's delta served no control request
    /// while a send waited.
    pub(super) async fn control_turn(&self) {
        if self.bugs().has(Bug::B1DisconnectThenDrain) {
            drop(self.queue().await);
        }
    }

    /// Counts a place in the turn and waits for it, behind every fan-out counted before.
    async fn queue(&self) -> Turn<'_, R> {
        self.state.with(|s| s.turns += 1);
        self.queue_counted().await
    }

    /// Wakes a fan-out waiting for room: a subscriber left, or the delta stopped.
    pub(super) fn changed(&self) {
        self.changed.notify_one();
    }

    /// Stops the delta: every later request is refused, every outlet closes once read, and
    /// a fan-out waiting for room stops waiting.
    pub(super) fn stop(&self) {
        if !self.stopped.swap(true, Ordering::SeqCst) {
            self.state.with(|s| s.table.clear());
            self.changed();
        }
    }

    /// Fans `inflow` out in the caller's task, after every fan-out that began before it;
    /// handed back if the delta has stopped.
    ///
    /// The usual fan-out is one pass under the table's lock, when no other fan-out holds
    /// the turn or waits for it and every outlet has room. Otherwise it takes the turn in
    /// that same pass — when the count is zero the turn is free — or, if others are
    /// counted, waits behind them; and with the turn it goes on as the policies allow.
    pub(super) async fn offer(&self, inflow: Inflow) -> Result<(), Inflow> {
        match self.state.with(|s| self.begin(s, &inflow)) {
            Begun::Done => Ok(()),
            Begun::Stopped => Err(inflow),
            Begun::Full(full, turn) => {
                let Inflow::Frame(frame) = &inflow else {
                    unreachable!("only a frame finds an outlet full")
                };
                let start = self.rt.now();
                if let Some(from) = self.wait_for_room_of(full, start).await {
                    self.fan_out(frame, from, start).await;
                }
                drop(turn);
                Ok(())
            }
            Begun::Queued => {
                let turn = self.queue_counted().await;
                if self.stopped() {
                    return Err(inflow);
                }
                match &inflow {
                    Inflow::Frame(frame) => self.fan_out(frame, 0, self.rt.now()).await,
                    Inflow::Gap(keys) => drop(self.with_table(|t| mark_gap(t, keys))),
                }
                drop(turn);
                Ok(())
            }
        }
    }

    /// The first pass of a fan-out, under the table's lock.
    fn begin<'a>(&'a self, s: &mut State<R>, inflow: &Inflow) -> Begun<'a, R> {
        if self.stopped() {
            return Begun::Stopped;
        }
        if s.turns > 0 {
            s.turns += 1;
            return Begun::Queued;
        }
        let frame = match inflow {
            Inflow::Gap(keys) => {
                mark_gap(&mut s.table, keys);
                return Begun::Done;
            }
            Inflow::Frame(frame) => frame,
        };
        let full = offer_from(&mut s.table, 0, frame);
        let Some(full) = full else {
            return Begun::Done;
        };
        let guard = self.turn.try_lock();
        assert!(
            guard.is_some(),
            "no fan-out is counted, so the turn is free"
        );
        s.turns += 1;
        let turn = Turn {
            shared: self,
            guard,
        };
        Begun::Full(full, turn)
    }

    /// Waits for the turn, already counted: the place is given back if this is dropped.
    async fn queue_counted(&self) -> Turn<'_, R> {
        let mut turn = Turn {
            shared: self,
            guard: None,
        };
        turn.guard = Some(self.turn.lock().await);
        turn
    }

    /// Waits for room in `full`'s outlet; the subscriber to go on from, unless B2b ends the
    /// fan-out there.
    async fn wait_for_room_of(&self, full: Full<R>, start: R::Instant) -> Option<SubscriberId> {
        let id = full.id;
        let timed_out = self.wait_for_room(full, start).await;
        if timed_out && self.bugs().has(Bug::B2bTimeoutSkipsLaterStreamers) {
            return None;
        }
        id.checked_add(1)
    }

    /// Offers `frame` to every subscriber it touches from id `from` on, in id order, waiting
    /// where an outlet is full as the subscriber's policy allows; the caller has the turn.
    async fn fan_out(&self, frame: &Frame, mut from: SubscriberId, start: R::Instant) {
        loop {
            let full = self.with_table(|table| offer_from(table, from, frame));
            let Ok(Some(full)) = full else {
                return;
            };
            match self.wait_for_room_of(full, start).await {
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
                        let delivered = |t: &mut Table<R>| t.get_mut(id).map(Subscriber::delivered);
                        let _ = self.with_table(delivered);
                    }
                    return false;
                }
                () = self.changed.notified() => {
                    let here = self.with_table(|t| t.contains(id));
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
            if let Some(subscriber) = table.get_mut(id) {
                coverage::reached(reached::LOSSY_PATIENCE_RAN_OUT);
                subscriber.missed += 1;
            }
        });
        true
    }
}

/// Marks the next delivery of every subscriber of one of `keys` as interrupted.
fn mark_gap<R: Runtime>(table: &mut Table<R>, keys: &BTreeSet<ChannelKey>) {
    let touched = table
        .subscribers_mut()
        .filter(|s| !s.keys.set.is_disjoint(keys));
    touched.for_each(|s| s.interrupted = true);
}

/// Offers `frame` to the subscribers from id `from` on until one's outlet is full, and
/// returns that one; a subscriber whose outlet is gone is dropped. Only subscribers whose
/// keys' span meets the frame's are looked at.
fn offer_from<R: Runtime>(
    table: &mut Table<R>,
    from: SubscriberId,
    frame: &Frame,
) -> Option<Full<R>> {
    let (low, high) = frame_span(frame)?;
    let mut at = table.first_from(from);
    while let Some((found, id, subscriber)) = table.next_meeting(at, low, high) {
        at = found + 1;
        let wanted = subscriber.find_within(frame, low, high);
        if !wanted.touches() {
            continue;
        }
        match subscriber
            .outlet
            .try_send(subscriber.delivery(frame, wanted))
        {
            Ok(()) => subscriber.delivered(),
            Err(TrySendError::Closed(_)) => {
                table.remove(id);
                at = found;
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
    None
}

/// Sleeps until `deadline`, or forever without one.
async fn sleep_until<R: Runtime>(rt: &R, deadline: Option<R::Instant>) {
    match deadline {
        Some(deadline) => rt.sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}
