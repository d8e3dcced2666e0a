//! The harness itself: deadlock reports, the leak check, determinism and virtual time.

use std::time::Duration;

use sigrelay::check::{LoomCheck, ShuttleCheck, Strategy, TurmoilCheck};
use sigrelay::rt::prelude::*;
use sigrelay::rt::Shuttle;

/// Two tasks, each waiting to receive what only the other would send next.
async fn two_task_cycle<R: Runtime>(rt: R) {
    let (to_bob, mut bob_inbox) = rt.channel::<u32>("alice_to_bob", 1);
    let (to_alice, mut alice_inbox) = rt.channel::<u32>("bob_to_alice", 1);
    let alice = rt.spawn("alice", async move {
        to_bob.send(0).await.expect("bob is alive");
        let _reply = alice_inbox.recv().await;
        to_bob.send(1).await.expect("bob is alive");
    });
    let bob = rt.spawn("bob", async move {
        let _first = bob_inbox.recv().await;
        let _second = bob_inbox.recv().await;
        to_alice.send(2).await.expect("alice is alive");
    });
    let _ = alice.await;
    let _ = bob.await;
}

#[test]
fn shuttle_reports_a_channel_cycle_as_a_wait_for_graph() {
    let failure = ShuttleCheck::new(Strategy::Random, 50)
        .try_run(two_task_cycle)
        .expect_err("the cycle deadlocks on every schedule");
    let report = &failure.message;
    assert!(
        report.contains("deadlock: every task is blocked"),
        "{report}"
    );
    assert!(report.contains("task \"alice\""), "{report}");
    assert!(report.contains("task \"bob\""), "{report}");
    assert!(
        report.contains("waits to receive from channel \"bob_to_alice\""),
        "{report}"
    );
    assert!(
        report.contains("waits to receive from channel \"alice_to_bob\""),
        "{report}"
    );
    assert!(
        report.contains("other end held by \"bob\" (made by \"main\", moved in at spawn)"),
        "{report}"
    );
    assert!(report.contains("other end held by \"alice\""), "{report}");
    assert!(
        report.contains("cycle: \"alice\" -> \"bob\" -> \"alice\""),
        "{report}"
    );
    eprintln!("{failure}");
    assert!(report.contains("[0/1 buffered]"), "{report}");
    assert!(
        report.contains("tests/sim.rs"),
        "creation sites are named: {report}"
    );
    assert!(
        failure.replay.contains("Strategy::Replay"),
        "{}",
        failure.replay
    );
}

/// Ann takes a lock and tells Ben, then waits for Ben's word; Ben waits for the lock: a
/// cycle, found when Ben blocks. Unwinding Ben drops his word's sender, so Ann wakes, and
/// then more of what he holds, each a scheduling point: Ann may run there and wait on a
/// channel main keeps open, a second stall, which must not replace the first.
async fn a_cycle_then_a_stall<R: Runtime>(rt: R) {
    let lock = std::sync::Arc::new(rt.mutex("shared", ()));
    let (word, heard) = rt.oneshot::<()>("ben_to_ann");
    let (locked, ann_locked) = rt.oneshot::<()>("ann_locked");
    let (_keep, mut never) = rt.channel::<()>("never", 1);
    let ann_lock = lock.clone();
    let ann = rt.spawn("ann", async move {
        let _held = ann_lock.lock().await;
        let _ = locked.send(());
        let _ = heard.await;
        let _ = never.recv().await;
    });
    let ben_rt = rt.clone();
    let ben = rt.spawn("ben", async move {
        let _before = ben_rt.channel::<()>("before", 1);
        let _ = ann_locked.await;
        let pending = lock.lock();
        let _word = word;
        let _after = ben_rt.channel::<()>("after", 1);
        drop(pending.await);
    });
    let _ = ann.await;
    let _ = ben.await;
}

#[test]
fn a_deadlock_is_reported_as_found_not_as_its_unwinding_leaves_it() {
    for seed in 0..40 {
        let failure = ShuttleCheck::new(Strategy::Random, 1)
            .seed(seed)
            .try_run(a_cycle_then_a_stall)
            .expect_err("the cycle deadlocks on every schedule");
        let report = &failure.message;
        assert!(
            report.contains("waits to lock mutex \"shared\"")
                && report.contains("other end held by \"ann\"")
                && report.contains("waits to receive from oneshot \"ben_to_ann\""),
            "seed {seed}: {report}"
        );
        assert!(!report.contains("\"never\""), "seed {seed}: {report}");
    }
}

#[test]
fn loom_reports_the_same_cycle_instead_of_aborting() {
    let failure = LoomCheck::default()
        .try_run(two_task_cycle)
        .expect_err("the cycle deadlocks");
    assert!(
        failure.message.contains("deadlock: every task is blocked"),
        "{}",
        failure.message
    );
    assert!(failure.message.contains("cycle: "), "{}", failure.message);
}

async fn detached_task_that_never_ends<R: Runtime>(rt: R) {
    let (keep_open, mut never) = rt.channel::<u32>("never_written", 1);
    let _detached = rt.spawn("forgotten", async move { never.recv().await });
    rt.sleep(Duration::from_millis(5)).await;
    std::mem::forget(keep_open);
}

#[test]
fn leak_check_fails_on_a_detached_task_that_never_ends() {
    let failure = ShuttleCheck::new(Strategy::Random, 20)
        .try_run(detached_task_that_never_ends)
        .expect_err("the detached task outlives the body");
    assert!(
        failure
            .message
            .contains("leak: the body returned but 1 task(s) are still alive"),
        "{}",
        failure.message
    );
    assert!(
        failure.message.contains("task \"forgotten\""),
        "{}",
        failure.message
    );
    assert!(
        failure.message.contains("channel \"never_written\""),
        "{}",
        failure.message
    );
}

#[test]
fn a_body_panic_is_reported_not_the_tasks_it_left_blocked() {
    let failure = ShuttleCheck::new(Strategy::Random, 5)
        .try_run(|rt| async move {
            let (_tx, mut rx) = rt.channel::<u32>("never_written", 1);
            let _waiter = rt.spawn("waiter", async move { rx.recv().await });
            rt.yield_now().await;
            panic!("the body's own assertion");
        })
        .expect_err("the body panics");
    assert!(
        failure.message.contains("the body's own assertion"),
        "{}",
        failure.message
    );
    assert!(!failure.message.contains("deadlock"), "{}", failure.message);
}

#[test]
fn leak_check_passes_once_detached_tasks_end() {
    ShuttleCheck::new(Strategy::Random, 20).run(|rt| async move {
        let (tx, mut rx) = rt.channel::<u32>("finite", 1);
        let clock = rt.clone();
        let _detached = rt.spawn("finishes-later", async move {
            clock.sleep(Duration::from_secs(5)).await;
            tx.send(1).await.expect("the receiver is alive");
        });
        let _reader = rt.spawn("reader", async move { rx.recv().await });
    });
}

async fn chatty<R: Runtime>(rt: R) {
    let (tx, mut rx) = rt.channel::<u64>("chatter", 2);
    for name in ["one", "two", "three"] {
        let (tx, clock) = (tx.clone(), rt.clone());
        let mut rng = rt.rng();
        let _worker = rt.spawn(name, async move {
            for _ in 0..3 {
                clock.sleep(Duration::from_millis(rng.below(5))).await;
                tx.send(rng.next_u64())
                    .await
                    .expect("the receiver is alive");
            }
        });
    }
    drop(tx);
    while rx.recv().await.is_some() {}
}

#[test]
fn the_same_seed_gives_the_same_event_log() {
    let run = |seed| {
        let summary = ShuttleCheck::new(Strategy::Random, 1)
            .seed(seed)
            .run(chatty);
        summary.last.expect("one run was recorded").log
    };
    let (first, again) = (run(11), run(11));
    assert!(
        first.lines().len() > 20,
        "the log records the run: {:#?}",
        first.lines()
    );
    assert_eq!(first.first_difference(&again), None);
    assert_eq!(first.hash(), again.hash());
    let other = run(12);
    assert_ne!(
        first.hash(),
        other.hash(),
        "another seed schedules differently"
    );
    assert!(first.first_difference(&other).is_some());
}

#[test]
fn virtual_time_jumps_an_hour_at_once() {
    let wall = std::time::Instant::now();
    let summary = ShuttleCheck::new(Strategy::Random, 1).run(|rt| async move {
        let start = rt.now();
        rt.sleep(Duration::from_secs(3600)).await;
        assert_eq!(
            rt.now().since_start() - start.since_start(),
            Duration::from_secs(3600)
        );
    });
    let record = summary.last.expect("one run was recorded");
    assert_eq!(record.virtual_time, Duration::from_secs(3600));
    assert!(
        wall.elapsed() < Duration::from_secs(5),
        "an hour of virtual time took {:?}",
        wall.elapsed()
    );
}

#[test]
fn virtual_time_limit_stops_a_task_that_sleeps_forever() {
    let failure = ShuttleCheck::new(Strategy::Random, 1)
        .max_virtual_time(Duration::from_secs(60))
        .try_run(|rt| async move {
            let clock = rt.clone();
            let _ticker = rt.spawn("ticker", async move {
                loop {
                    clock.sleep(Duration::from_secs(1)).await;
                }
            });
        })
        .expect_err("the ticker never ends");
    assert!(
        failure.message.contains("virtual time limit of 60s"),
        "{}",
        failure.message
    );
    assert!(
        failure.message.contains("task \"ticker\""),
        "{}",
        failure.message
    );
}

#[test]
fn loom_refuses_a_fifth_task_clearly() {
    let failure = LoomCheck::default()
        .try_run(|rt| async move {
            for i in 0..5 {
                let _task = rt.spawn(&format!("task-{i}"), async {});
            }
        })
        .expect_err("loom runs at most four tasks besides the body");
    assert!(
        failure.message.contains("\"task-4\""),
        "{}",
        failure.message
    );
    assert!(failure.message.contains("at most 4"), "{}", failure.message);
}

/// Two tasks increment a counter with a read and a write under separate lock holds: an
/// update is lost only if one task runs between the other's read and write.
async fn lost_update<R: Runtime>(rt: R) {
    let counter = std::sync::Arc::new(rt.mutex("counter", 0u32));
    let mut workers = Vec::new();
    for name in ["left", "right"] {
        let (counter, yielder) = (counter.clone(), rt.clone());
        workers.push(rt.spawn(name, async move {
            let read = *counter.lock().await;
            yielder.yield_now().await;
            *counter.lock().await = read + 1;
        }));
    }
    for worker in workers {
        worker.await.expect("each worker ends");
    }
    assert_eq!(*counter.lock().await, 2, "an update was lost");
}

#[test]
fn shuttle_and_loom_find_an_interleaving_bug() {
    let shuttle = ShuttleCheck::new(Strategy::Random, 1_000).try_run(lost_update);
    assert!(shuttle
        .expect_err("some schedule loses an update")
        .message
        .contains("an update was lost"));
    let loom = LoomCheck::default().try_run(lost_update);
    assert!(loom
        .expect_err("some interleaving loses an update")
        .message
        .contains("an update was lost"));
}

#[test]
fn a_routine_waiting_for_its_own_group_is_reported_by_name() {
    use sigrelay::signal::Group;
    let failure = ShuttleCheck::new(Strategy::Random, 5)
        .try_run(|rt| async move {
            let group = Group::<String, _>::new(rt, "g");
            let own = group.clone();
            let selfish = group.go("selfish", move |_| async move {
                let _ = own.wait().await;
                Ok(())
            });
            selfish.await.expect("the group is open");
            let _ = group.wait().await;
        })
        .expect_err("the routine waits for itself");
    assert!(failure.message.contains("deadlock"), "{}", failure.message);
    assert!(
        failure.message.contains("task \"g/selfish\""),
        "{}",
        failure.message
    );
}

/// A stage asks a backend through a request queue, with the reply's sender inside the
/// request; the backend first waits for the stage's go-ahead, which the stage only gives
/// after the reply. The reply sender sits in the queue, so the backend holds it.
async fn reply_sender_parked_in_a_queue<R: Runtime>(rt: R) {
    let (requests, mut queue) = rt.channel::<R::OneshotSender<u32>>("requests", 4);
    let (go_ahead, mut go) = rt.channel::<()>("go-ahead", 1);
    let stage = rt.spawn("stage", {
        let rt = rt.clone();
        async move {
            let (reply, answer) = rt.oneshot::<u32>("reply");
            requests.send(reply).await.expect("the backend is alive");
            let _ = answer.await;
            let _ = go_ahead.send(()).await;
        }
    });
    let backend = rt.spawn("backend", async move {
        let _ = go.recv().await;
        if let Some(reply) = queue.recv().await {
            let _ = reply.send(1);
        }
    });
    let _ = stage.await;
    let _ = backend.await;
}

/// A stage sends a backend a request carrying the reply's sender; the backend keeps the
/// sender without using it and waits for the stage's next request, which the stage only
/// sends after the reply.
async fn reply_sender_kept_by_its_receiver<R: Runtime>(rt: R) {
    let (requests, mut queue) = rt.channel::<R::OneshotSender<u32>>("requests", 4);
    let stage = rt.spawn("stage", {
        let rt = rt.clone();
        async move {
            let (reply, answer) = rt.oneshot::<u32>("reply");
            requests.send(reply).await.expect("the backend is alive");
            let _ = answer.await;
            drop(requests);
        }
    });
    let backend = rt.spawn("backend", async move {
        let mut kept = Vec::new();
        while let Some(reply) = queue.recv().await {
            kept.push(reply);
        }
    });
    let _ = stage.await;
    let _ = backend.await;
}

#[test]
fn a_reply_sender_kept_by_its_receiver_is_held_by_the_receiver() {
    let failure = ShuttleCheck::new(Strategy::Random, 50)
        .try_run(reply_sender_kept_by_its_receiver)
        .expect_err("the stage and the backend wait for each other");
    let report = &failure.message;
    assert!(
        report.contains(
            "other end held by \"stage\", or inside a value \"stage\" sent since on channel \"requests\", received by \"backend\""
        ),
        "{report}"
    );
    assert!(
        report.contains("cycle: \"stage\" -> \"backend\" -> \"stage\"")
            || report.contains("cycle: \"backend\" -> \"stage\" -> \"backend\""),
        "{report}"
    );
}

#[test]
fn a_reply_sender_parked_in_a_queue_is_held_by_the_queue_reader() {
    let failure = ShuttleCheck::new(Strategy::Random, 50)
        .try_run(reply_sender_parked_in_a_queue)
        .expect_err("the stage and the backend wait for each other");
    let report = &failure.message;
    assert!(
        report.contains("waits to receive from oneshot \"reply\""),
        "{report}"
    );
    assert!(
        report.contains("or inside a value \"stage\" sent since, waiting in channel \"requests\""),
        "{report}"
    );
    assert!(
        report.contains("read by \"backend\" (made by \"main\", moved in at spawn)"),
        "{report}"
    );
    let go_ahead = report.lines().find(|l| l.contains("channel \"go-ahead\""));
    let go_ahead = go_ahead.expect("the backend's wait is listed");
    assert!(
        !go_ahead.contains("or inside"),
        "the go-ahead's sender, moved in at spawn, is not said to travel: {report}"
    );
    assert!(
        report.contains("cycle: \"stage\" -> \"backend\" -> \"stage\"")
            || report.contains("cycle: \"backend\" -> \"stage\" -> \"backend\""),
        "{report}"
    );
}

/// Leaves a task behind that waits on a channel only it can write.
async fn leaves_a_task_running<R: Runtime>(rt: R) {
    let (tx, mut rx) = rt.channel::<u8>("never-written", 1);
    let _forever = rt.spawn("forever", async move {
        let _own_sender = tx;
        rx.recv().await
    });
}

/// Leaves a task behind that ends 10 ms later.
async fn leaves_a_task_that_ends_later<R: Runtime>(rt: R) {
    let clock = rt.clone();
    let _later = rt.spawn("ends-later", async move {
        clock.sleep(Duration::from_millis(10)).await
    });
}

#[test]
fn a_turmoil_body_that_leaves_a_task_running_fails_naming_host_and_task() {
    let failure = TurmoilCheck::new(1)
        .duration(Duration::from_secs(1))
        .try_run(leaves_a_task_running)
        .expect_err("the task never ends");
    let report = &failure.message;
    assert!(
        report.contains("leak: the body returned but these tasks never ended"),
        "{report}"
    );
    assert!(report.contains("host \"main\": \"forever\""), "{report}");
}

#[test]
fn turmoil_waits_for_tasks_that_end_unless_strict() {
    TurmoilCheck::new(1)
        .try_run(leaves_a_task_that_ends_later)
        .expect("the task ends 10 ms after the body");
    let failure = TurmoilCheck::new(1)
        .strict(true)
        .try_run(leaves_a_task_that_ends_later)
        .expect_err("strict: no task may outlive the body");
    assert!(
        failure
            .message
            .contains("tasks outlived the body on host \"main\": \"ends-later\""),
        "{}",
        failure.message
    );
}

/// The OS thread a body runs on.
fn checker_thread_of(check: &ShuttleCheck) -> std::thread::ThreadId {
    let seen = std::sync::Arc::new(std::sync::Mutex::new(None));
    let sink = seen.clone();
    check.run(move |_rt: Shuttle| {
        let sink = sink.clone();
        async move { *sink.lock().unwrap() = Some(std::thread::current().id()) }
    });
    let id = seen.lock().unwrap().expect("the body ran");
    id
}

#[test]
fn passing_checks_share_a_checker_and_a_failure_gets_a_fresh_one() {
    let check = ShuttleCheck::new(Strategy::Random, 3);
    let first = checker_thread_of(&check);
    assert_eq!(
        checker_thread_of(&check),
        first,
        "a passing check keeps its checker"
    );
    let failed = check.try_run(|_rt: Shuttle| async { panic!("planted") });
    assert!(failed.is_err_and(|f| f.message.contains("planted")));
    assert_ne!(
        checker_thread_of(&check),
        first,
        "a failed check's checker is given up"
    );
}

#[test]
fn a_bad_replay_schedule_is_a_failure_and_the_next_check_runs() {
    let bad = ShuttleCheck::new(Strategy::Replay("not a schedule".into()), 1);
    let failed = bad.try_run(|_rt: Shuttle| async {});
    assert!(
        failed.is_err(),
        "a schedule that does not decode fails the check"
    );
    let summary = ShuttleCheck::new(Strategy::Random, 5).run(|_rt: Shuttle| async {});
    assert_eq!(summary.iterations, 5);
}

/// A recording keeps every event of its thread, even of a callsite another thread with no
/// subscriber reached first (tracing caches one interest per callsite for the process).
#[test]
fn a_recording_keeps_events_of_a_callsite_another_thread_reached_first() {
    use sigrelay::check::Recording;
    fn say(n: u32) {
        tracing::warn!(n, "a shared callsite");
    }
    let ((), recording) = Recording::capture(|| {
        std::thread::spawn(|| say(0))
            .join()
            .expect("the thread ends");
        say(1);
    });
    let lines = recording.lines();
    let kept = |l: &String| l.contains("a shared callsite n=1");
    assert_eq!(lines.iter().filter(|l| kept(l)).count(), 1, "{lines:#?}");
}
