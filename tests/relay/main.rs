//! The relay suite: each behaviour one body against `R: Runtime`, run on tokio (paused
//! clock), under shuttle (random and PCT schedules, virtual time) and in turmoil; the delta
//! kernel also under loom.

#[path = "../common/backends.rs"]
mod backends;
mod delta;

macro_rules! suite {
    ($backend:ident: $($module:ident::$name:ident),* $(,)?) => {
        mod $backend {
            $( #[test] fn $name() { super::backends::$backend(super::$module::$name) } )*
        }
    };
}

macro_rules! relay_suite {
    ($($module:ident::$name:ident),* $(,)?) => {
        suite!(tokio: $($module::$name),*);
        suite!(shuttle: $($module::$name),*);
        suite!(turmoil: $($module::$name),*);
    };
}

relay_suite!(
    delta::fans_out_demanded_keys_in_order,
    delta::lossless_backpressure_loses_nothing,
    delta::lossy_misses_are_counted,
    delta::disconnect_is_served_while_a_send_waits,
    delta::control_errors_are_typed,
    delta::two_streamers_update_and_leave,
);

suite!(loom:
    delta::disconnect_is_served_while_a_send_waits,
);
