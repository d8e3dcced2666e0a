//! The signal suite: every behaviour of task groups as one body written against
//! `R: Runtime`, run on tokio (paused clock), under shuttle (random and PCT schedules, virtual
//! time for every deadline) and in turmoil; the smallest bodies also under loom.

#[path = "../common/backends.rs"]
mod backends;
#[macro_use]
#[path = "../common/suite.rs"]
mod suite;
mod helpers;
mod lifecycle;
mod props;
mod reports;
mod routines;
mod shutdown;
mod starts;
mod views;

suite_without_loom!(
    routines::routines_run_and_wait_closes,
    routines::names_are_unique_and_valid,
    routines::nested_routines_have_paths_and_end_first,
    routines::cleanups_run_lifo_and_join_errors,
    routines::failure_cancels_the_group,
    routines::isolated_failure_spares_siblings,
    routines::panics_become_errors,
    routines::restarts_follow_panics_only,
    routines::cancel_during_backoff_reports_the_panic,
    routines::cancelled_group_refuses_routines,
    shutdown::shutdown_drains_cooperative_routines,
    shutdown::shutdown_cancels_then_aborts,
    shutdown::shutdown_aborts_nested_routines,
    shutdown::shutdown_reports_failures,
    shutdown::an_abort_spares_the_groups_around,
    shutdown::stopped_means_closed_and_empty,
    shutdown::census_tracks_states_in_a_bounded_ring,
    helpers::transient_reports_never_block,
    helpers::send_and_recv_give_up_on_cancel,
    helpers::range_consumes_until_closed,
    helpers::ticks_skip_missed_intervals,
    lifecycle::dropping_the_last_handle_cancels_the_routines,
    lifecycle::endings_are_bounded_and_counted,
    lifecycle::an_abandoned_empty_group_closes,
    lifecycle::a_routine_scope_starts_with_a_clean_record,
    reports::endings_and_reports_read_as_sentences,
    reports::refusals_read_as_sentences,
    views::contexts_tell_their_path_and_signals,
    views::a_census_prints_every_routine,
);

suite!(loom:
    routines::failure_cancels_the_group,
    routines::panics_become_errors,
);

/// The dropped group on tokio, where no leak check runs after a body: once the runtime is
/// idle, no task of the group is left.
#[test]
fn a_dropped_group_leaves_no_tokio_task() {
    let left = backends::tokio_tasks_left_after(async {
        let g = starts::group(sigrelay::rt::Tokio);
        starts::ignores_drain(&g, "a").await;
        starts::ignores_everything(&g, "stubborn").await;
        drop(g);
    });
    assert_eq!(left, 1, "only the routine that ignores a cancel");
}
