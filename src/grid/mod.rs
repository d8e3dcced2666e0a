//! grid: actors with cluster-unique names over a coordinator (the Go lytics/grid's design,
//! with ownership by lease and fence instead of address).
//!
//! So far: the [`Coordinator`] trait; the [`SimCoordinator`], which gives etcd's semantics
//! on the runtime's clock for shuttle and turmoil runs; and the fenced singleton
//! [`leader`], whose terms never overlap; [`mailbox`]es whose request errors say whether
//! the request was delivered; and the [`registry`] of cluster-unique names.

pub mod coordinator;
pub mod leader;
pub mod mailbox;
pub mod registry;
pub mod simulated;

pub use self::coordinator::{CoordError, Coordinator, Fence, LeaseId, Registration, WatchEvent};
pub use self::leader::{Candidate, LeaderConfig, Term, TermEnd};
pub use self::mailbox::{mailbox, Busy, Inbox, Outbox, Request, RequestError};
pub use self::simulated::{SimClient, SimCoordinator};
