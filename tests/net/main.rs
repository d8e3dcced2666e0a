//! The network layer: the wire codec against random and mutated input, and the handshake
//! over tokio TCP on loopback and over turmoil's simulated network.

mod cluster;
mod handshake;
mod server;
mod wire;
