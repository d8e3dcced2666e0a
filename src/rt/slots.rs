//! The bookkeeping of a bounded multi-producer, single-consumer channel, shared by the
//! simulation backends' channel and tokio's: the buffer, the reserved slots, the FIFO queue
//! of waiting senders and the senders watching for the receiver to go. The backends hold it
//! under their own lock and wake the wakers it hands back once that lock is released.
//!
//! Senders wait in FIFO order, as with tokio's semaphore: a sender that finds others queued
//! queues behind them even if a slot is free, so no sender starves. Each freed slot wakes
//! the head of the queue; a queued sender that is dropped leaves the queue and wakes the
//! next one ([`Slots::pass_turn`]), so no wake-up is lost to a cancelled send.

use std::collections::VecDeque;
use std::task::Waker;

use super::TrySendError;

/// The most slots a channel allocates up front; a larger buffer grows as it fills, once.
const PREALLOCATED: usize = 1024;

pub(crate) struct Slots<T> {
    pub(crate) buffer: VecDeque<T>,
    capacity: usize,
    pub(crate) senders: usize,
    pub(crate) receiver_open: bool,
    pub(crate) receiver: Option<Waker>,
    pub(crate) queue: VecDeque<(u64, Waker)>,
    next_ticket: u64,
    pub(crate) reserved: usize,
    /// Senders waiting for the receiver to go, by ticket.
    pub(crate) watching: Vec<(u64, Waker)>,
}

/// What [`Slots::turn`] found.
pub(crate) enum Turn {
    /// The receiver is gone.
    Closed,
    /// A slot is the sender's to take now.
    Mine,
    /// The sender waits in the queue.
    Queued,
}

impl<T> Slots<T> {
    /// A channel of `capacity` slots with one sender and its receiver.
    pub(crate) fn new(capacity: usize) -> Self {
        Slots {
            buffer: VecDeque::with_capacity(capacity.min(PREALLOCATED)),
            capacity,
            senders: 1,
            receiver_open: true,
            receiver: None,
            queue: VecDeque::new(),
            next_ticket: 0,
            reserved: 0,
            watching: Vec::new(),
        }
    }

    pub(crate) fn has_room(&self) -> bool {
        self.buffer.len() + self.reserved < self.capacity
    }

    /// The head of the sender queue, to wake, if a slot is free for it.
    pub(crate) fn next_sender(&self) -> Option<Waker> {
        self.queue
            .front()
            .filter(|_| self.has_room())
            .map(|(_, w)| w.clone())
    }

    fn leave_queue(&mut self, ticket: u64) {
        self.queue.retain(|(t, _)| *t != ticket);
    }

    /// The turn of the sender holding `ticket`: it may take a slot if the receiver is open,
    /// no sender is queued ahead of it and there is room; otherwise it queues (once, with
    /// `waker`). A sender that is done with the queue leaves it and gives its ticket up.
    pub(crate) fn turn(&mut self, ticket: &mut Option<u64>, waker: &Waker) -> Turn {
        let my_turn = self.queue.front().is_none_or(|(t, _)| Some(*t) == *ticket);
        if !self.receiver_open || (my_turn && self.has_room()) {
            ticket.take().inspect(|t| self.leave_queue(*t));
            return if self.receiver_open {
                Turn::Mine
            } else {
                Turn::Closed
            };
        }
        let ticket = *ticket.get_or_insert_with(|| self.ticket());
        match self.queue.iter_mut().find(|(t, _)| *t == ticket) {
            Some(entry) => entry.1 = waker.clone(),
            None => self.queue.push_back((ticket, waker.clone())),
        }
        Turn::Queued
    }

    /// A reservation's step: reserves a slot if it is the turn of the sender holding
    /// `ticket`, and returns the next sender to wake if room is left for it; `None` while
    /// the sender queues, `Err` once the receiver is gone.
    pub(crate) fn reserve(
        &mut self,
        ticket: &mut Option<u64>,
        waker: &Waker,
    ) -> Option<Result<Option<Waker>, ()>> {
        match self.turn(ticket, waker) {
            Turn::Closed => Some(Err(())),
            Turn::Queued => None,
            Turn::Mine => {
                self.reserved += 1;
                Some(Ok(self.next_sender()))
            }
        }
    }

    /// A send that does not wait: buffers `value` if the receiver is open, nobody is queued
    /// and there is room, and returns the receiver to wake; hands the value back otherwise.
    pub(crate) fn try_push(&mut self, value: T) -> Result<Option<Waker>, TrySendError<T>> {
        if !self.receiver_open {
            return Err(TrySendError::Closed(value));
        }
        if !self.queue.is_empty() || !self.has_room() {
            return Err(TrySendError::Full(value));
        }
        Ok(self.push(value))
    }

    /// A permit's send: gives the reserved slot up and buffers `value` in it, returning the
    /// receiver to wake; hands the value back, to drop unlocked, if the receiver is gone.
    pub(crate) fn send_reserved(&mut self, value: T) -> Result<Option<Waker>, T> {
        self.reserved -= 1;
        match self.receiver_open {
            true => Ok(self.push(value)),
            false => Err(value),
        }
    }

    /// A permit dropped unused: frees its slot; returns the next sender to wake.
    pub(crate) fn unreserve(&mut self) -> Option<Waker> {
        self.reserved -= 1;
        self.next_sender()
    }

    /// A waiting sender dropped: leaves the queue; returns the sender whose turn it is now.
    pub(crate) fn pass_turn(&mut self, ticket: u64) -> Option<Waker> {
        self.leave_queue(ticket);
        self.next_sender()
    }

    /// Buffers `value`; returns the receiver to wake.
    pub(crate) fn push(&mut self, value: T) -> Option<Waker> {
        self.buffer.push_back(value);
        self.receiver.take()
    }

    /// Registers `waker` as the watcher holding `ticket` (given one if it has none yet).
    pub(crate) fn watch(&mut self, ticket: &mut Option<u64>, waker: &Waker) {
        let ticket = *ticket.get_or_insert_with(|| self.ticket());
        match self.watching.iter_mut().find(|(t, _)| *t == ticket) {
            Some(entry) => entry.1 = waker.clone(),
            None => self.watching.push((ticket, waker.clone())),
        }
    }

    /// Forgets the watcher holding `ticket`; returns its waker, to drop unlocked.
    pub(crate) fn unwatch(&mut self, ticket: u64) -> Option<Waker> {
        let at = self.watching.iter().position(|(t, _)| *t == ticket);
        at.map(|i| self.watching.swap_remove(i).1)
    }

    /// Refuses further sends and, if `discard`, takes what is buffered out; returns the
    /// queued and watching senders to wake (each then sees the closed channel) and the
    /// discarded values, both to be dropped with the lock released.
    pub(crate) fn shut(&mut self, discard: bool) -> (Vec<Waker>, VecDeque<T>) {
        self.receiver_open = false;
        let queued = self.queue.iter().map(|(_, w)| w.clone());
        let watching = self.watching.drain(..).map(|(_, w)| w);
        let senders = queued.chain(watching).collect();
        let discarded = match discard {
            true => std::mem::take(&mut self.buffer),
            false => VecDeque::new(),
        };
        (senders, discarded)
    }

    fn ticket(&mut self) -> u64 {
        self.next_ticket += 1;
        self.next_ticket
    }
}
