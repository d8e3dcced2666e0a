//! Hard states: the rare states a simulation sweep must show it reached (Antithesis calls
//! these "sometimes" assertions).
//!
//! Code marks a state where it happens with [`reached`]; a harness runs one simulated run
//! inside [`collect`] and learns which states that run reached. Marking is a thread-local
//! look-up when nothing collects, and changes nothing the run does, so it is free to leave
//! in production code. Loom and turmoil run a whole simulation on the thread that started
//! it, and a shuttle check hands what its checker thread collected back to the thread that
//! started it, so everything a simulated run marks is collected; on a multi-threaded tokio
//! runtime, marks made on other threads are not.

use std::cell::RefCell;
use std::collections::BTreeSet;

thread_local! {
    static REACHED: RefCell<Option<BTreeSet<&'static str>>> = const { RefCell::new(None) };
}

/// Marks `state` as reached by the run being collected on this thread, if any.
pub fn reached(state: &'static str) {
    REACHED.with(|reached| {
        if let Some(set) = reached.borrow_mut().as_mut() {
            set.insert(state);
        }
    });
}

/// Marks every one of `states` — what a run collected on another thread reached — for
/// the run being collected on this thread, if any.
pub fn reached_all(states: impl IntoIterator<Item = &'static str>) {
    states.into_iter().for_each(reached);
}

/// Runs `run` and returns what it returned with the states it marked. Collections nest:
/// an outer collection sees what an inner one saw.
pub fn collect<T>(run: impl FnOnce() -> T) -> (T, BTreeSet<&'static str>) {
    let outer = REACHED.with(|reached| reached.borrow_mut().replace(BTreeSet::new()));
    let restore = Restore(outer);
    let value = run();
    let seen = REACHED.with(|reached| reached.borrow().clone().unwrap_or_default());
    drop(restore);
    (value, seen)
}

/// Takes the states marked on this thread since its collection began or was last drained,
/// leaving the collection (empty) in place: how a thread that serves run after run inside
/// one collection hands each caller what its runs reached.
#[cfg(feature = "rt-shuttle")]
pub(crate) fn drain() -> BTreeSet<&'static str> {
    REACHED
        .with(|reached| reached.borrow_mut().as_mut().map(std::mem::take))
        .unwrap_or_default()
}

/// Puts the outer collection back, with the inner one's states added — also when the run
/// panics.
struct Restore(Option<BTreeSet<&'static str>>);

impl Drop for Restore {
    fn drop(&mut self) {
        let mut outer = self.0.take();
        REACHED.with(|reached| {
            let inner = reached.borrow_mut().take().unwrap_or_default();
            if let Some(outer) = outer.as_mut() {
                outer.extend(inner);
            }
            *reached.borrow_mut() = outer;
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_collection_sees_what_its_run_marked_and_nothing_else() {
        reached("before");
        let ((), outer) = collect(|| {
            reached("a");
            let ((), inner) = collect(|| reached("b"));
            assert_eq!(inner, BTreeSet::from(["b"]));
        });
        assert_eq!(outer, BTreeSet::from(["a", "b"]));
        let ((), after) = collect(|| ());
        assert!(after.is_empty());
    }

    #[test]
    fn a_panicking_run_leaves_the_outer_collection_in_place() {
        let ((), outer) = collect(|| {
            reached("a");
            let caught = std::panic::catch_unwind(|| collect(|| panic!("inner")));
            assert!(caught.is_err());
            reached("c");
        });
        assert_eq!(outer, BTreeSet::from(["a", "c"]));
    }
}
