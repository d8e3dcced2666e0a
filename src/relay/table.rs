//! The delta's connected subscribers, in id order, in one vector: a fan-out walks it front
//! to back, the order of every fan-out, without a tree's pointer chasing; a control request
//! finds its subscriber by bisection and shifts the rest, which costs what a connect or a
//! disconnect may cost and no frame.

use super::delivery::Subscriber;
use crate::rt::Runtime;

/// A subscriber's identity, unique among those connected.
pub type SubscriberId = u64;

/// The connected subscribers in id order.
pub(super) struct Table<R: Runtime> {
    subscribers: Vec<(SubscriberId, Subscriber<R>)>,
}

impl<R: Runtime> Table<R> {
    pub(super) fn new() -> Self {
        Table {
            subscribers: Vec::new(),
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
                self.subscribers.insert(at, (id, subscriber));
                Ok(())
            }
        }
    }

    pub(super) fn get_mut(&mut self, id: SubscriberId) -> Option<&mut Subscriber<R>> {
        let at = self.position(id).ok()?;
        Some(&mut self.subscribers[at].1)
    }

    pub(super) fn contains(&self, id: SubscriberId) -> bool {
        self.position(id).is_ok()
    }

    pub(super) fn remove(&mut self, id: SubscriberId) -> Option<Subscriber<R>> {
        let at = self.position(id).ok()?;
        Some(self.subscribers.remove(at).1)
    }

    pub(super) fn clear(&mut self) {
        self.subscribers.clear();
    }

    /// The subscribers of id `from` on, in id order.
    pub(super) fn starting_at(
        &mut self,
        from: SubscriberId,
    ) -> &mut [(SubscriberId, Subscriber<R>)] {
        let at = match self.subscribers.first() {
            Some((first, _)) if *first >= from => 0,
            _ => self.position(from).unwrap_or_else(|at| at),
        };
        &mut self.subscribers[at..]
    }
}
