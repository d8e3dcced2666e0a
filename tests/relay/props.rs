//! Property: random sequences of relay operations — open a streamer, update its keys, write,
//! close a streamer, close the relay, and open a streamer racing the close — run under
//! shuttle with several schedules, deliver exactly what a reference model predicts, refuse
//! what it refuses, and leave nothing running.
//!
//! The run settles between operations (a virtual millisecond passes only once every task is
//! blocked, so every frame in flight has been fanned out), which makes the model exact; only
//! the racing open is left to the schedule, and the model accepts either of its outcomes.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use proptest::prelude::*;
use proptest::test_runner::FileFailurePersistence;
use sigrelay::check::{ShuttleCheck, Strategy as Schedules};
use sigrelay::relay::{
    ChannelKey, CloseError, Delivery, Relay, RelayError, Streamer, StreamerConfig, WriteError,
};
use sigrelay::rt::prelude::*;
use sigrelay::rt::Shuttle;

use super::helpers::{all_seen, frame, free, leased, open, DEADLINE};

const SETTLE: Duration = Duration::from_millis(1);

#[derive(Debug, Clone)]
enum Op {
    Open(Vec<ChannelKey>),
    Update(usize, Vec<ChannelKey>),
    Write(Vec<ChannelKey>),
    CloseStreamer(usize),
    CloseRelay,
    OpenRacingClose(Vec<ChannelKey>),
}

/// Keys the relay serves, and one it does not.
fn key() -> impl Strategy<Value = ChannelKey> {
    prop_oneof![
        6 => (1u16..=4).prop_map(leased),
        3 => (1u16..=2).prop_map(free),
        1 => Just(leased(9)),
    ]
}

fn keys() -> impl Strategy<Value = Vec<ChannelKey>> {
    proptest::collection::btree_set(key(), 0..4).prop_map(|k| k.into_iter().collect())
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => keys().prop_map(Op::Open),
        2 => (0usize..4, keys()).prop_map(|(i, k)| Op::Update(i, k)),
        5 => keys().prop_map(Op::Write),
        2 => (0usize..4).prop_map(Op::CloseStreamer),
        1 => Just(Op::CloseRelay),
        1 => keys().prop_map(Op::OpenRacingClose),
    ]
}

fn unknown(keys: &[ChannelKey]) -> Vec<ChannelKey> {
    keys.iter().copied().filter(|k| *k == leased(9)).collect()
}

/// The reference model: which streamers are open with which keys, and what each must
/// have received, per key in order.
#[derive(Debug, Default)]
struct Model {
    closed: bool,
    keys: Vec<Option<BTreeSet<ChannelKey>>>,
    expected: Vec<BTreeMap<ChannelKey, Vec<i64>>>,
}

impl Model {
    fn write(&mut self, keys: &[ChannelKey], value: i64) {
        for (open, expected) in self.keys.iter().zip(&mut self.expected) {
            let Some(open) = open else { continue };
            for key in keys.iter().filter(|k| open.contains(k)) {
                expected.entry(*key).or_default().push(value);
            }
        }
    }
}

/// What the run holds: the streamers it opened and what each received so far.
struct Run {
    streamers: Vec<Option<Streamer<Shuttle>>>,
    received: Vec<BTreeMap<ChannelKey, Vec<i64>>>,
}

fn keep(received: &mut BTreeMap<ChannelKey, Vec<i64>>, deliveries: &[Delivery]) {
    for (key, value) in all_seen(deliveries) {
        received.entry(key).or_default().push(value);
    }
}

async fn check_ops(rt: Shuttle, ops: Arc<Vec<Op>>) {
    let relay = open(rt.clone()).await;
    let writer = relay.writer();
    let mut model = Model::default();
    let mut run = Run {
        streamers: Vec::new(),
        received: Vec::new(),
    };
    for (value, op) in ops.iter().enumerate() {
        let value = value as i64;
        match op {
            Op::Open(keys) => {
                let opened = relay.new_streamer(set(keys), config()).await;
                let expected = match (model.closed, unknown(keys)) {
                    (true, _) => Err(RelayError::Closed),
                    (false, u) if !u.is_empty() => Err(RelayError::UnknownKeys(u)),
                    (false, _) => Ok(()),
                };
                assert_eq!(
                    opened.as_ref().map(drop).map_err(Clone::clone),
                    expected,
                    "{op:?}"
                );
                let opened = opened.ok();
                model.keys.push(opened.as_ref().map(|_| set(keys)));
                model.expected.push(BTreeMap::new());
                run.streamers.push(opened);
                run.received.push(BTreeMap::new());
            }
            Op::Update(i, keys) => {
                let Some(Some(streamer)) = run.streamers.get_mut(*i) else {
                    continue;
                };
                let updated = streamer.update(set(keys)).await;
                let expected = match (model.closed, unknown(keys)) {
                    (true, _) => Err(RelayError::Closed),
                    (false, u) if !u.is_empty() => Err(RelayError::UnknownKeys(u)),
                    (false, _) => Ok(()),
                };
                assert_eq!(updated, expected, "{op:?}");
                if updated.is_ok() {
                    model.keys[*i] = Some(set(keys));
                }
            }
            Op::Write(keys) => {
                let written = writer.write(frame(keys, value)).await;
                match (unknown(keys).first(), model.closed) {
                    (Some(k), _) => {
                        assert!(matches!(written, Err(WriteError::UnknownChannel(u, _)) if u == *k))
                    }
                    (None, true) => {
                        assert!(matches!(written, Err(WriteError::Closed(_))), "{written:?}")
                    }
                    (None, false) => {
                        written.expect("a valid write");
                        model.write(keys, value);
                    }
                }
            }
            Op::CloseStreamer(i) => {
                let Some(slot) = run.streamers.get_mut(*i) else {
                    continue;
                };
                let Some(streamer) = slot.take() else {
                    continue;
                };
                let rest = streamer.close().await;
                keep(&mut run.received[*i], &rest);
                model.keys[*i] = None;
            }
            Op::CloseRelay | Op::OpenRacingClose(_) if model.closed => {
                let again = relay.close(DEADLINE).await;
                assert!(matches!(again, Err(CloseError::AlreadyClosed)), "{again:?}");
                let late = relay.new_streamer(BTreeSet::new(), config()).await;
                assert_eq!(late.err(), Some(RelayError::Closed));
            }
            Op::CloseRelay | Op::OpenRacingClose(_) => {
                close_relay(&rt, &relay, op, &mut run).await;
                for keys in &mut model.keys {
                    *keys = None;
                }
                model.closed = true;
            }
        }
        rt.sleep(SETTLE).await;
        for (slot, received) in run.streamers.iter_mut().zip(&mut run.received) {
            if let Some(streamer) = slot {
                while let Ok(Some(delivery)) = rt.timeout(Duration::ZERO, streamer.recv()).await {
                    keep(received, &[delivery]);
                }
            }
        }
    }
    if !model.closed {
        close_relay(&rt, &relay, &Op::CloseRelay, &mut run).await;
    }
    for (i, (received, expected)) in run.received.iter().zip(&model.expected).enumerate() {
        let received: BTreeMap<_, _> = received.iter().filter(|(_, v)| !v.is_empty()).collect();
        let expected: BTreeMap<_, _> = expected.iter().collect();
        assert_eq!(received, expected, "streamer {i} received");
    }
    assert!(relay.census().await.live.is_empty(), "nothing left running");
}

/// Closes the relay (racing a new streamer for `OpenRacingClose`); streamers still open are
/// force-closed, and what they still held is kept.
async fn close_relay(rt: &Shuttle, relay: &Relay<Shuttle>, op: &Op, run: &mut Run) {
    let racer = match op {
        Op::OpenRacingClose(keys) => {
            let (relay, keys) = (relay.clone(), set(keys));
            Some(rt.spawn("racer", async move {
                match relay.new_streamer(keys, config()).await {
                    Ok(mut s) => assert!(s.recv().await.is_none(), "nothing written to a racer"),
                    Err(e) => assert!(
                        matches!(e, RelayError::Closed | RelayError::UnknownKeys(_)),
                        "{e:?}"
                    ),
                }
            }))
        }
        _ => None,
    };
    let closed = relay.close(DEADLINE).await;
    let report = closed.expect("no routine fails, and the first close is accepted");
    let open = run.streamers.iter().filter(|s| s.is_some()).count();
    assert!(report.forced.len() >= open, "{report:?}");
    for (slot, received) in run.streamers.iter_mut().zip(&mut run.received) {
        if let Some(mut streamer) = slot.take() {
            while let Some(delivery) = streamer.recv().await {
                keep(received, &[delivery]);
            }
        }
    }
    if let Some(racer) = racer {
        racer.await.expect("the racer finishes");
    }
}

fn set(keys: &[ChannelKey]) -> BTreeSet<ChannelKey> {
    keys.iter().copied().collect()
}

fn config() -> StreamerConfig {
    StreamerConfig {
        capacity: 64,
        ..StreamerConfig::default()
    }
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 64,
        failure_persistence: Some(Box::new(FileFailurePersistence::Direct(
            "proptest-regressions/relay_ops.txt",
        ))),
        ..ProptestConfig::default()
    })]

    #[test]
    fn relay_operations_match_the_model(ops in proptest::collection::vec(op(), 1..14), seed in any::<u64>()) {
        let ops = Arc::new(ops);
        for strategy in [Schedules::Random, Schedules::Pct { depth: 3 }] {
            let ops = Arc::clone(&ops);
            let run = ShuttleCheck::new(strategy, 4).seed(seed).try_run(move |rt| check_ops(rt, Arc::clone(&ops)));
            if let Err(failure) = run {
                return Err(TestCaseError::fail(failure.to_string()));
            }
        }
    }
}
