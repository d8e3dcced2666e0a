//! Why a recording never misses an event when other threads run untraced code at the same
//! time, as parallel tests do.
//!
//! `tracing` caches one interest per callsite for the whole process, decided by whichever
//! thread reaches the callsite first. While a single dispatcher is registered, that thread's
//! own default decides alone: a thread with no subscriber caches "never", and a recording
//! installed on another thread then never sees that callsite's events — its capture comes
//! back short or empty. The anchor is a second dispatcher, registered once for the life of
//! the process before the first recording, that takes an interest in every callsite only
//! "sometimes" and in no event: so no callsite can be cached as "never" (an interest is
//! "never" only if every live dispatcher says so), and each event asks the default
//! subscriber of the thread it happens on.

use std::sync::OnceLock;

use tracing::span::{Attributes, Id, Record};
use tracing::subscriber::Interest;
use tracing::{Dispatch, Event, Metadata, Subscriber};

/// Registers the anchor, once per process.
pub(super) fn hold() {
    static ANCHOR: OnceLock<Dispatch> = OnceLock::new();
    ANCHOR.get_or_init(|| Dispatch::new(Anchor));
}

/// The inert dispatcher: interested in every callsite sometimes, enabled for nothing.
struct Anchor;

impl Subscriber for Anchor {
    fn register_callsite(&self, _: &'static Metadata<'static>) -> Interest {
        Interest::sometimes()
    }

    fn enabled(&self, _: &Metadata<'_>) -> bool {
        false
    }

    fn new_span(&self, _: &Attributes<'_>) -> Id {
        Id::from_u64(1)
    }

    fn record(&self, _: &Id, _: &Record<'_>) {}

    fn record_follows_from(&self, _: &Id, _: &Id) {}

    fn event(&self, _: &Event<'_>) {}

    fn enter(&self, _: &Id) {}

    fn exit(&self, _: &Id) {}
}
