//! The grid suite: the coordinator's semantics, each body written once against
//! `R: Runtime` and the simulated coordinator, on tokio (paused clock), shuttle and turmoil;
//! the registration kernel under loom too.

#[path = "../common/backends.rs"]
mod backends;
#[macro_use]
#[path = "../common/suite.rs"]
mod suite;

mod coordinator;
mod leader;
mod mailbox;
mod registry;

suite_without_loom!(
    coordinator::leases_expire_on_runtime_time,
    coordinator::registration_is_unique_and_fenced,
    coordinator::watch_sees_changes_in_order,
    coordinator::a_watch_ends_when_cut_off_or_too_far_behind,
    coordinator::election_follows_standing_order_and_lease_expiry,
    coordinator::a_dropped_campaign_withdraws,
    coordinator::a_cut_client_learns_what_it_cannot_know,
    leader::a_cut_leader_stops_before_its_successor_starts,
    mailbox::requests_are_answered_or_refused_by_the_handler,
    mailbox::a_full_mailbox_rejects_and_withdrawn_requests_are_never_processed,
    mailbox::an_ending_actor_breaks_its_promises_at_once,
    mailbox::a_request_timed_out_after_it_was_taken_may_have_been_processed,
    registry::a_live_name_is_taken_until_released,
);

suite!(loom: coordinator::registration_kernel, mailbox::mailbox_kernel);
