//! grid: actors with cluster-unique names over a coordinator (the Go lytics/grid's design,
//! with ownership by lease and fence instead of address).
//!
//! - [`coordinator`]: what grid needs from etcd, as a trait; [`simulated`] gives its
//!   semantics on the runtime's clock for shuttle and turmoil runs, and `etcd` (feature
//!   `etcd`) is the real thing over etcd's JSON gateway.
//! - [`lease`]: holding a lease, and giving up acting on it before it could end.
//! - [`leader`]: the fenced singleton leader, whose terms never overlap.
//! - [`mailbox`]: bounded queues whose request errors say whether a request was delivered.
//! - [`registry`]: cluster-unique names claimed under a lease, released by fence.
//! - [`actor`]: actor kinds and their definitions; [`Grid`] (in `cluster`): a node that
//!   starts actors as signal routines on one lease generation after another, serves its
//!   peers over the net layer's wire (`node`, `server`, [`wire`]), routes requests by the
//!   registry, and refuses a deposed leader's fenced calls (`fences`).
//! - [`broadcast`]: `fastest`, `all` and `resend` to a group of actors.

pub mod actor;
pub mod broadcast;
mod cluster;
pub mod coordinator;
mod error;
#[cfg(feature = "etcd")]
pub mod etcd;
mod fences;
pub mod leader;
pub mod lease;
pub mod mailbox;
mod node;
pub mod registry;
mod server;
pub mod simulated;
pub mod wire;

pub use self::actor::{Actor, ActorContext, ActorError, Definitions};
pub use self::broadcast::{Resend, Status, Statuses};
pub use self::cluster::Grid;
pub use self::coordinator::{CoordError, Coordinator, Fence, LeaseId, Registration, WatchEvent};
pub use self::error::{GridError, StartError};
pub use self::leader::{Candidate, LeaderConfig, Term, TermEnd};
pub use self::mailbox::{mailbox, Busy, Inbox, Outbox, Request, RequestError};
pub use self::node::GridConfig;
pub use self::simulated::{SimClient, SimCoordinator};
