//! The wire decoder fed arbitrary bytes in chunks of an arbitrary size (the first byte):
//! it never panics, never buffers more than one maximal message, every message it yields
//! encodes to bytes that decode to a message with the same encoding, and a grid message
//! inside one decodes back to itself once re-encoded (postcard reads overlong varints, so
//! the input's own bytes need not come back).

#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use sigrelay::grid::wire::GridMessage;
use sigrelay::net::{Message, WireCodec};
use tokio_util::codec::{Decoder, Encoder};

const MAX: usize = 4096;

fuzz_target!(|data: &[u8]| {
    let Some((&chunk, bytes)) = data.split_first() else {
        return;
    };
    let mut codec = WireCodec::new(MAX);
    let mut buffer = BytesMut::new();
    for piece in bytes.chunks(usize::from(chunk).max(1)) {
        buffer.extend_from_slice(piece);
        loop {
            match codec.decode(&mut buffer) {
                Ok(Some(message)) => round_trip(&message),
                Ok(None) => break,
                Err(_) => return,
            }
        }
        assert!(buffer.len() < MAX + 4, "buffered {} bytes", buffer.len());
    }
});

fn encoded(message: &Message) -> BytesMut {
    let mut out = BytesMut::new();
    let encoding = WireCodec::new(MAX).encode(message, &mut out);
    encoding.expect("a decoded message encodes within the maximum");
    out
}

/// Compared as bytes: a sample may be NaN, which is not equal to itself.
fn round_trip(message: &Message) {
    let mut once = encoded(message);
    let again = WireCodec::new(MAX).decode(&mut once.clone());
    let again = again.expect("its encoding decodes").expect("whole");
    assert_eq!(encoded(&again), once.split());
    if let Message::Grid(_) = message {
        if let Ok(grid) = GridMessage::unwrap(message.clone()) {
            assert_eq!(GridMessage::unwrap(grid.wrap()), Ok(grid));
        }
    }
}
