//! The network layer: the wire codec against random and mutated input, the handshake and the
//! peer server over tokio TCP on loopback and over turmoil's simulated network, three relays
//! streaming each other over loopback TCP, a gateway's peer taps following its demand and
//! holding open-acks until the leaseholder applied them, writes and writer groups across
//! nodes, and close bounded while a peer is cut off. Relays
//! across simulated nodes under faults are the sim crate's cluster scenarios.

mod admission;
mod close;
mod cluster;
mod coalesce;
mod config;
mod gate;
mod handshake;
mod loopback;
mod memory;
mod seeds;
mod server;
mod stalled_owner;
mod taps;
mod wire;
mod writes;
