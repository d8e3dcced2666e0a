//! Pattern scenarios: the pipeline stream with failures, lost requests and a budget; a
//! worker's interval heartbeat; a steward whose wards hang at random; replicated requests
//! with random latencies; clients sharing a rate limiter. Each checks its pattern's
//! guarantees exactly against a model, and hosts the seeds' hazards (P1–P5) at their real
//! sites.

mod limits;
mod pipeline;
mod supervision;

pub use self::limits::rate_limited_clients;
pub use self::pipeline::pipeline_with_failures;
pub use self::supervision::{hung_wards, interval_heartbeat, replicated_requests};

use std::time::Duration;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}
