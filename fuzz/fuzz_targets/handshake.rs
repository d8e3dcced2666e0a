//! The server side of the handshake (`Peers::admit`) reading arbitrary bytes from a
//! caller: it never panics, welcomes exactly a hello with this cluster's version, id and
//! token, and otherwise returns a typed error — promptly, since the caller's end closes
//! its writing half after the bytes.

#![no_main]

use std::io;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use sigrelay::net::{ClusterMap, Credentials, Listener, Message, Peers, Transport, WireCodec, VERSION};
use sigrelay::relay::NodeId;
use sigrelay::rt::Tokio;
use tokio::io::{AsyncWriteExt, DuplexStream};
use tokio_util::codec::Decoder;

const CREDENTIALS: Credentials = Credentials {
    cluster: 0xc1,
    token: [7; 32],
};
const MAX: usize = 4096;

/// In-memory streams; nothing listens or dials.
#[derive(Debug, Clone, Copy)]
struct Memory;

struct Nowhere;

impl Listener for Nowhere {
    type Stream = DuplexStream;

    async fn accept(&mut self) -> io::Result<(DuplexStream, String)> {
        Err(io::ErrorKind::Unsupported.into())
    }

    fn local_address(&self) -> io::Result<String> {
        Err(io::ErrorKind::Unsupported.into())
    }
}

impl Transport for Memory {
    type Stream = DuplexStream;
    type Listener = Nowhere;

    async fn connect(&self, _: &str) -> io::Result<DuplexStream> {
        Err(io::ErrorKind::Unsupported.into())
    }

    async fn bind(&self, _: &str) -> io::Result<Nowhere> {
        Err(io::ErrorKind::Unsupported.into())
    }
}

fn runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        let built = tokio::runtime::Builder::new_current_thread().enable_all().build();
        built.expect("a runtime builds")
    })
}

/// Whether the first message of `data` is a hello the server must welcome.
fn welcome_due(data: &[u8]) -> bool {
    let mut bytes = bytes::BytesMut::from(data);
    match WireCodec::new(MAX).decode(&mut bytes) {
        Ok(Some(Message::Hello(hello))) => {
            hello.version == VERSION
                && hello.cluster == CREDENTIALS.cluster
                && hello.token == CREDENTIALS.token
        }
        _ => false,
    }
}

fuzz_target!(|data: &[u8]| {
    let data = &data[..data.len().min(2 * MAX)];
    let peers = Peers {
        max_message: MAX,
        ..Peers::new(Memory, ClusterMap::new(), CREDENTIALS, NodeId(1))
    };
    let due = welcome_due(data);
    let admitted = runtime().block_on(async {
        let (mut caller, server) = tokio::io::duplex(4 * MAX);
        let says = async {
            let _ = caller.write_all(data).await;
            let _ = caller.shutdown().await;
        };
        let ((), admitted) = tokio::join!(says, peers.admit(&Tokio, server));
        admitted.map(|(_, node)| node)
    });
    assert_eq!(admitted.is_ok(), due, "admitted {admitted:?}");
});
