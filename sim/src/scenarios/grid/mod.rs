//! Grid scenarios: the fenced leader under partitions (G3), and cluster-unique names under
//! cuts (G1).

mod actors;
mod broadcast;
mod failover;
mod fixture;
mod leader;
mod names;
mod terms;

pub use self::actors::names_across_nodes;
pub use self::broadcast::broadcasts;
pub use self::failover::leader_failover;
pub use self::leader::leader_under_partitions;
pub use self::names::unique_names_under_cuts;
