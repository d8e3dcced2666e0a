//! The concurrency patterns of the book, on the Runtime trait and signal, each verified on
//! virtual time.
//!
//! | pattern | module | what it adds to the anchors |
//! |---|---|---|
//! | heartbeats | [`heartbeat`] | latest-value beats that never block; `Beat` or `Missed(deadline)` on runtime time |
//! | steward | [`steward`] | restarts a *hung* ward (missed beats), never two at once, OTP sliding-window intensity |
//! | replicated requests | [`replicate`] | all-at-once or hedged; losers stopped then aborted in the background; every cause if all fail |
//! | rate limiting | [`ratelimit`] | GCRA on runtime time, shared clones, FIFO waiters, fail-fast deadlines, refunds, several quotas |
//! | retries | [`retry`] | seeded jitter, attempt cap, total deadline, shared budget, delivery classes |
//! | preemption | [`preempt`] | checkpoints that yield and stop at a deadline or on request |
//! | error context | [`context`] | what, where, when, a user message apart from the detail, the cause chain |
//! | pipeline | [`pipeline`] | fan-out/fan-in stages that run while the consumer is busy, error sink, budget |

pub mod context;
pub mod heartbeat;
pub mod pipeline;
pub mod preempt;
pub mod ratelimit;
pub mod replicate;
pub mod retry;
pub mod steward;

pub use self::heartbeat::{heartbeat, Monitor, Pulse, Signal};
pub use self::pipeline::{Pipeline, PipelineConfig};
pub use self::ratelimit::{Quota, RateLimiter};
pub use self::replicate::{first_ok, Launch, Replication};
pub use self::retry::{retry, RetryPolicy};
pub use self::steward::{Steward, StewardConfig};
