//! The wire codec: every message survives encoding, in any chunking of the byte stream;
//! random and mutated byte streams never panic the decoder, only yield typed errors, and
//! never make it buffer more than the maximum message size; the handshake refuses wrong
//! versions, clusters and tokens with a typed reason. A message refused on encoding leaves
//! the ones queued before it whole, and queued messages go out with one flush.

use bytes::BytesMut;
use proptest::prelude::*;
use proptest::test_runner::FileFailurePersistence;
use sigrelay::net::{Credentials, Message, Refusal, WireCodec, WireError, VERSION};
use sigrelay::relay::{ChannelKey, Frame, NodeId, Samples, Series};
use tokio_util::codec::{Decoder, Encoder};

const MAX: usize = 64 * 1024;

fn series() -> impl Strategy<Value = Series> {
    let samples = prop_oneof![
        proptest::collection::vec(-1e9f64..1e9, 0..20).prop_map(Samples::F64),
        proptest::collection::vec(any::<i64>(), 0..20).prop_map(Samples::I64),
    ];
    (any::<u16>(), 1u16..4, samples).prop_map(|(local, node, samples)| Series {
        key: ChannelKey::leased(NodeId(node), local),
        timestamps: (0..samples.len() as i64).collect(),
        samples,
    })
}

fn frame() -> impl Strategy<Value = Frame> {
    proptest::collection::vec(series(), 0..6).prop_map(|mut series| {
        series.sort_by_key(|s| s.key);
        series.dedup_by_key(|s| s.key);
        Frame::new(series).expect("distinct keys, matching lengths")
    })
}

fn message() -> impl Strategy<Value = Message> {
    let credentials = (any::<u64>(), any::<[u8; 32]>())
        .prop_map(|(cluster, token)| Credentials { cluster, token });
    prop_oneof![
        (credentials, any::<u16>()).prop_map(|(c, n)| Message::Hello(c.hello(NodeId(n)))),
        any::<u16>().prop_map(|n| Message::Welcome(NodeId(n))),
        Just(Message::Refused(Refusal::Token)),
        proptest::collection::vec(any::<u16>(), 0..10)
            .prop_map(|k| Message::Keys(k.into_iter().map(ChannelKey::free).collect())),
        Just(Message::Applied),
        frame().prop_map(Message::Frame),
        any::<u64>().prop_map(Message::Gap),
        proptest::collection::vec(any::<u8>(), 0..64).prop_map(Message::Grid),
    ]
}

fn encode(messages: &[Message]) -> Vec<u8> {
    let mut codec = WireCodec::new(MAX);
    let mut out = BytesMut::new();
    for message in messages {
        codec.encode(message, &mut out).expect("under the maximum");
    }
    out.to_vec()
}

/// Feeds `bytes` in chunks of `chunk` and decodes until an error or the end; the buffer
/// never holds more than one maximal message besides the chunk just fed.
fn decode(bytes: &[u8], chunk: usize) -> (Vec<Message>, Option<WireError>) {
    let mut codec = WireCodec::new(MAX);
    let (mut buf, mut got) = (BytesMut::new(), Vec::new());
    for piece in bytes.chunks(chunk.max(1)) {
        buf.extend_from_slice(piece);
        loop {
            assert!(
                buf.capacity() <= 2 * MAX + 2 * chunk + 64,
                "buffered {}",
                buf.capacity()
            );
            match codec.decode(&mut buf) {
                Ok(Some(message)) => got.push(message),
                Ok(None) => break,
                Err(e) => return (got, Some(e)),
            }
        }
    }
    (got, None)
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 256,
        failure_persistence: Some(Box::new(FileFailurePersistence::Direct(
            "proptest-regressions/net_wire.txt",
        ))),
        ..ProptestConfig::default()
    })]

    #[test]
    fn messages_survive_any_chunking(messages in proptest::collection::vec(message(), 0..8), chunk in 1usize..64) {
        let (got, error) = decode(&encode(&messages), chunk);
        prop_assert!(error.is_none(), "{error:?}");
        prop_assert_eq!(got, messages);
    }

    #[test]
    fn random_bytes_give_typed_errors(bytes in proptest::collection::vec(any::<u8>(), 0..4096), chunk in 1usize..512) {
        let (_, error) = decode(&bytes, chunk);
        if let Some(error) = error {
            prop_assert!(matches!(error, WireError::Oversized { max: MAX } | WireError::Malformed(_)), "{error:?}");
        }
    }

    #[test]
    fn mutated_streams_give_typed_errors(
        messages in proptest::collection::vec(message(), 1..6),
        flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
        cut in any::<prop::sample::Index>(),
    ) {
        let mut bytes = encode(&messages);
        for (at, value) in flips {
            let i = at.index(bytes.len());
            bytes[i] = value;
        }
        bytes.truncate(cut.index(bytes.len() + 1));
        let (got, error) = decode(&bytes, 97);
        prop_assert!(got.len() <= messages.len() + bytes.len() / 4);
        if let Some(error) = error {
            prop_assert!(matches!(error, WireError::Oversized { .. } | WireError::Malformed(_)), "{error:?}");
        }
    }
}

#[test]
fn an_oversized_length_is_refused_before_buffering() {
    let mut bytes = u32::MAX.to_be_bytes().to_vec();
    bytes.extend_from_slice(&[0; 16]);
    let (got, error) = decode(&bytes, 20);
    assert!(got.is_empty());
    assert!(
        matches!(error, Some(WireError::Oversized { max: MAX })),
        "{error:?}"
    );
    let mut codec = WireCodec::new(8);
    let keys = Message::Keys((0..100).map(ChannelKey::free).collect());
    let refused = codec.encode(&keys, &mut BytesMut::new());
    assert!(
        matches!(refused, Err(WireError::Oversized { max: 8 })),
        "{refused:?}"
    );
}

#[test]
fn the_handshake_refuses_with_a_reason() {
    let ours = Credentials {
        cluster: 7,
        token: [3; 32],
    };
    let hello = ours.hello(NodeId(2));
    assert_eq!(ours.check(&hello), Ok(()));
    let mut wrong = hello.clone();
    wrong.token[31] ^= 1;
    assert_eq!(ours.check(&wrong), Err(Refusal::Token));
    let other = Credentials {
        cluster: 8,
        token: [3; 32],
    };
    assert_eq!(
        ours.check(&other.hello(NodeId(2))),
        Err(Refusal::Cluster { theirs: 8, ours: 7 })
    );
    let mut old = hello.clone();
    old.version = VERSION + 1;
    assert_eq!(
        ours.check(&old),
        Err(Refusal::Version {
            theirs: VERSION + 1,
            ours: VERSION
        })
    );
    assert!(
        !format!("{hello:?} {ours:?}").contains("3, 3"),
        "tokens are redacted"
    );
    assert_eq!(Refusal::Token.to_string(), "wrong cluster token");
}

#[test]
fn a_frame_that_breaks_its_rules_does_not_decode() {
    // postcard, by hand: variant Frame (5), no writer group (0), one series: key free:1,
    // timestamps [1, 2] (zigzag varints 2, 4), samples I64 (variant 1) holding one value, 1
    // (zigzag 2).
    let body = [5u8, 0, 1, 1, 2, 2, 4, 1, 1, 2];
    let mut bytes = (body.len() as u32).to_be_bytes().to_vec();
    bytes.extend(body);
    let (got, error) = decode(&bytes, 64);
    assert!(got.is_empty());
    assert!(matches!(&error, Some(WireError::Malformed(_))), "{error:?}");
    let mut fixed = bytes.clone();
    fixed[8] = 1;
    fixed.remove(10);
    fixed[3] -= 1;
    let (got, error) = decode(&fixed, 64);
    assert!(error.is_none(), "{error:?}");
    let valid = Series {
        key: ChannelKey::free(1),
        timestamps: vec![1],
        samples: Samples::I64(vec![1]),
    };
    assert_eq!(
        got,
        [Message::Frame(Frame::new(vec![valid]).expect("valid"))]
    );
}

/// Found by the `wire_decoder` fuzzer: a message followed by bytes inside its own length
/// was read as the message, the rest ignored. Every body must end with its message — the
/// net layer's and the grid's alike.
#[test]
fn bytes_after_a_message_make_it_malformed() {
    let found = [0, 0, 0, 12, 8, 8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 7];
    let (messages, error) = decode(&found, found.len());
    assert!(messages.is_empty(), "{messages:?}");
    assert!(matches!(error, Some(WireError::Malformed(_))), "{error:?}");
    let start = sigrelay::grid::wire::GridMessage::Ask(sigrelay::grid::wire::Ask::Start {
        kind: String::new(),
        name: String::new(),
    });
    let Message::Grid(mut body) = start.wrap() else {
        panic!("a grid message travels as one")
    };
    let whole = sigrelay::grid::wire::GridMessage::unwrap(Message::Grid(body.clone()));
    assert_eq!(whole, Ok(start));
    body.extend([0, 0, 0, 0]);
    let padded = sigrelay::grid::wire::GridMessage::unwrap(Message::Grid(body));
    assert!(padded.is_err(), "{padded:?}");
}

#[test]
fn a_message_refused_as_oversized_leaves_the_queued_ones_whole() {
    let mut codec = WireCodec::new(64);
    let mut out = BytesMut::new();
    codec.encode(&Message::Applied, &mut out).expect("small");
    let oversized = Message::Grid(vec![7; 100]);
    assert!(matches!(
        codec.encode(&oversized, &mut out),
        Err(WireError::Oversized { max: 64 })
    ));
    codec.encode(&Message::Beat, &mut out).expect("small");
    let (decoded, error) = decode(&out, 3);
    assert_eq!(decoded, [Message::Applied, Message::Beat]);
    assert!(error.is_none(), "{error:?}");
}

#[test]
fn queued_messages_go_out_with_one_flush() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a runtime");
    runtime.block_on(async {
        let (near, far) = tokio::io::duplex(MAX);
        let (mut sender, mut receiver) = (
            sigrelay::net::Connection::new(near, MAX),
            sigrelay::net::Connection::new(far, MAX),
        );
        let sent = [Message::Gap(3), Message::Applied, Message::Beat];
        for message in &sent {
            sender.queue(message).expect("small");
        }
        assert!(sender.queued() > 0);
        sender.flush().await.expect("the pipe has room");
        assert_eq!(sender.queued(), 0);
        for message in &sent {
            let got = receiver.recv().await.expect("whole messages");
            assert_eq!(got.as_ref(), Some(message));
        }
    });
}
