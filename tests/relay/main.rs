//! The relay suite: each behaviour one body against `R: Runtime`, run on tokio (paused
//! clock), under shuttle (random and PCT schedules, virtual time) and in turmoil; the delta
//! kernel also under loom. Writer groups across nodes are in the net suite.

#[path = "../common/backends.rs"]
mod backends;
#[macro_use]
#[path = "../common/suite.rs"]
mod suite;
mod config;
mod delta;
mod groups;
mod helpers;
mod node;
mod props;

suite_without_loom!(
    delta::fans_out_demanded_keys_in_order,
    delta::lossless_backpressure_loses_nothing,
    delta::lossy_misses_are_counted,
    delta::a_miss_skips_no_later_subscriber,
    delta::lossy_patience_is_waited_out,
    delta::disconnect_is_served_while_a_send_waits,
    delta::control_errors_are_typed,
    delta::two_streamers_update_and_leave,
    delta::kernel_two_streamers,
    delta::a_stopping_delta_keeps_its_close_deadline,
    delta::gaps_mark_one_delivery_of_their_keys,
    delta::deliveries_hold_exactly_the_wanted_series,
    delta::a_disconnect_ends_the_wait_on_its_outlet,
    delta::another_subscriber_leaving_keeps_the_wait_on_a_full_outlet,
    node::streams_only_demanded_keys_in_order,
    node::storage_taps_only_demanded_leased_keys,
    node::storage_takes_only_the_leased_part_of_a_frame,
    node::updates_move_the_barrier,
    node::refusals_are_typed_and_starve_no_one,
    node::writes_are_checked_across_holes,
    node::a_streamer_that_stopped_reading_still_closes,
    node::lossy_streamers_count_their_gaps,
    node::close_force_closes_what_owners_left_open,
    node::close_racing_a_starting_streamer,
    node::channels_of_other_nodes_need_a_cluster,
    node::a_dropped_new_streamer_leaves_nothing,
    node::an_update_leaves_no_hole_in_a_dropped_key,
    groups::excluded_groups_get_nothing_of_their_writers,
    config::a_zero_write_capacity_is_refused,
    config::a_zero_streamer_capacity_is_refused,
    config::writes_after_close_are_refused_on_every_channel_kind,
    config::dropping_an_open_relay_leaves_nothing_running,
);

suite!(loom:
    delta::disconnect_is_served_while_a_send_waits,
    delta::kernel_two_streamers,
);

/// A `new_streamer` given up at any point, over 5,000 random and 5,000 PCT schedules. The
/// relay runs more tasks than loom can host, so loom does not run it.
#[test]
fn a_dropped_new_streamer_holds_over_ten_thousand_schedules() {
    use sigrelay::check::{ShuttleCheck, Strategy};
    for strategy in [Strategy::Random, Strategy::Pct { depth: 3 }] {
        let check = ShuttleCheck::new(strategy, 5_000).seed(backends::SEED);
        let summary = check.run(node::a_dropped_new_streamer_leaves_nothing);
        assert_eq!(summary.iterations, 5_000);
    }
}

/// The dropped relay on tokio, where no leak check runs after a body: once the runtime is
/// idle, no task of the relay is left.
#[test]
fn a_dropped_relay_leaves_no_tokio_task() {
    let body = config::dropping_an_open_relay_leaves_nothing_running(sigrelay::rt::Tokio);
    let left = backends::tokio_tasks_left_after(body);
    assert_eq!(left, 0, "tasks of the relay left running");
}

/// A relay dropped without close says so, and its group says what it cancels.
#[test]
fn a_dropped_relay_says_so_in_the_log() {
    use sigrelay::check::{Recording, TurmoilCheck};
    let body = config::dropping_an_open_relay_leaves_nothing_running;
    let (ran, recording) = Recording::capture(|| TurmoilCheck::new(backends::SEED).try_run(body));
    ran.expect("the body passes");
    let lines = recording.lines();
    for said in [
        "a relay was dropped without close",
        "the group's last handle was dropped while routines ran",
    ] {
        assert!(
            lines.iter().any(|l| l.contains(said)),
            "no {said:?} in {lines:#?}"
        );
    }
}

/// A delta that stops with frames it could not place by its close deadline says so.
#[test]
fn a_delta_giving_up_at_its_close_deadline_says_so_in_the_log() {
    use sigrelay::check::{Recording, TurmoilCheck};
    let body = delta::a_stopping_delta_keeps_its_close_deadline;
    let (ran, recording) = Recording::capture(|| TurmoilCheck::new(backends::SEED).try_run(body));
    ran.expect("the body passes");
    let said = "dropped what it still held at its close deadline";
    let lines = recording.lines();
    assert!(
        lines.iter().any(|l| l.contains("WARN") && l.contains(said)),
        "no warning {said:?} in {lines:#?}"
    );
}
