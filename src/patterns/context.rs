//! Errors that say what failed, where, when, what to tell the user — and keep the cause.
//!
//! The book's error-propagation chapter: an error crossing a module boundary is wrapped
//! with context; the top level shows a user-facing message only if some layer wrote one,
//! and otherwise a generic message with an id; the full detail is logged under that id.
//! [`ContextError`] carries the operation, the place (routine path, pipeline stage, item
//! id), the runtime time, an optional user message kept apart from the internal detail,
//! and the source chain through [`std::error::Error::source`].

use std::error::Error;
use std::fmt;

use crate::rt::Runtime;

/// Where an error happened.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Place {
    /// The signal routine's path, such as `relay/tapper`.
    pub routine: Option<String>,
    /// The pipeline stage.
    pub stage: Option<String>,
    /// The item being worked on.
    pub item: Option<u64>,
}

/// An error with its context; see the module doc.
#[derive(Debug)]
pub struct ContextError<I> {
    id: u64,
    what: String,
    place: Place,
    at: I,
    user: Option<String>,
    source: Option<Box<dyn Error + Send + Sync + 'static>>,
}

impl<I: fmt::Debug + Copy + Send + Sync + 'static> ContextError<I> {
    /// An error for the operation `what`, failed now, caused by `source`. Its id comes from
    /// the runtime's RNG, so a seeded run names the same error the same way.
    pub fn new<R: Runtime<Instant = I>>(
        rt: &R,
        what: impl Into<String>,
        source: impl Error + Send + Sync + 'static,
    ) -> Self {
        Self::build(rt, what.into(), Some(Box::new(source)))
    }

    /// An error for the operation `what`, with no underlying cause.
    pub fn msg<R: Runtime<Instant = I>>(rt: &R, what: impl Into<String>) -> Self {
        Self::build(rt, what.into(), None)
    }

    fn build<R: Runtime<Instant = I>>(
        rt: &R,
        what: String,
        source: Option<Box<dyn Error + Send + Sync>>,
    ) -> Self {
        Self {
            id: rt.rng().next_u64(),
            what,
            place: Place::default(),
            at: rt.now(),
            user: None,
            source,
        }
    }

    /// Wraps this error at a module boundary: the new error's source is this one.
    pub fn wrap<R: Runtime<Instant = I>>(self, rt: &R, what: impl Into<String>) -> Self {
        let place = self.place.clone();
        Self {
            place,
            ..Self::new(rt, what, self)
        }
    }

    /// Names the routine the error happened in.
    pub fn in_routine(mut self, path: &str) -> Self {
        self.place.routine = Some(path.to_string());
        self
    }

    /// Names the pipeline stage.
    pub fn in_stage(mut self, stage: &str) -> Self {
        self.place.stage = Some(stage.to_string());
        self
    }

    /// Names the item being worked on.
    pub fn for_item(mut self, item: u64) -> Self {
        self.place.item = Some(item);
        self
    }

    /// A message fit for the user, kept apart from the internal detail.
    pub fn with_user_message(mut self, message: impl Into<String>) -> Self {
        self.user = Some(message.into());
        self
    }

    /// The error's id, shown to the user and logged with the detail.
    pub fn id(&self) -> u64 {
        self.id
    }

    /// Where it happened.
    pub fn place(&self) -> &Place {
        &self.place
    }

    /// When it happened, on the runtime's clock.
    pub fn at(&self) -> I {
        self.at
    }

    /// The outermost user message in the chain, if any layer wrote one.
    pub fn user_message(&self) -> Option<&str> {
        let mut layer = Some(self);
        while let Some(error) = layer {
            if let Some(message) = &error.user {
                return Some(message);
            }
            layer = error
                .source
                .as_deref()
                .and_then(|s| s.downcast_ref::<Self>());
        }
        None
    }

    /// Every layer's message, outermost first, with where and when.
    pub fn detail(&self) -> String {
        let mut out = format!("[{:016x}] at {:?}: {self}", self.id, self.at);
        let mut source = self.source();
        while let Some(error) = source {
            out.push_str("\n  caused by: ");
            out.push_str(&error.to_string());
            source = error.source();
        }
        out
    }

    /// What the user sees: the user message or a generic one, with the id. The detail is
    /// logged at error level under the same id.
    pub fn report(&self) -> String {
        tracing::error!(id = %format_args!("{:016x}", self.id), detail = %self.detail());
        match self.user_message() {
            Some(message) => format!("{message} (error {:016x})", self.id),
            None => format!(
                "an unexpected error occurred; please report error {:016x}",
                self.id
            ),
        }
    }
}

impl<I> fmt::Display for ContextError<I> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.what)?;
        let Place {
            routine,
            stage,
            item,
        } = &self.place;
        if let Some(routine) = routine {
            write!(f, " in routine {routine}")?;
        }
        if let Some(stage) = stage {
            write!(f, " at stage {stage}")?;
        }
        if let Some(item) = item {
            write!(f, " on item {item}")?;
        }
        Ok(())
    }
}

impl<I: fmt::Debug> Error for ContextError<I> {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        self.source.as_deref().map(|s| s as &(dyn Error + 'static))
    }
}
