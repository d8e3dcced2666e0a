//! The merge: fan-in of the last stage, reordering in ordered mode, the error sink, the
//! error budget and the whole-run deadline, and the report once every task has ended.

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;

use super::{Envelope, ErrorBudget, ItemError, PipelineConfig, Report, StopReason};
use crate::rt::{raised as stopped, Elapsed, Receiver, Runtime, Sender, WatchSender};

pub(super) struct Merge<R: Runtime, T: Send + 'static, E: Send + 'static> {
    pub(super) rt: R,
    pub(super) config: PipelineConfig,
    pub(super) stop: R::WatchSender<bool>,
    pub(super) window: Option<R::Receiver<()>>,
    pub(super) output: R::Sender<T>,
    pub(super) errors: R::Sender<ItemError<E>>,
}

/// Which items have ended: every number below `below`, and those in `above`.
#[derive(Default)]
struct Ended {
    below: u64,
    above: BTreeSet<u64>,
}

impl Ended {
    fn insert(&mut self, seq: u64) {
        self.above.insert(seq);
        while self.above.remove(&self.below) {
            self.below += 1;
        }
    }

    fn missing(&self, admitted: u64) -> Vec<u64> {
        (self.below..admitted)
            .filter(|seq| !self.above.contains(seq))
            .collect()
    }
}

impl<R: Runtime, T: Send + 'static, E: Send + 'static> Merge<R, T, E> {
    pub(super) async fn run(
        mut self,
        mut last: R::Receiver<Envelope<T, E>>,
        (generator, workers): (R::JoinHandle<u64>, Vec<R::JoinHandle<()>>),
    ) -> Report {
        let deadline = self.config.run_timeout.map(|d| self.rt.now() + d);
        let mut report = Report {
            admitted: 0,
            delivered: 0,
            failed: BTreeMap::new(),
            cancelled: Vec::new(),
            stopped: None,
        };
        let (mut ended, mut pending) = (Ended::default(), BTreeMap::new());
        let mut next = 0;
        let mut watch_stop = self.stop.subscribe();
        while let Some(envelope) = self.next(&mut last, deadline, &mut report).await {
            if report.stopped.is_some() {
                continue;
            }
            pending.insert(envelope.seq, envelope.item);
            while let Some((seq, item)) = self.take_next(&mut pending, &mut next) {
                if self.emit(item, deadline, &mut report).await {
                    ended.insert(seq);
                }
                if report.stopped.is_some() {
                    let _told = self.stop.send(true);
                    break;
                }
            }
        }
        let _all_stop = self.stop.send(true);
        stopped(&mut watch_stop).await;
        report.admitted = generator.await.unwrap_or(0);
        for worker in workers {
            let _ended = worker.await;
        }
        report.cancelled = ended.missing(report.admitted);
        report
    }

    /// The next envelope of the last stage; `None` once every worker has ended. Past the
    /// deadline it stops the run and keeps draining.
    async fn next(
        &mut self,
        last: &mut R::Receiver<Envelope<T, E>>,
        deadline: Option<R::Instant>,
        report: &mut Report,
    ) -> Option<Envelope<T, E>> {
        let Some(deadline) = deadline.filter(|_| report.stopped.is_none()) else {
            return last.recv().await;
        };
        match self.rt.timeout_at(deadline, last.recv()).await {
            Ok(envelope) => envelope,
            Err(_) => {
                report.stopped = Some(StopReason::Deadline);
                let _told = self.stop.send(true);
                last.recv().await
            }
        }
    }

    /// The next item to emit: in ordered mode the one numbered `next`, else any.
    fn take_next(
        &mut self,
        pending: &mut BTreeMap<u64, Result<T, ItemError<E>>>,
        next: &mut u64,
    ) -> Option<(u64, Result<T, ItemError<E>>)> {
        let (seq, item) = match self.config.ordered {
            true => (*next, pending.remove(next)?),
            false => pending.pop_first()?,
        };
        *next = seq + 1;
        if let Some(window) = &mut self.window {
            let _token = window.try_recv();
        }
        Some((seq, item))
    }

    /// Sends one item to the output or the error sink, waiting for room until the run's
    /// deadline; whether it ended there. Sets the stop reason if the budget is exceeded,
    /// the output is gone or the deadline passed.
    async fn emit(
        &mut self,
        item: Result<T, ItemError<E>>,
        deadline: Option<R::Instant>,
        report: &mut Report,
    ) -> bool {
        match item {
            Ok(value) => match within(&self.rt, deadline, self.output.send(value)).await {
                Ok(Ok(())) => report.delivered += 1,
                Ok(Err(_)) => {
                    report.stopped = Some(StopReason::OutputDropped);
                    return false;
                }
                Err(_) => {
                    report.stopped = Some(StopReason::Deadline);
                    return false;
                }
            },
            Err(error) => {
                *report.failed.entry(error.stage.clone()).or_default() += 1;
                if within(&self.rt, deadline, self.errors.send(error))
                    .await
                    .is_err()
                {
                    report.stopped = Some(StopReason::Deadline);
                    return true;
                }
            }
        }
        if self.over_budget(report) {
            report.stopped = Some(StopReason::Budget);
        }
        true
    }

    fn over_budget(&self, report: &Report) -> bool {
        let failed = report.failures();
        match self.config.budget {
            ErrorBudget::Unlimited => false,
            ErrorBudget::Count(limit) => failed > limit,
            ErrorBudget::Ratio { max, min_items } => {
                let ended = failed + report.delivered;
                ended >= min_items && (failed as f64) > max * ended as f64
            }
        }
    }
}

/// `future`, given up at `deadline` if there is one.
async fn within<R: Runtime, F: Future>(
    rt: &R,
    deadline: Option<R::Instant>,
    future: F,
) -> Result<F::Output, Elapsed> {
    match deadline {
        Some(deadline) => rt.timeout_at(deadline, future).await,
        None => Ok(future.await),
    }
}
