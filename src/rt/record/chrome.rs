//! What every Chrome trace-event file the harness writes needs: JSON strings and
//! microsecond timestamps.

use std::fmt::Write as _;
use std::time::Duration;

/// `d` in microseconds, as the trace-event format's `ts` and `dur` want.
pub(crate) fn micros(d: Duration) -> String {
    format!("{:.3}", d.as_nanos() as f64 / 1000.0)
}

/// `s` as a JSON string literal.
pub(crate) fn json_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}
