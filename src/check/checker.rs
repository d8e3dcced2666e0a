//! The thread shuttle checks run on: one per calling thread, kept while its checks pass.
//!
//! Shuttle keeps per-thread state — a pool of task stacks, and after a failed execution the
//! parked continuations of tasks that never finished. A check therefore runs on a thread
//! of its own, so that one failure cannot leak into the next check; a thread whose last
//! check failed is given up and the next check starts a fresh one. A thread whose checks
//! passed is kept, with its pool of stacks: starting a thread and mapping its stacks for
//! every check made parallel sweeps spend their time in the kernel.

use std::cell::RefCell;
use std::sync::mpsc;

/// One check to run on the checker thread; it returns whether the thread is still clean.
type Job = Box<dyn FnOnce() -> bool + Send>;

thread_local! {
    static CHECKER: RefCell<Option<mpsc::Sender<Job>>> = const { RefCell::new(None) };
}

/// Runs `job` on this thread's checker thread and returns what it returned. `job` says
/// whether the check passed; the thread is kept only if it did.
pub(super) fn on_checker<T: Send + 'static>(job: impl FnOnce() -> (T, bool) + Send + 'static) -> T {
    let (result_tx, result_rx) = mpsc::sync_channel(1);
    let job: Job = Box::new(move || {
        let (value, clean) = job();
        let _ = result_tx.send((value, clean));
        clean
    });
    let jobs = CHECKER
        .with(|checker| checker.borrow_mut().take())
        .unwrap_or_else(start);
    jobs.send(job)
        .expect("a kept checker thread waits for jobs");
    let (value, clean) = result_rx
        .recv()
        .expect("the checker thread answers every job it takes");
    if clean {
        CHECKER.with(|checker| *checker.borrow_mut() = Some(jobs));
    }
    value
}

fn start() -> mpsc::Sender<Job> {
    let (jobs_tx, jobs_rx) = mpsc::channel::<Job>();
    std::thread::Builder::new()
        .name("shuttle-checker".into())
        .spawn(move || {
            for job in jobs_rx {
                if !job() {
                    return;
                }
            }
        })
        .expect("a checker thread starts");
    jobs_tx
}
