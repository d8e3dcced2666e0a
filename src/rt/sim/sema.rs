//! The counting semaphore of the simulation backends, with tokio's fairness: requests are
//! served in order, and the request at the head collects released permits one by one, so a
//! request for many is not starved by a stream of requests for few.

use std::collections::VecDeque;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

use super::report::{Side, WaitOp};
use super::{Anchor, Model};
use crate::rt::handles;

/// A queued request: how many permits it still needs, how many it has collected.
struct Request {
    ticket: u64,
    needed: usize,
    collected: usize,
    waker: Waker,
}

struct State {
    available: usize,
    queue: VecDeque<Request>,
    next_ticket: u64,
}

impl State {
    /// Hands free permits to queued requests in order; returns the wakers of the requests
    /// now complete.
    fn hand_out(&mut self) -> Vec<Waker> {
        let mut done = Vec::new();
        for request in self.queue.iter_mut() {
            let want = request.needed - request.collected;
            if want == 0 {
                continue;
            }
            let given = want.min(self.available);
            self.available -= given;
            request.collected += given;
            if request.collected < request.needed {
                break;
            }
            done.push(request.waker.clone());
        }
        done
    }

    fn position(&self, ticket: u64) -> Option<usize> {
        self.queue.iter().position(|r| r.ticket == ticket)
    }
}

/// A fair counting semaphore on the checker's lock.
pub struct SimSemaphore<M: Model> {
    state: M::Lock<State>,
    anchor: Anchor<M>,
}

/// Permits of a [`SimSemaphore`], released when dropped. Each permit is an endpoint of the
/// semaphore's resource, so a deadlock report names the tasks holding permits.
#[must_use = "the permits are released as soon as they are dropped"]
pub struct SimSemaphorePermit<'a, M: Model> {
    semaphore: &'a SimSemaphore<M>,
    count: usize,
    endpoint: u64,
}

/// A pending acquisition; gives back what it collected when dropped.
#[must_use = "futures do nothing unless awaited"]
struct Acquire<'a, M: Model> {
    semaphore: &'a SimSemaphore<M>,
    needed: usize,
    ticket: Option<u64>,
}

impl<M: Model> SimSemaphore<M> {
    pub(super) fn new(anchor: Anchor<M>, permits: usize) -> Self {
        let state = State {
            available: permits,
            queue: VecDeque::new(),
            next_ticket: 0,
        };
        Self {
            state: M::new_lock(state),
            anchor,
        }
    }

    fn permit(&self, count: usize) -> SimSemaphorePermit<'_, M> {
        let endpoint = self.anchor.endpoint(Side::Tx);
        let me = self.anchor.me();
        self.anchor.touch(me, endpoint, Side::Tx);
        SimSemaphorePermit {
            semaphore: self,
            count,
            endpoint,
        }
    }

    fn release(&self, n: usize) {
        let woken = M::with(&self.state, |s| {
            s.available += n;
            s.hand_out()
        });
        woken.into_iter().for_each(Waker::wake);
    }
}

impl<'a, M: Model> Future for Acquire<'a, M> {
    type Output = SimSemaphorePermit<'a, M>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let (semaphore, needed) = (this.semaphore, this.needed);
        let (granted, woken) = M::with(&semaphore.state, |s| {
            if let Some(i) = this.ticket.and_then(|t| s.position(t)) {
                if s.queue[i].collected == needed {
                    s.queue.remove(i);
                    return (true, Vec::new());
                }
                s.queue[i].waker = cx.waker().clone();
                return (false, Vec::new());
            }
            if needed == 0 || (s.queue.is_empty() && s.available >= needed) {
                s.available -= needed;
                return (true, Vec::new());
            }
            s.next_ticket += 1;
            this.ticket = Some(s.next_ticket);
            s.queue.push_back(Request {
                ticket: s.next_ticket,
                needed,
                collected: 0,
                waker: cx.waker().clone(),
            });
            (false, s.hand_out())
        });
        woken.into_iter().for_each(Waker::wake);
        if granted {
            this.ticket = None;
            return Poll::Ready(semaphore.permit(needed));
        }
        let me = semaphore.anchor.me();
        semaphore.anchor.wait(me, WaitOp::Acquire);
        Poll::Pending
    }
}

impl<M: Model> Drop for Acquire<'_, M> {
    fn drop(&mut self) {
        let Some(ticket) = self.ticket.take() else {
            return;
        };
        let woken = M::with(&self.semaphore.state, |s| {
            let request = s.position(ticket).and_then(|i| s.queue.remove(i))?;
            s.available += request.collected;
            Some(s.hand_out())
        });
        woken.into_iter().flatten().for_each(Waker::wake);
    }
}

impl<M: Model> handles::Semaphore for SimSemaphore<M> {
    type Permit<'a>
        = SimSemaphorePermit<'a, M>
    where
        Self: 'a;

    fn acquire(&self, n: usize) -> impl Future<Output = SimSemaphorePermit<'_, M>> + Send {
        Acquire {
            semaphore: self,
            needed: n,
            ticket: None,
        }
    }

    fn try_acquire(&self, n: usize) -> Option<SimSemaphorePermit<'_, M>> {
        let taken = M::with(&self.state, |s| {
            let free = s.available >= n && s.queue.iter().all(|r| r.collected == r.needed);
            s.available -= if free { n } else { 0 };
            free
        });
        taken.then(|| self.permit(n))
    }

    fn add_permits(&self, n: usize) {
        self.release(n);
    }

    fn available_permits(&self) -> usize {
        M::with(&self.state, |s| s.available)
    }
}

impl<M: Model> Drop for SimSemaphorePermit<'_, M> {
    fn drop(&mut self) {
        self.semaphore.anchor.resource.release(self.endpoint);
        self.semaphore.release(self.count);
    }
}

impl<M: Model> fmt::Debug for SimSemaphore<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("SimSemaphore").field(&self.anchor).finish()
    }
}

impl<M: Model> fmt::Debug for SimSemaphorePermit<'_, M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SimSemaphorePermit")
            .field("semaphore", &self.semaphore.anchor)
            .field("count", &self.count)
            .finish()
    }
}
