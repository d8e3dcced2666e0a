//! The network layer: the wire codec against random and mutated input, the handshake and the
//! peer server over tokio TCP on loopback and over turmoil's simulated network, and relays
//! across simulated nodes under partitions, holds, latency and crashes.

mod close;
mod cluster;
mod faults;
mod handshake;
mod journal;
mod loopback;
mod server;
mod wire;
