//! sigrelay: deadlock-free streaming concurrency, and the harness that proves it.
//!
//! Every part of sigrelay is written against one small trait, [`rt::Runtime`], so the same
//! code runs in production on tokio and, unchanged, under loom and shuttle (interleaving
//! exploration with virtual time) and in turmoil (simulated nodes).
//!
//! # Map of the code
//! Modules are layers, and imports only point down (a test, `tests/house.rs`, fails on a
//! back-edge or a cycle between files):
//! - [`rt`]: the `Runtime` trait and its backends. `rt::tokio` forwards to tokio at zero
//!   cost, but for its bounded channel, whose buffer is allocated once (the bookkeeping
//!   of `rt::slots`, shared with the simulated channel); `rt::sim` holds the primitives
//!   shared by the shuttle and loom backends — channels on the checker's locks, virtual time under the synctest rule, the event log, and the
//!   wait-for graph of deadlock and leak reports; `rt::turmoil` runs tokio in a turmoil host,
//!   with a census of each host's live tasks for the leak check; `rt::record` keeps what a
//!   checked run says through `tracing`, told the running task and virtual time by `rt::sim`;
//!   `rt::coverage` lets code mark the hard states a sweep must show it reached.
//! - [`frame`]: what moves — frames of timestamped series keyed by channel, and node ids.
//! - [`signal`]: structured task groups — named routines with drain, cancel and abort,
//!   fatal and transient errors, panics as errors, restarts, a census and a staged shutdown.
//! - [`relay`]: telemetry fan-out on one node — local storage and writers, the tapper and
//!   its gateway taps, the delta (dynamic fan-out, lossless or lossy with gap markers),
//!   streamers with an open-ack delivery barrier, and a `Relay` that opens and closes them
//!   in order.
//! - [`net`]: the wire protocol between nodes — messages, a length-delimited codec with a
//!   maximum message size, transports and the authenticated handshake.
//! - [`cluster`]: the relay across nodes, above both — the peer server and the peer taps.
//! - [`patterns`]: heartbeats, the steward, replicated requests, rate limiting, retries,
//!   preemption, error context and the pipeline stream, all on runtime time.
//! - [`grid`]: actors with cluster-unique names over a coordinator (a trait: leases, fenced
//!   registration, watches, elections; simulated on runtime time, or etcd with the `etcd`
//!   feature) — nodes that start actors as signal routines on one lease generation after
//!   another, requests and broadcasts across nodes on the net wire, mailboxes whose errors
//!   say what was delivered, and a fenced singleton leader whose terms never overlap.
//! - [`check`]: the harness — entry points that run an async test body under shuttle, loom
//!   or turmoil and report failures with what replays them.
//! - [`select!`]: the biased select core code uses.
//!
//! # Backends are added, never switched
//! `rt-shuttle`, `rt-loom` and `rt-turmoil` each add a backend and its entry points; none
//! changes the behaviour of another. Without them sigrelay depends on tokio alone.

#![warn(missing_docs, missing_debug_implementations, unreachable_pub)]

#[doc(hidden)]
pub mod bugs;
#[cfg(any(feature = "rt-shuttle", feature = "rt-loom", feature = "rt-turmoil"))]
pub mod check;
pub mod cluster;
pub mod frame;
pub mod grid;
pub mod net;
pub mod patterns;
pub mod relay;
pub mod rt;
pub mod signal;

#[doc(hidden)]
pub mod __private {
    pub use ::tokio::select;
}

/// Waits on several futures at once and runs the branch of the first to complete —
/// always in the order written (`biased`), so a run is a function of its schedule.
///
/// The syntax is tokio's `select!` without the `biased;` line, which is implied. Where a
/// random choice is wanted, draw it from [`Runtime::rng`](rt::Runtime::rng) and order the
/// branches by it.
#[macro_export]
macro_rules! select {
    ($($branches:tt)*) => {
        $crate::__private::select! { biased; $($branches)* }
    };
}
