//! The thread shuttle checks run on: one per calling thread, inside one long shuttle
//! `Runner` that serves check after check while they pass.
//!
//! Shuttle keeps its pool of task stacks for as long as one `Runner::run` lasts. A check
//! that started a runner of its own mapped, faulted in and unmapped a stack for every task
//! of every schedule, and a sweep of one-schedule checks on every core spent its time in the
//! kernel (each unmap stops every core that runs the process). So the checker thread runs a
//! single runner whose scheduler takes the checks in turn: the check being served picks the
//! schedules with its own scheduler, and the runner's test runs its body. After a failed
//! execution shuttle leaves the parked continuations of unfinished tasks behind: the runner
//! ends there, the thread is given up, and the next check starts a fresh one.

use std::cell::RefCell;
use std::collections::BTreeSet;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::rc::Rc;
use std::sync::{mpsc, Arc};

use ::shuttle::scheduler::{Schedule, Scheduler, Task, TaskId};
use ::shuttle::{Config, MaxSteps, Runner};
use shuttle_engine::runtime::execution::CurrentSchedule;
use shuttle_engine::scheduler::serialization::serialize_schedule;

use super::as_check;
use crate::rt::{coverage, panic_message};

/// Makes the scheduler of a check, on the checker thread (a bad replay schedule fails
/// there, as the check's failure).
pub(super) type MakeScheduler = Box<dyn FnOnce() -> Box<dyn Scheduler> + Send>;

/// One check: how its schedules are picked, and the body each of them runs.
pub(super) struct Check {
    pub(super) scheduler: MakeScheduler,
    pub(super) test: Arc<dyn Fn() + Send + Sync>,
    /// The caller's `tracing` subscriber, which the check's runs report to.
    pub(super) dispatch: tracing::Dispatch,
}

/// How a check ended, and the hard states its schedules reached (see [`coverage`]).
pub(super) struct Verdict {
    pub(super) outcome: Result<usize, Failed>,
    pub(super) reached: BTreeSet<&'static str>,
}

/// A failed execution: its panic message and its schedule.
pub(super) struct Failed {
    pub(super) message: String,
    pub(super) schedule: String,
}

struct Job {
    check: Check,
    verdict: mpsc::SyncSender<Verdict>,
}

thread_local! {
    static CHECKER: RefCell<Option<mpsc::Sender<Job>>> = const { RefCell::new(None) };
    /// On the checker thread: the body of the check being served.
    static BODY: RefCell<Option<Arc<dyn Fn() + Send + Sync>>> = const { RefCell::new(None) };
}

/// Runs `check` on this thread's checker thread; the thread is kept if the check passed.
pub(super) fn run(check: Check) -> Verdict {
    let (verdict, answer) = mpsc::sync_channel(1);
    let jobs = CHECKER
        .with(|checker| checker.borrow_mut().take())
        .unwrap_or_else(start);
    jobs.send(Job { check, verdict })
        .expect("a kept checker thread waits for checks");
    let verdict = answer
        .recv()
        .expect("the checker thread answers every check it takes");
    if verdict.outcome.is_ok() {
        CHECKER.with(|checker| *checker.borrow_mut() = Some(jobs));
    }
    verdict
}

fn start() -> mpsc::Sender<Job> {
    let (jobs, queue) = mpsc::channel::<Job>();
    std::thread::Builder::new()
        .name("shuttle-checker".into())
        .spawn(move || serve(queue))
        .expect("a checker thread starts");
    jobs
}

/// The checker thread: one runner over the checks from `queue` until one fails or the
/// calling thread is gone.
fn serve(queue: mpsc::Receiver<Job>) {
    let serving = Rc::new(RefCell::new(None));
    let turns = Turns {
        queue,
        serving: serving.clone(),
    };
    let mut config = Config::new();
    config.max_steps = MaxSteps::FailAfter(1_000_000);
    let body = || {
        (BODY
            .with(|b| b.borrow().clone())
            .expect("a check is being served"))()
    };
    let ((), reached) = as_check(|| {
        coverage::collect(|| {
            let ended = catch_unwind(AssertUnwindSafe(|| Runner::new(turns, config).run(body)));
            if let Err(payload) = ended {
                let failed = Failed {
                    message: panic_message(payload.as_ref()),
                    schedule: serialize_schedule(&CurrentSchedule::get_schedule()),
                };
                if let Some(check) = serving.borrow_mut().take() {
                    check.answer(Err(failed));
                }
            }
        })
    });
    debug_assert!(reached.is_empty(), "every check took what it reached");
}

/// The check being served.
struct Serving {
    scheduler: Box<dyn Scheduler>,
    iterations: usize,
    verdict: mpsc::SyncSender<Verdict>,
    _dispatch: tracing::dispatcher::DefaultGuard,
}

impl Serving {
    fn answer(self, outcome: Result<usize, Failed>) {
        BODY.with(|b| b.borrow_mut().take());
        let reached = coverage::drain();
        let _ = self.verdict.send(Verdict { outcome, reached });
    }
}

/// The runner's scheduler: the schedules of each check in turn.
struct Turns {
    queue: mpsc::Receiver<Job>,
    serving: Rc<RefCell<Option<Serving>>>,
}

impl Turns {
    /// Installs the next check whose scheduler can be made; `None` once the calling thread
    /// is gone.
    fn next_check(&mut self) -> Option<()> {
        loop {
            let Job { check, verdict } = self.queue.recv().ok()?;
            let scheduler = match catch_unwind(AssertUnwindSafe(check.scheduler)) {
                Ok(scheduler) => scheduler,
                Err(payload) => {
                    let message = panic_message(payload.as_ref());
                    let schedule = String::new();
                    let outcome = Err(Failed { message, schedule });
                    let reached = BTreeSet::new();
                    let _ = verdict.send(Verdict { outcome, reached });
                    continue;
                }
            };
            BODY.with(|b| *b.borrow_mut() = Some(check.test));
            let _dispatch = tracing::dispatcher::set_default(&check.dispatch);
            *self.serving.borrow_mut() = Some(Serving {
                scheduler,
                iterations: 0,
                verdict,
                _dispatch,
            });
            return Some(());
        }
    }

    fn with_serving<T>(&self, f: impl FnOnce(&mut Serving) -> T) -> T {
        f(self
            .serving
            .borrow_mut()
            .as_mut()
            .expect("a check is being served"))
    }
}

impl Scheduler for Turns {
    fn new_execution(&mut self) -> Option<Schedule> {
        loop {
            let next = self.serving.borrow_mut().as_mut().and_then(|s| {
                let schedule = s.scheduler.new_execution()?;
                s.iterations += 1;
                Some(schedule)
            });
            if next.is_some() {
                return next;
            }
            if let Some(done) = self.serving.borrow_mut().take() {
                let iterations = done.iterations;
                done.answer(Ok(iterations));
            }
            self.next_check()?;
        }
    }

    fn next_task(
        &mut self,
        runnable: &[&Task],
        current: Option<TaskId>,
        is_yielding: bool,
    ) -> Option<TaskId> {
        self.with_serving(|s| s.scheduler.next_task(runnable, current, is_yielding))
    }

    fn next_u64(&mut self) -> u64 {
        self.with_serving(|s| s.scheduler.next_u64())
    }
}
