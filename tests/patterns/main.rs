//! The patterns suite: each body written once against `R: Runtime`, asserting exact times
//! on the runtime's clock, and run on tokio (paused clock), shuttle and turmoil; the
//! steward and `first_ok` kernels also under loom.

#[path = "../common/backends.rs"]
mod backends;
#[macro_use]
#[path = "../common/suite.rs"]
mod suite;

mod limits;
mod pipeline;
mod props;
mod supervision;

suite_without_loom!(
    supervision::heartbeat_reports_beats_misses_and_the_end,
    supervision::a_beat_never_waits_for_an_observer,
    supervision::steward_stops_a_hung_ward_before_starting_the_next,
    supervision::steward_escalates_past_its_intensity,
    supervision::steward_escalation_fails_its_group,
    supervision::first_ok_returns_the_first_success_and_reaps_the_losers,
    supervision::first_ok_hedges_and_moves_on_at_a_failure,
    supervision::first_ok_reports_every_cause,
    supervision::first_ok_gives_up_at_its_timeout,
    limits::hundred_permits_at_ten_per_second_take_nine_point_nine_seconds,
    limits::waiters_are_admitted_in_order,
    limits::try_and_deadline_fail_fast_without_reserving,
    limits::a_composite_limiter_admits_when_every_quota_does,
    limits::a_dropped_wait_refunds_its_slot,
    limits::retry_backs_off_exactly_and_stops_at_the_cap,
    limits::retry_respects_delivery_classes,
    limits::retry_stops_at_the_deadline_and_the_budget,
    limits::retry_jitter_stays_within_the_backoff,
    limits::preempt_stops_at_the_deadline_and_on_request,
    limits::error_context_keeps_the_chain_and_the_user_message,
    pipeline::ordered_pipeline_keeps_order_and_sinks_errors,
    pipeline::unordered_pipeline_delivers_every_item,
    pipeline::budget_stops_the_run_at_the_first_error_past_it,
    pipeline::ratio_budget_waits_for_enough_items,
    pipeline::retried_items_recover_from_a_timeout,
    pipeline::stages_work_while_the_consumer_is_busy,
    pipeline::run_deadline_and_dropped_output_stop_the_run,
    pipeline::dropping_an_unfinished_pipeline_stops_it,
    pipeline::a_panicking_stage_fails_the_item_not_the_run,
);

suite!(loom:
    supervision::steward_kernel,
    supervision::first_ok_kernel,
);
