//! The fuzzers' seed corpus (`fuzz/seeds/`) stays in step with the wire: each seed is built
//! here from typed values, and the committed file must hold exactly those bytes, so a change
//! of the protocol that leaves the seeds stale fails here. `SIGRELAY_WRITE_FUZZ_SEEDS=1`
//! writes them afresh instead.

use std::path::Path;

use bytes::BytesMut;
use sigrelay::net::{Credentials, Hello, Message, WireCodec, VERSION};
use sigrelay::relay::{ChannelKey, Frame, NodeId, Samples, Series, WriterGroup};
use tokio_util::codec::Encoder;

use super::cluster::CLUSTER;

/// The chunk size the `wire_decoder` target reads from its first byte.
const CHUNK: u8 = 5;

fn encoded(message: &Message) -> Vec<u8> {
    let mut out = BytesMut::new();
    WireCodec::new(4096)
        .encode(message, &mut out)
        .expect("small");
    out.to_vec()
}

fn hello(version: u16, credentials: Credentials) -> Message {
    Message::Hello(Hello {
        version,
        ..credentials.hello(NodeId(2))
    })
}

fn series(key: ChannelKey, timestamps: Vec<i64>, samples: Vec<i64>) -> Series {
    let samples = Samples::I64(samples);
    Series {
        key,
        timestamps,
        samples,
    }
}

fn two_series() -> Frame {
    let (a, b) = (ChannelKey::leased(NodeId(1), 1), ChannelKey::free(7));
    let series = vec![
        series(a, vec![1, 2], vec![5, 6]),
        series(b, vec![3], vec![7]),
    ];
    Frame::new(series).expect("distinct keys")
}

/// Every seed: its path under `fuzz/seeds/` and its bytes.
fn seeds() -> Vec<(&'static str, Vec<u8>)> {
    let wrong_cluster = Credentials {
        cluster: CLUSTER.cluster + 1,
        ..CLUSTER
    };
    let wrong_token = Credentials {
        token: [8; 32],
        ..CLUSTER
    };
    let handshakes = [
        ("welcome", hello(VERSION, CLUSTER)),
        ("wrong-cluster", hello(VERSION, wrong_cluster)),
        ("wrong-token", hello(VERSION, wrong_token)),
        ("wrong-version", hello(VERSION + 1, CLUSTER)),
        ("beat-first", Message::Beat),
    ];
    let mut seeds = Vec::new();
    for (name, message) in handshakes {
        let bytes = encoded(&message);
        let chunked = [vec![CHUNK], bytes.clone()].concat();
        seeds.push((leak(format!("handshake/{name}")), bytes));
        seeds.push((leak(format!("wire_decoder/{name}")), chunked));
    }
    let frame = encoded(&Message::Frame(two_series()));
    seeds.push(("wire_decoder/frame-message", [vec![7], frame].concat()));
    let valid = postcard::to_allocvec(&two_series()).expect("encodes");
    seeds.push(("frame/two-series", valid));
    let as_sent = |series: Vec<Series>| {
        let unchecked = (None::<WriterGroup>, series);
        postcard::to_allocvec(&unchecked).expect("encodes")
    };
    let key = ChannelKey::free(1);
    let twice = vec![series(key, vec![1], vec![5]), series(key, vec![2], vec![6])];
    seeds.push(("frame/duplicate-key", as_sent(twice)));
    let short = vec![series(key, vec![1, 2], vec![5])];
    seeds.push(("frame/length-mismatch", as_sent(short)));
    seeds
}

fn leak(s: String) -> &'static str {
    Box::leak(s.into_boxed_str())
}

#[test]
fn the_fuzz_seeds_match_the_wire() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/seeds");
    let write = std::env::var_os("SIGRELAY_WRITE_FUZZ_SEEDS").is_some();
    for (path, bytes) in seeds() {
        let file = root.join(path);
        if write {
            std::fs::write(&file, &bytes).expect("the seed directory is writable");
            continue;
        }
        if let Some(frame) = path.strip_prefix("frame/") {
            let decoded = postcard::from_bytes::<Frame>(&bytes);
            assert_eq!(
                decoded.is_ok(),
                frame == "two-series",
                "{path}: {decoded:?}"
            );
        }
        let committed = std::fs::read(&file).unwrap_or_default();
        assert_eq!(
            committed, bytes,
            "fuzz/seeds/{path} is stale: run with SIGRELAY_WRITE_FUZZ_SEEDS=1"
        );
    }
}
