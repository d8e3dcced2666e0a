//! Frame validation on decode: whatever bytes arrive, a frame that decodes has distinct
//! keys in order and as many samples as timestamps in every series, and its lookups agree
//! with a scan.

#![no_main]

use std::collections::BTreeSet;

use libfuzzer_sys::fuzz_target;
use sigrelay::relay::{ChannelKey, Frame};

fuzz_target!(|data: &[u8]| {
    let Ok(frame) = postcard::from_bytes::<Frame>(data) else {
        return;
    };
    let series = frame.series();
    assert!(series.windows(2).all(|w| w[0].key < w[1].key), "keys in order, once each");
    assert!(series.iter().all(|s| s.timestamps.len() == s.samples.len()), "lengths match");
    for s in series {
        assert!(frame.get(s.key).is_some_and(|found| std::ptr::eq(found, s)));
    }
    let keys: BTreeSet<ChannelKey> = series.iter().step_by(2).map(|s| s.key).collect();
    let wanted: Vec<ChannelKey> = frame.wanted(&keys).map(|s| s.key).collect();
    let scanned: Vec<ChannelKey> = series.iter().map(|s| s.key).filter(|k| keys.contains(k)).collect();
    assert_eq!(wanted, scanned);
    assert_eq!(frame.touches(&keys), !keys.is_empty());
});
