//! What routines return and how their endings are reported.
//!
//! A routine returns `Result<(), Fault<E>>`: `Ok` after finishing its work (a drain ends
//! this way), [`Fault::Cancelled`] after abandoning it on a cancel, [`Fault::Error`] on a
//! fatal error. `?` converts any `E` into a fault. Transient errors do not end a routine:
//! they go to [`Context::report`](super::Context::report).

use std::fmt;
use std::panic::Location;
use std::sync::Arc;

/// Why a routine stopped early.
#[derive(Debug)]
pub enum Fault<E> {
    /// The routine was told to cancel and abandoned its work.
    Cancelled,
    /// A fatal error: the routine cannot go on.
    Error(E),
}

impl<E> From<E> for Fault<E> {
    fn from(error: E) -> Self {
        Fault::Error(error)
    }
}

/// How a routine ended, when it did not simply finish.
#[derive(Debug)]
pub enum Cause<E> {
    /// It returned a fatal error, or a deferred cleanup did.
    Failed(Arc<E>),
    /// It panicked (on its last attempt, when restarts were allowed).
    Panicked {
        /// The panic message.
        message: String,
        /// How many times the body ran.
        attempts: u32,
    },
    /// It was still running when its group was cancelled, or it returned
    /// [`Fault::Cancelled`].
    Cancelled,
    /// It was still running when shutdown gave up waiting, and was aborted.
    Aborted,
}

impl<E> Cause<E> {
    /// Whether this is a real failure: an error or a panic, not a consequence of shutdown.
    pub fn is_failure(&self) -> bool {
        matches!(self, Cause::Failed(_) | Cause::Panicked { .. })
    }

    /// One word for the cause: `failed`, `panicked`, `cancelled` or `aborted`.
    pub fn label(&self) -> &'static str {
        match self {
            Cause::Failed(_) => "failed",
            Cause::Panicked { .. } => "panicked",
            Cause::Cancelled => "cancelled",
            Cause::Aborted => "aborted",
        }
    }
}

impl<E> Clone for Cause<E> {
    fn clone(&self) -> Self {
        match self {
            Cause::Failed(e) => Cause::Failed(Arc::clone(e)),
            Cause::Panicked { message, attempts } => Cause::Panicked {
                message: message.clone(),
                attempts: *attempts,
            },
            Cause::Cancelled => Cause::Cancelled,
            Cause::Aborted => Cause::Aborted,
        }
    }
}

/// A routine that did not end cleanly: where it lives, where it was started, and why.
#[derive(Debug)]
pub struct RoutineError<E> {
    /// The routine's path, `group/routine/child`.
    pub path: Arc<str>,
    /// Where the routine was started.
    pub location: &'static Location<'static>,
    /// Why it ended.
    pub cause: Cause<E>,
    /// Errors of deferred cleanups beyond the one in `cause`, in the order they ran.
    pub deferred: Vec<Arc<E>>,
}

impl<E> Clone for RoutineError<E> {
    fn clone(&self) -> Self {
        RoutineError {
            path: Arc::clone(&self.path),
            location: self.location,
            cause: self.cause.clone(),
            deferred: self.deferred.clone(),
        }
    }
}

impl<E: fmt::Display> fmt::Display for RoutineError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "routine {} (started at {}) ", self.path, self.location)?;
        match &self.cause {
            Cause::Failed(e) => write!(f, "failed: {e}")?,
            Cause::Panicked { message, attempts } => {
                write!(f, "panicked after {attempts} attempt(s): {message}")?
            }
            Cause::Cancelled => f.write_str("was cancelled")?,
            Cause::Aborted => f.write_str("was aborted")?,
        }
        for e in &self.deferred {
            write!(f, "; deferred cleanup failed: {e}")?;
        }
        Ok(())
    }
}

impl<E: fmt::Debug + fmt::Display> std::error::Error for RoutineError<E> {}

/// Why a routine could not be started.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GoError {
    /// A live routine of the group already has this name.
    DuplicateName(Arc<str>),
    /// The group is closed: it stopped, or it is shutting down.
    Closed(Arc<str>),
    /// The group was cancelled; a new routine would only be told to stop.
    Cancelled(Arc<str>),
    /// A name must be non-empty and must not contain `/`.
    InvalidName(String),
    /// A ticking routine needs a non-zero interval.
    ZeroInterval(String),
}

impl fmt::Display for GoError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GoError::DuplicateName(p) => write!(f, "a routine named {p} is already running"),
            GoError::Closed(p) => write!(f, "cannot start {p}: the group is closed"),
            GoError::Cancelled(p) => write!(f, "cannot start {p}: the group was cancelled"),
            GoError::InvalidName(n) => {
                write!(f, "invalid routine name {n:?}: empty or contains '/'")
            }
            GoError::ZeroInterval(n) => write!(f, "routine {n} cannot tick every 0 s"),
        }
    }
}

impl std::error::Error for GoError {}

/// A send that gave up; the value is handed back.
#[derive(PartialEq, Eq)]
pub enum SendStop<T> {
    /// The routine was cancelled while the send waited.
    Cancelled(T),
    /// The receiver is gone.
    Closed(T),
}

impl<T> SendStop<T> {
    /// The value that was not sent.
    pub fn into_inner(self) -> T {
        match self {
            SendStop::Cancelled(v) | SendStop::Closed(v) => v,
        }
    }
}

impl<T> fmt::Debug for SendStop<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SendStop::Cancelled(_) => f.write_str("Cancelled(..)"),
            SendStop::Closed(_) => f.write_str("Closed(..)"),
        }
    }
}

impl<T> fmt::Display for SendStop<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SendStop::Cancelled(_) => f.write_str("send abandoned: the routine was cancelled"),
            SendStop::Closed(_) => f.write_str("send failed: the receiver is gone"),
        }
    }
}

/// A receive abandoned because the routine was cancelled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cancelled;

impl fmt::Display for Cancelled {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("cancelled")
    }
}

impl std::error::Error for Cancelled {}
impl<T> std::error::Error for SendStop<T> {}
