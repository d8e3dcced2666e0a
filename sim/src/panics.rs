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
