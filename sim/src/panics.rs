//! Panics caught inside a simulated run are the harness's to report, with their
//! reproducer; every other panic (the harness's own, a user's binary's) prints as usual.

use std::cell::Cell;

thread_local! {
    static IN_RUN: Cell<bool> = const { Cell::new(false) };
}

/// Installs the hook: silent for panics raised inside [`inside_run`] on the same thread or
/// inside a check's simulation ([`sigrelay::check::checking`]), the previous hook
/// (shuttle's, then the default) for any other. Shuttle installs its own
/// hook on its first run, so an empty run comes first and the new hook wraps it.
pub fn quiet_inside_runs() {
    let _ = sigrelay::check::ShuttleCheck::new(sigrelay::check::Strategy::Random, 1)
        .try_run(|_| async {});
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if !IN_RUN.with(Cell::get) && !sigrelay::check::checking() {
            previous(info);
        }
    }));
}

/// Runs `run` as a simulated run: panics it raises are reported by the harness.
pub fn inside_run<T>(run: impl FnOnce() -> T) -> T {
    let outer = IN_RUN.with(|flag| flag.replace(true));
    let _restore = Restore(outer);
    run()
}

struct Restore(bool);

impl Drop for Restore {
    fn drop(&mut self) {
        IN_RUN.with(|flag| flag.set(self.0));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    thread_local! {
        static PRINTED: Cell<usize> = const { Cell::new(0) };
    }

    /// A panic inside a run reaches no earlier hook; one outside a run does. The hook is
    /// process-wide, so the test counts on its own thread only and puts the default back.
    #[test]
    fn only_panics_inside_a_run_are_silenced() {
        std::panic::set_hook(Box::new(|_| PRINTED.with(|n| n.set(n.get() + 1))));
        quiet_inside_runs();
        let before = PRINTED.with(Cell::get);
        let inside = inside_run(|| std::panic::catch_unwind(|| panic!("inside a run")));
        let after_inside = PRINTED.with(Cell::get);
        let outside = std::panic::catch_unwind(|| panic!("the harness's own"));
        let after_outside = PRINTED.with(Cell::get);
        drop(std::panic::take_hook());
        assert!(inside.is_err() && outside.is_err());
        assert_eq!(
            after_inside, before,
            "a panic inside a run is the harness's to report"
        );
        assert_eq!(after_outside, before + 1, "any other panic prints");
    }
}
