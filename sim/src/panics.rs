//! Panics caught inside a simulated run are the harness's to report, with their
//! reproducer; every other panic (the harness's own, a user's binary's) prints as usual.

/// Installs the hook: silent for panics raised inside a check's simulation
/// ([`sigrelay::check::checking`]), the previous hook (shuttle's, then the default) for any
/// other. Shuttle installs its own hook on its first run, so an empty run comes first and
/// the new hook wraps it.
pub fn quiet_inside_runs() {
    let _ = sigrelay::check::ShuttleCheck::new(sigrelay::check::Strategy::Random, 1)
        .try_run(|_| async {});
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if !sigrelay::check::checking() {
            previous(info);
        }
    }));
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use sigrelay::check::{ShuttleCheck, Strategy};

    use super::*;

    static PRINTED: AtomicUsize = AtomicUsize::new(0);
    const INSIDE: &str = "panics::tests: inside a run";
    const OUTSIDE: &str = "panics::tests: the harness's own";

    /// A panic inside a run reaches no earlier hook; one outside a run does. The hook is
    /// process-wide, so the test counts only its own two panics and puts the default back.
    #[test]
    fn only_panics_inside_a_run_are_silenced() {
        std::panic::set_hook(Box::new(|info| {
            let payload = info.payload();
            let message = (payload.downcast_ref::<String>().map(String::as_str))
                .or_else(|| payload.downcast_ref::<&str>().copied());
            if message.is_some_and(|m| m == INSIDE || m == OUTSIDE) {
                PRINTED.fetch_add(1, Ordering::SeqCst);
            }
        }));
        quiet_inside_runs();
        let before = PRINTED.load(Ordering::SeqCst);
        let inside =
            ShuttleCheck::new(Strategy::Random, 1).try_run(|_| async { panic!("{}", INSIDE) });
        let after_inside = PRINTED.load(Ordering::SeqCst);
        let outside = std::panic::catch_unwind(|| panic!("{}", OUTSIDE));
        let after_outside = PRINTED.load(Ordering::SeqCst);
        drop(std::panic::take_hook());
        assert!(inside.is_err() && outside.is_err());
        assert_eq!(
            after_inside, before,
            "a panic inside a run is the harness's to report"
        );
        assert_eq!(after_outside, before + 1, "any other panic prints");
    }
}
