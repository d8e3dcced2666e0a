//! Turmoil's simulated network as a [`Transport`]: hosts reach each other by name
//! (`server:7000`), and partitions, holds, latency and crashes are the simulation's.

use std::io;

use super::transport::{Listener, Transport};

/// Turmoil's network; use it inside a turmoil host.
#[derive(Debug, Clone, Copy, Default)]
pub struct TurmoilNet;

impl Transport for TurmoilNet {
    type Stream = ::turmoil::net::TcpStream;
    type Listener = ::turmoil::net::TcpListener;

    async fn connect(&self, address: &str) -> io::Result<Self::Stream> {
        ::turmoil::net::TcpStream::connect(address.to_string()).await
    }

    async fn bind(&self, address: &str) -> io::Result<Self::Listener> {
        ::turmoil::net::TcpListener::bind(address.to_string()).await
    }
}

impl Listener for ::turmoil::net::TcpListener {
    type Stream = ::turmoil::net::TcpStream;

    async fn accept(&mut self) -> io::Result<(Self::Stream, String)> {
        let (stream, from) = ::turmoil::net::TcpListener::accept(self).await?;
        Ok((stream, from.to_string()))
    }

    fn local_address(&self) -> io::Result<String> {
        Ok(self.local_addr()?.to_string())
    }
}
