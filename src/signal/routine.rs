//! Starting a routine with its options, and the wrapper every routine runs in.
//!
//! The wrapper runs the body (again, after a panic, when restarts are allowed), then the
//! deferred cleanups in reverse order, then waits for the routine's nested group, and only
//! then records how the routine ended. A routine is therefore never recorded as ended while
//! a child of it still runs.

use std::fmt;
use std::future::Future;
use std::panic::Location;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use tracing::Instrument;

use super::error::{Fault, GoError};
use super::group::Group;
use super::tree::{FailurePolicy, Level, Outcome, RoutineId, Tree};
use super::unwind::CatchUnwind;
use super::{Context, Error};
use crate::bugs::Bug;
use crate::rt::prelude::*;

type Deferred<E> = Box<dyn FnOnce() -> Pin<Box<dyn Future<Output = Result<(), E>> + Send>> + Send>;

/// How a routine is restarted after a panic. It is never restarted after it returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Restart {
    /// How many times the body may run again after panicking.
    pub max_restarts: u32,
    /// The wait before the first restart.
    pub backoff: Duration,
    /// Each further wait is this many times the previous one…
    pub factor: u32,
    /// …up to this.
    pub max_backoff: Duration,
}

impl Restart {
    /// Up to `max_restarts` restarts, waiting `backoff`, doubling up to 32 times that.
    pub fn new(max_restarts: u32, backoff: Duration) -> Self {
        let max_backoff = backoff.saturating_mul(32);
        Restart {
            max_restarts,
            backoff,
            factor: 2,
            max_backoff,
        }
    }
}

/// A routine to be started: its name, options and start site.
#[must_use = "a routine does nothing until `go` is called"]
pub struct Routine<'g, E: Error, R: Runtime> {
    group: &'g Group<E, R>,
    name: String,
    location: &'static Location<'static>,
    deferred: Vec<Deferred<E>>,
    policy: Option<FailurePolicy>,
}

impl<'g, E: Error, R: Runtime> Routine<'g, E, R> {
    pub(crate) fn new(
        group: &'g Group<E, R>,
        name: &str,
        location: &'static Location<'static>,
    ) -> Self {
        let (name, deferred, policy) = (name.to_string(), Vec::new(), None);
        Routine {
            group,
            name,
            location,
            deferred,
            policy,
        }
    }

    pub(crate) fn name(&self) -> &str {
        &self.name
    }

    /// Runs `cleanup` when the routine ends, however it ends short of being aborted.
    /// Cleanups run last-in first-out; their errors join the routine's.
    pub fn defer<F, Fut>(mut self, cleanup: F) -> Self
    where
        F: FnOnce() -> Fut + Send + 'static,
        Fut: Future<Output = Result<(), E>> + Send + 'static,
    {
        self.deferred.push(Box::new(move || Box::pin(cleanup())));
        self
    }

    /// What this routine's failure does to its group, instead of the group's default.
    pub fn on_failure(mut self, policy: FailurePolicy) -> Self {
        self.policy = Some(policy);
        self
    }

    /// Starts the routine running `body` once.
    pub fn go<F, Fut>(self, body: F) -> impl Future<Output = Result<(), GoError>> + Send + 'g
    where
        F: FnOnce(Context<E, R>) -> Fut + Send + 'static,
        Fut: Future<Output = Result<(), Fault<E>>> + Send + 'static,
    {
        self.launch(Once(Some(body)), None)
    }

    /// Starts the routine running `body`, and again after each panic as `restart` allows.
    pub fn go_restartable<F, Fut>(
        self,
        restart: Restart,
        body: F,
    ) -> impl Future<Output = Result<(), GoError>> + Send + 'g
    where
        F: FnMut(Context<E, R>) -> Fut + Send + 'static,
        Fut: Future<Output = Result<(), Fault<E>>> + Send + 'static,
    {
        self.launch(Again(body), Some(restart))
    }

    async fn launch<B: Body<E, R>>(self, body: B, restart: Option<Restart>) -> Result<(), GoError> {
        let group = self.group;
        let tree = &group.tree;
        let watch_name = format!("{}/{}:signal", group.path, self.name);
        let (scope_tx, scope_rx) = tree.rt.watch(&watch_name, Level::Run);
        let mut s = tree.state.lock().await;
        let admitted = s.admit(group.id, &self.name, self.location)?;
        let _ = scope_tx.send(admitted.scope_level);
        let path = admitted.path;
        let scope_id = s.add_group(
            Arc::clone(&path),
            Some(admitted.id),
            admitted.scope_level,
            scope_tx,
            scope_rx,
        );
        let scope = Group {
            tree: Arc::clone(tree),
            id: scope_id,
            path: Arc::clone(&path),
            owner: None,
        };
        let ctx = Context {
            tree: Arc::clone(tree),
            path: Arc::clone(&path),
            level: admitted.level,
            scope,
        };
        let policy = self.policy.unwrap_or(tree.config.policy);
        let run = Run {
            id: admitted.id,
            ctx,
            policy,
            restart,
        };
        let span = tracing::debug_span!("routine", path = %path);
        let handle = tree
            .rt
            .spawn(&path, run.run(body, self.deferred).instrument(span));
        s.set_handle(admitted.id, handle);
        Ok(())
    }
}

impl<E: Error, R: Runtime> Group<E, R> {
    /// Starts routine `name` running `body` with default options; see [`Group::routine`].
    #[track_caller]
    pub fn go<F, Fut>(
        &self,
        name: &str,
        body: F,
    ) -> impl Future<Output = Result<(), GoError>> + Send + '_
    where
        F: FnOnce(Context<E, R>) -> Fut + Send + 'static,
        Fut: Future<Output = Result<(), Fault<E>>> + Send + 'static,
    {
        self.routine(name).go(body)
    }

    /// A routine named `name` to configure, then start with `go`.
    #[track_caller]
    pub fn routine(&self, name: &str) -> Routine<'_, E, R> {
        Routine::new(self, name, Location::caller())
    }
}

impl<E: Error, R: Runtime> fmt::Debug for Routine<'_, E, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Routine")
            .field("name", &self.name)
            .field("location", &self.location)
            .finish()
    }
}

/// A routine body: called once, or again after each panic.
trait Body<E: Error, R: Runtime>: Send + 'static {
    type Attempt: Future<Output = Result<(), Fault<E>>> + Send + 'static;
    fn call(&mut self, ctx: Context<E, R>) -> Self::Attempt;
}

struct Once<F>(Option<F>);
struct Again<F>(F);

impl<E: Error, R: Runtime, F, Fut> Body<E, R> for Once<F>
where
    F: FnOnce(Context<E, R>) -> Fut + Send + 'static,
    Fut: Future<Output = Result<(), Fault<E>>> + Send + 'static,
{
    type Attempt = Fut;
    fn call(&mut self, ctx: Context<E, R>) -> Fut {
        self.0.take().expect("a routine without restarts runs once")(ctx)
    }
}

impl<E: Error, R: Runtime, F, Fut> Body<E, R> for Again<F>
where
    F: FnMut(Context<E, R>) -> Fut + Send + 'static,
    Fut: Future<Output = Result<(), Fault<E>>> + Send + 'static,
{
    type Attempt = Fut;
    fn call(&mut self, ctx: Context<E, R>) -> Fut {
        (self.0)(ctx)
    }
}

/// How the body ended, across its attempts.
enum Ending<E> {
    Clean,
    Cancelled,
    Failed(E),
    Panicked(String, u32),
}

/// Everything the wrapper needs besides the body.
struct Run<E: Error, R: Runtime> {
    id: RoutineId,
    ctx: Context<E, R>,
    policy: FailurePolicy,
    restart: Option<Restart>,
}

impl<E: Error, R: Runtime> Run<E, R> {
    fn tree(&self) -> &Tree<E, R> {
        &self.ctx.tree
    }

    async fn run<B: Body<E, R>>(self, body: B, deferred: Vec<Deferred<E>>) {
        self.tree().state.lock().await.start(self.id);
        tracing::debug!(path = %self.ctx.path, "routine started");
        let ending = self.attempts(body).await;
        self.tree().state.lock().await.mark_stopping(self.id);
        let outcome = self.clean_up(ending, deferred).await;
        let failed = matches!(outcome, Outcome::Failed(..) | Outcome::Panicked(..));
        if failed && self.policy == FailurePolicy::CancelGroup {
            let group_path = parent_path(&self.ctx.path);
            self.tree()
                .state
                .lock()
                .await
                .signal(group_path, Level::Cancel);
        }
        self.record(outcome).await;
    }

    /// Runs the body; after a panic, runs it again as the restart policy allows, unless the
    /// routine is cancelled meanwhile. A routine cancelled after a panic ends with that
    /// panic whenever the cancel arrives, so its result does not depend on timing.
    async fn attempts<B: Body<E, R>>(&self, mut body: B) -> Ending<E> {
        let bugs = self.tree().config.bugs;
        let (mut attempts, mut panicked, mut backoff) = (0, None, self.restart.map(|r| r.backoff));
        loop {
            attempts += 1;
            let may_restart = self.restart.is_some_and(|r| attempts <= r.max_restarts);
            match CatchUnwind::new(body.call(self.ctx.clone())).await {
                Ok(Ok(())) if may_restart && bugs.has(Bug::B9RestartAfterReturn) => continue,
                Ok(Ok(())) => return Ending::Clean,
                Ok(Err(Fault::Error(e))) => return Ending::Failed(e),
                Ok(Err(Fault::Cancelled)) => {
                    return panicked.map_or(Ending::Cancelled, |m| Ending::Panicked(m, attempts))
                }
                Err(message) if !may_restart => return Ending::Panicked(message, attempts),
                Err(message) => {
                    let path = &self.ctx.path;
                    tracing::debug!(%path, %message, attempts, "routine panicked; restarting");
                    panicked = Some(message);
                }
            }
            let wait = backoff.expect("a restartable routine has a backoff");
            let restart = self.restart.expect("a restartable routine has a policy");
            backoff = Some(wait.saturating_mul(restart.factor).min(restart.max_backoff));
            let cancelled = crate::select! {
                () = self.ctx.cancelled() => true,
                () = self.ctx.runtime().sleep(wait) => false,
            };
            if cancelled {
                if bugs.has(Bug::B8RetryResultDependsOnTiming) {
                    return Ending::Clean;
                }
                let message = panicked.take().expect("a restart follows a panic");
                return Ending::Panicked(message, attempts);
            }
        }
    }

    /// Runs the deferred cleanups last-in first-out, then waits for the routine's children
    /// (cancelling them first if the routine failed), and combines what went wrong.
    async fn clean_up(&self, ending: Ending<E>, deferred: Vec<Deferred<E>>) -> Outcome<E> {
        let mut errors = Vec::new();
        let mut panic = None;
        for cleanup in deferred.into_iter().rev() {
            match CatchUnwind::new(cleanup()).await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => errors.push(Arc::new(e)),
                Err(message) => panic = panic.or(Some(format!("in a deferred cleanup: {message}"))),
            }
        }
        let outcome = combine(ending, errors, panic);
        if !matches!(outcome, Outcome::Clean) {
            self.ctx.scope.cancel().await;
        }
        drop(self.ctx.scope.until_empty().await);
        outcome
    }

    /// Records the end. The event is emitted first, so that anyone who sees the routine
    /// ended can also see its event.
    async fn record(&self, outcome: Outcome<E>) {
        let mut s = self.tree().state.lock().await;
        let label = outcome.label();
        tracing::debug!(path = %self.ctx.path, outcome = label, "routine ended");
        s.finish(self.id, outcome);
        self.tree().announce();
    }
}

/// Folds the body's ending, the cleanups' errors and a cleanup's panic into one outcome.
fn combine<E>(ending: Ending<E>, mut errors: Vec<Arc<E>>, panic: Option<String>) -> Outcome<E> {
    match (ending, panic) {
        (Ending::Panicked(message, attempts), _) => Outcome::Panicked(message, attempts, errors),
        (_, Some(message)) => Outcome::Panicked(message, 1, errors),
        (Ending::Failed(e), None) => Outcome::Failed(Arc::new(e), errors),
        (Ending::Clean | Ending::Cancelled, None) if !errors.is_empty() => {
            let first = errors.remove(0);
            Outcome::Failed(first, errors)
        }
        (Ending::Clean, None) => Outcome::Clean,
        (Ending::Cancelled, None) => Outcome::Cancelled,
    }
}

/// The path of the group a routine at `path` belongs to.
fn parent_path(path: &str) -> &str {
    path.rsplit_once('/').map_or(path, |(parent, _)| parent)
}
