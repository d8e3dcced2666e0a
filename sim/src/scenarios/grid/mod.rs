//! Grid scenarios: the fenced leader under partitions (G3), and cluster-unique names under
//! cuts (G1).

mod leader;
mod names;

pub use self::leader::leader_under_partitions;
pub use self::names::unique_names_under_cuts;
