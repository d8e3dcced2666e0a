//! The delta's connected subscribers, in id order, in one vector: a fan-out walks it front
//! to back, the order of every fan-out, without a tree's pointer chasing; a control request
//! finds its subscriber by bisection and shifts the rest, which costs what a connect or a
//! disconnect may cost and no frame. Beside it, the span of each subscriber's keys, packed:
//! a fan-out scans the spans for those that meet the frame's and looks at no other
//! subscriber, so a frame for one of many streamers costs a few comparisons per other one.
//! A subscriber's keys change only through the table, which keeps its span in step.

use std::sync::Arc;

use super::delivery::Subscriber;
use super::keys::{meets, Keys};
use crate::rt::Runtime;

/// A subscriber's identity, unique among those connected.
pub type SubscriberId = u64;

/// The connected subscribers in id order.
pub(super) struct Table<R: Runtime> {
    subscribers: Vec<(SubscriberId, Subscriber<R>)>,
    /// The span of each subscriber's keys, at the subscriber's position.
    spans: Vec<Option<(u32, u32)>>,
}

impl<R: Runtime> Table<R> {
    pub(super) fn new() -> Self {
        Table {
            subscribers: Vec::new(),
            spans: Vec::new(),
        }
    }

    fn position(&self, id: SubscriberId) -> Result<usize, usize> {
        self.subscribers.binary_search_by_key(&id, |(at, _)| *at)
    }

    /// Connects `subscriber` as `id`, unless `id` is connected: then it is handed back.
    pub(super) fn insert(
        &mut self,
        id: SubscriberId,
        subscriber: Subscriber<R>,
    ) -> Result<(), Subscriber<R>> {
        match self.position(id) {
            Ok(_) => Err(subscriber),
            Err(at) => {
                self.spans.insert(at, subscriber.keys.span());
                self.subscribers.insert(at, (id, subscriber));
                Ok(())
            }
        }
    }

    /// Subscriber `id`, whose keys it leaves as they are: [`set_keys`](Self::set_keys)
    /// changes them.
    pub(super) fn get_mut(&mut self, id: SubscriberId) -> Option<&mut Subscriber<R>> {
        let at = self.position(id).ok()?;
        Some(&mut self.subscribers[at].1)
    }

    /// Replaces subscriber `id`'s keys; false if it is not connected.
    pub(super) fn set_keys(&mut self, id: SubscriberId, keys: Arc<Keys>) -> bool {
        let Ok(at) = self.position(id) else {
            return false;
        };
        self.spans[at] = keys.span();
        self.subscribers[at].1.keys = keys;
        true
    }

    pub(super) fn contains(&self, id: SubscriberId) -> bool {
        self.position(id).is_ok()
    }

    pub(super) fn remove(&mut self, id: SubscriberId) -> Option<Subscriber<R>> {
        let at = self.position(id).ok()?;
        self.spans.remove(at);
        Some(self.subscribers.remove(at).1)
    }

    pub(super) fn clear(&mut self) {
        self.spans.clear();
        self.subscribers.clear();
    }

    /// Every subscriber, in id order.
    pub(super) fn subscribers_mut(&mut self) -> impl Iterator<Item = &mut Subscriber<R>> {
        self.subscribers.iter_mut().map(|(_, s)| s)
    }

    /// The position of the first subscriber of id `from` or above.
    pub(super) fn first_from(&self, from: SubscriberId) -> usize {
        match self.subscribers.first() {
            Some((first, _)) if *first >= from => 0,
            _ => self.position(from).unwrap_or_else(|at| at),
        }
    }

    /// The first subscriber at position `at` or later whose keys' span meets `low` to
    /// `high`, with its position and id.
    pub(super) fn next_meeting(
        &mut self,
        at: usize,
        low: u32,
        high: u32,
    ) -> Option<(usize, SubscriberId, &mut Subscriber<R>)> {
        let spans = self.spans.get(at..)?;
        let found = at + spans.iter().position(|&span| meets(span, low, high))?;
        let (id, subscriber) = &mut self.subscribers[found];
        Some((found, *id, subscriber))
    }
}
