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

mod actors;

/// One test per body with real TCP on tokio and with turmoil's network.
macro_rules! across_nodes {
    ($($name:ident),* $(,)?) => {
        mod across_nodes {
            $(
                mod $name {
                    #[test]
                    fn tokio_tcp() {
                        super::super::backends::tokio_net(|rt| super::super::actors::$name(rt, sigrelay::net::Tcp));
                    }
                    #[test]
                    fn turmoil_net() {
                        super::super::backends::turmoil(|rt| super::super::actors::$name(rt, sigrelay::net::TurmoilNet));
                    }
                }
            )*
        }
    };
}

across_nodes!(
    a_name_runs_once_across_nodes,
    a_panicking_actor_releases_its_name,
    queued_requests_of_an_exiting_actor_are_broken_promises,
    fastest_returns_the_first_answer_and_cancels_the_rest,
    all_and_resend_reach_every_member_once,
    a_deposed_leaders_calls_are_refused,
    a_cut_node_stops_its_actors_before_its_lease_ends,
);
