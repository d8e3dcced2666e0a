//! The network layer: the wire codec against random and mutated input, the handshake and the
//! peer server over tokio TCP on loopback and over turmoil's simulated network, three relays
//! streaming each other over loopback TCP, writes and writer groups across nodes, and close
//! bounded while a peer is cut off. Relays
//! across simulated nodes under faults are the sim crate's cluster scenarios.

mod admission;
mod close;
mod cluster;
mod coalesce;
mod config;
mod handshake;
mod loopback;
mod memory;
mod seeds;
mod server;
mod stalled_owner;
mod wire;
mod writes;
