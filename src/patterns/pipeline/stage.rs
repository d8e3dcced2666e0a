//! The generator and the workers of a stage.
//!
//! Every task here selects on the stop cell first, so a stop ends it at its next wait,
//! whatever it waits on; an item it held then is counted as cancelled by the merge.

use std::future::{poll_fn, Future};
use std::num::NonZeroUsize;
use std::pin::pin;
use std::sync::Arc;

use futures_core::Stream;

use super::{Envelope, ItemError, ItemFailure, PipelineConfig};
use crate::bugs::{Bug, Bugs};
use crate::rt::{raised as stopped, Mutex, Receiver, Runtime, Sender};
use crate::signal::unwind::CatchUnwind;

/// The head of a pipeline: where the generator sends, its window in ordered mode, its
/// stop cell and the bugs it reintroduces.
pub(super) struct Generator<R: Runtime, T: Send + 'static, E: Send + 'static> {
    pub(super) out: R::Sender<Envelope<T, E>>,
    pub(super) window: Option<R::Sender<()>>,
    pub(super) stop: R::WatchReceiver<bool>,
    pub(super) bugs: Bugs,
}

impl<R: Runtime, T: Send + 'static, E: Send + 'static> Generator<R, T, E> {
    /// Numbers the source's items and sends them on, taking a window token for each in
    /// ordered mode; the task returns how many it admitted.
    pub(super) fn spawn<S>(self, rt: &R, name: &str, source: S) -> R::JoinHandle<u64>
    where
        S: Stream<Item = T> + Send + 'static,
    {
        rt.spawn(&format!("{name}/generator"), self.run(source))
    }

    async fn run<S: Stream<Item = T> + Send + 'static>(mut self, source: S) -> u64 {
        let mut source = pin!(source);
        let mut admitted = 0;
        loop {
            let next = poll_fn(|cx| source.as_mut().poll_next(cx));
            let item = crate::select! {
                () = stopped(&mut self.stop) => return admitted,
                item = next => item,
            };
            let Some(item) = item else {
                if self.bugs.has(Bug::P1GeneratorNeverCloses) {
                    stopped(&mut self.stop).await;
                }
                return admitted;
            };
            if let Some(window) = &self.window {
                crate::select! {
                    () = stopped(&mut self.stop) => return admitted,
                    token = window.send(()) => if token.is_err() { return admitted },
                }
            }
            let envelope = Envelope {
                seq: admitted,
                item: Ok(item),
            };
            admitted += 1;
            crate::select! {
                () = stopped(&mut self.stop) => return admitted,
                sent = self.out.send(envelope) => if sent.is_err() { return admitted },
            }
        }
    }
}

/// What a stage's workers share.
pub(super) struct Spec {
    pub(super) name: String,
    pub(super) stage: Arc<str>,
    pub(super) config: PipelineConfig,
}

/// Spawns `width` workers `name/N` sharing `input`.
pub(super) fn spawn<R, T, U, E, F, Fut>(
    rt: &R,
    spec: Spec,
    width: NonZeroUsize,
    work: F,
    input: R::Receiver<Envelope<T, E>>,
    output: R::Sender<Envelope<U, E>>,
    stop: R::WatchReceiver<bool>,
) -> Vec<R::JoinHandle<()>>
where
    R: Runtime,
    T: Clone + Send + Sync + 'static,
    U: Send + 'static,
    E: Send + 'static,
    F: Fn(T) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<U, E>> + Send + 'static,
{
    let input = Arc::new(rt.mutex(&format!("{}/input", spec.name), input));
    let shared = Arc::new((spec, work));
    (0..width.get())
        .map(|n| {
            let worker = Worker {
                rt: rt.clone(),
                shared: shared.clone(),
                input: input.clone(),
                output: output.clone(),
                stop: stop.clone(),
            };
            rt.spawn(&format!("{}/{n}", shared.0.name), worker.run())
        })
        .collect()
}

/// A stage's input, shared by its workers: each takes the next item under the lock.
type Shared<R, T, E> = Arc<<R as Runtime>::Mutex<<R as Runtime>::Receiver<Envelope<T, E>>>>;

struct Worker<R: Runtime, T: Send + 'static, U: Send + 'static, E: Send + 'static, F> {
    rt: R,
    shared: Arc<(Spec, F)>,
    input: Shared<R, T, E>,
    output: R::Sender<Envelope<U, E>>,
    stop: R::WatchReceiver<bool>,
}

impl<R, T, U, E, F, Fut> Worker<R, T, U, E, F>
where
    R: Runtime,
    T: Clone + Send + Sync + 'static,
    U: Send + 'static,
    E: Send + 'static,
    F: Fn(T) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<U, E>> + Send + 'static,
{
    async fn run(mut self) {
        loop {
            let input = self.input.clone();
            let next = async move { input.lock().await.recv().await };
            let envelope = crate::select! {
                () = stopped(&mut self.stop) => return,
                envelope = next => envelope,
            };
            let Some(Envelope { seq, item }) = envelope else {
                return;
            };
            let mut stop = self.stop.clone();
            let item = match item {
                Ok(item) => crate::select! {
                    () = stopped(&mut stop) => return,
                    done = self.attempt(seq, item) => done,
                },
                Err(failed) => Err(failed),
            };
            crate::select! {
                () = stopped(&mut self.stop) => return,
                sent = self.output.send(Envelope { seq, item }) => if sent.is_err() { return },
            }
        }
    }

    /// Runs the stage on one item, up to the configured attempts, each within the item
    /// timeout; a panic is the item's failure, not the worker's end.
    async fn attempt(&self, seq: u64, item: T) -> Result<U, ItemError<E>> {
        let (spec, work) = &*self.shared;
        let attempts = spec.config.attempts.max(1);
        let mut item = Some(item);
        for attempt in 1..=attempts {
            let input = match attempt == attempts {
                true => item.take().expect("moved on the last attempt only"),
                false => item.clone().expect("kept until the last attempt"),
            };
            let run = CatchUnwind::new(work(input));
            let deadline = match spec.config.bugs.has(Bug::P2StageWithoutDeadline) {
                true => None,
                false => spec.config.item_timeout,
            };
            let outcome = match deadline {
                Some(limit) => self.rt.timeout(limit, run).await.ok(),
                None => Some(run.await),
            };
            let failure = match outcome {
                Some(Ok(Ok(value))) => return Ok(value),
                Some(Ok(Err(error))) => ItemFailure::Failed(error),
                Some(Err(message)) => ItemFailure::Panicked(message),
                None => ItemFailure::TimedOut,
            };
            if attempt == attempts {
                return Err(ItemError {
                    stage: spec.stage.clone(),
                    item: seq,
                    attempt,
                    failure,
                });
            }
        }
        unreachable!("the last attempt returns")
    }
}
