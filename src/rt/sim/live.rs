//! The live tasks of a run, by id, with a count of the blocked ones so that the synctest
//! rule ("has every task blocked?") is answered without a walk over them.

use super::report::{RunState, TaskEntry, TaskId};

/// The live tasks: ids are dense from 0 (the body), an exited task leaves a hole.
#[derive(Debug, Default)]
pub(crate) struct Live {
    tasks: Vec<Option<TaskEntry>>,
    len: usize,
    blocked: usize,
}

impl Live {
    pub(crate) fn insert(&mut self, id: TaskId, entry: TaskEntry) {
        if self.tasks.len() <= id {
            self.tasks.resize_with(id + 1, || None);
        }
        self.blocked += usize::from(entry.state == RunState::Blocked);
        if self.tasks[id].replace(entry).is_none() {
            self.len += 1;
        }
    }

    pub(crate) fn remove(&mut self, id: TaskId) {
        if let Some(entry) = self.tasks.get_mut(id).and_then(Option::take) {
            self.len -= 1;
            self.blocked -= usize::from(entry.state == RunState::Blocked);
        }
    }

    pub(crate) fn get_mut(&mut self, id: TaskId) -> Option<&mut TaskEntry> {
        self.tasks.get_mut(id)?.as_mut()
    }

    pub(crate) fn contains(&self, id: TaskId) -> bool {
        self.tasks.get(id).is_some_and(Option::is_some)
    }

    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Whether there are live tasks and every one is blocked.
    pub(crate) fn all_blocked(&self) -> bool {
        self.len > 0 && self.blocked == self.len
    }

    /// Moves task `id`, if live, to the state `next` gives for its current one.
    pub(crate) fn set_state(&mut self, id: TaskId, next: impl FnOnce(RunState) -> RunState) {
        if let Some(entry) = self.tasks.get_mut(id).and_then(Option::as_mut) {
            let was = entry.state == RunState::Blocked;
            entry.state = next(entry.state);
            let is = entry.state == RunState::Blocked;
            self.blocked = self.blocked + usize::from(is) - usize::from(was);
        }
    }

    /// The live tasks in id order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (TaskId, &TaskEntry)> {
        self.tasks
            .iter()
            .enumerate()
            .filter_map(|(id, t)| Some((id, t.as_ref()?)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::panic::Location;

    fn entry(state: RunState) -> TaskEntry {
        TaskEntry {
            state,
            waits: Vec::new(),
            spawned_at: Location::caller(),
        }
    }

    #[test]
    fn counts_blocked_tasks_through_every_change() {
        let mut live = Live::default();
        assert!(!live.all_blocked(), "no task is not every task blocked");
        live.insert(0, entry(RunState::Runnable));
        live.insert(2, entry(RunState::Blocked));
        assert_eq!((live.len(), live.all_blocked()), (2, false));
        live.set_state(0, |_| RunState::Blocked);
        assert!(live.all_blocked());
        live.set_state(2, |_| RunState::Runnable);
        assert!(!live.all_blocked());
        live.remove(2);
        assert!(live.all_blocked() && live.contains(0) && !live.contains(2));
        live.remove(0);
        assert!(live.len() == 0 && !live.all_blocked());
        live.set_state(0, |_| RunState::Blocked);
        assert!(!live.all_blocked(), "a change to an exited task is ignored");
        assert_eq!(live.iter().count(), 0);
    }
}
