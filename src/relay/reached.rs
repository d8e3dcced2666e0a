//! The relay's hard states: rare states a simulation sweep must show it reached, marked
//! where they happen with [`coverage::reached`](crate::rt::coverage::reached). A scenario
//! that declares one fails its sweep if no seed reached it.

/// A subscriber disconnected while a fan-out waited for room in its outlet, and the wait
/// ended (the state B1 deadlocks in).
pub const DISCONNECT_WHILE_OUTLET_FULL: &str =
    "relay: a disconnect served while a fan-out waited on that subscriber's full outlet";

/// A lossy subscriber's outlet stayed full for its whole patience, so it missed a frame.
pub const LOSSY_PATIENCE_RAN_OUT: &str =
    "relay: a lossy subscriber missed a frame when its patience ran out";

/// A streamer being opened found the relay closing after it had started (the race H1 is).
pub const CLOSE_RACED_STARTING_STREAMER: &str =
    "relay: a close began while a streamer was starting";
