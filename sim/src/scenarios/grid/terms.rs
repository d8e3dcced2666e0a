//! The record of leadership terms the leader scenarios keep, and its checks: terms never
//! overlap, fences grow with every term, and a new leader follows a fault within a lease.

use std::sync::{Arc, Mutex as StdMutex};
use std::time::Duration;

use sigrelay::grid::Fence;

/// A term: who, its fence, from when, until when (since the run's start).
#[derive(Debug, Clone, Copy)]
pub(super) struct Held {
    pub(super) who: usize,
    pub(super) fence: Fence,
    pub(super) from: Duration,
    pub(super) until: Option<Duration>,
}

/// Every term so far, in the order they began.
#[derive(Debug, Clone, Default)]
pub(super) struct Terms(Arc<StdMutex<Vec<Held>>>);

impl Terms {
    fn held(&self) -> std::sync::MutexGuard<'_, Vec<Held>> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Records that `who` leads with `fence` from now on `clock`; the guard records the end,
    /// however the leader's future ends (returned, dropped, or its host crashed).
    pub(super) fn open(
        &self,
        who: usize,
        fence: Fence,
        clock: impl Fn() -> Duration + Send + 'static,
    ) -> TermGuard {
        let from = clock();
        let mut held = self.held();
        held.push(Held {
            who,
            fence,
            from,
            until: None,
        });
        TermGuard {
            terms: self.clone(),
            index: held.len() - 1,
            clock: Box::new(clock),
        }
    }

    /// Every term so far.
    pub(super) fn all(&self) -> Vec<Held> {
        self.held().clone()
    }

    /// The leader whose term is open, if any.
    pub(super) fn current(&self) -> Option<usize> {
        self.held()
            .iter()
            .rev()
            .find(|t| t.until.is_none())
            .map(|t| t.who)
    }

    /// Each term ended before the next began, with a larger fence.
    pub(super) fn check_never_two(&self) -> Result<(), String> {
        let terms = self.all();
        for pair in terms.windows(2) {
            let (old, new) = (pair[0], pair[1]);
            let Some(ended) = old.until else {
                return Err(format!("two leaders at once: node-{} (fence {}) still led when node-{} (fence {}) began at {:?}", old.who, old.fence.0, new.who, new.fence.0, new.from));
            };
            if ended > new.from {
                return Err(format!(
                    "two leaders at once: node-{} (fence {}) led until {ended:?}, node-{} (fence {}) from {:?}",
                    old.who, old.fence.0, new.who, new.fence.0, new.from
                ));
            }
            if new.fence <= old.fence {
                return Err(format!("fences did not grow: {terms:?}"));
            }
        }
        Ok(())
    }

    /// Some node other than `lost` began a term within `within` after `at`.
    pub(super) fn check_failover(
        &self,
        lost: usize,
        at: Duration,
        within: Duration,
    ) -> Result<(), String> {
        let terms = self.all();
        let next = terms.iter().find(|t| t.who != lost && t.from >= at);
        let next = next
            .ok_or_else(|| format!("no leader after node-{lost} was lost at {at:?}: {terms:?}"))?;
        match next.from <= at + within {
            true => Ok(()),
            false => Err(format!(
                "failover took longer than a lease: node-{lost} lost at {at:?}, {terms:?}"
            )),
        }
    }
}

/// Records a term's end when dropped.
pub(super) struct TermGuard {
    terms: Terms,
    index: usize,
    clock: Box<dyn Fn() -> Duration + Send>,
}

impl Drop for TermGuard {
    fn drop(&mut self) {
        let at = (self.clock)();
        self.terms.held()[self.index].until = Some(at);
    }
}
