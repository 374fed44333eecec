//! What `/readyz` answers. A replica is ready when it can do its job: the leader once every controller's
//! cache has listed its objects (before that, "none" in a cache could mean "not read yet") and so have the
//! task caches of every shard it holds ([`crate::shards`]; a shard taken later makes it wait again), a standby once
//! it knows another replica holds a valid lease. Before leadership is decided it is not ready, so a rollout
//! never counts a replica that has not even reached the API.

use std::{
    collections::HashSet,
    sync::Mutex,
    time::{Duration, Instant},
};

/// This replica's part, as far as it knows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// Leadership not decided yet.
    Starting,
    /// Another replica holds a valid lease; this one waits to take over.
    Standby,
    /// This replica holds the lease and runs the controllers.
    Leading,
}

/// Readiness of this replica, shared by the run loop, the controllers' caches and the HTTP server.
pub struct Readiness {
    started: Instant,
    expected_kinds: usize,
    state: Mutex<State>,
}

struct State {
    role: Role,
    synced: HashSet<&'static str>,
    /// Whether every shard held has its tasks cached.
    shards_filled: bool,
    ready_after: Option<Duration>,
}

impl Readiness {
    /// Readiness of a replica whose controllers watch `expected_kinds` kinds.
    pub fn new(expected_kinds: usize) -> Self {
        Self {
            started: Instant::now(),
            expected_kinds,
            state: Mutex::new(State {
                role: Role::Starting,
                synced: HashSet::new(),
                shards_filled: false,
                ready_after: None,
            }),
        }
    }

    /// Records this replica's role. Losing or gaining the lease forgets which caches had synced: the
    /// controllers start afresh.
    pub fn set_role(&self, role: Role) {
        let mut state = crate::sync::lock(&self.state);
        if state.role != role {
            state.synced.clear();
            state.shards_filled = false;
        }
        state.role = role;
        self.note_ready(&mut state);
    }

    /// Records that every cache of `kind` has listed its objects once.
    pub fn kind_synced(&self, kind: &'static str) {
        let mut state = crate::sync::lock(&self.state);
        if state.role == Role::Leading && state.synced.insert(kind) {
            tracing::info!(
                kind,
                synced = state.synced.len(),
                of = self.expected_kinds,
                after_ms = self.started.elapsed().as_millis(),
                "cache synced"
            );
            self.note_ready(&mut state);
        }
    }

    /// Records whether every shard this replica holds has its tasks cached, as `filled` says when asked
    /// under the lock (so that two callers cannot record their answers in the opposite order).
    pub fn shards_filled(&self, filled: impl FnOnce() -> bool) {
        let mut state = crate::sync::lock(&self.state);
        state.shards_filled = filled();
        self.note_ready(&mut state);
    }

    /// Whether `/readyz` says ready.
    pub fn is_ready(&self) -> bool {
        self.answer().1
    }

    /// The role and whether it is ready, read together (for `/readyz`).
    pub fn answer(&self) -> (Role, bool) {
        let state = crate::sync::lock(&self.state);
        (state.role, Self::ready(&state, self.expected_kinds))
    }

    fn ready(state: &State, expected_kinds: usize) -> bool {
        match state.role {
            Role::Starting => false,
            Role::Standby => true,
            Role::Leading => state.synced.len() >= expected_kinds && state.shards_filled,
        }
    }

    fn note_ready(&self, state: &mut State) {
        if state.ready_after.is_none() && Self::ready(state, self.expected_kinds) {
            let after = self.started.elapsed();
            state.ready_after = Some(after);
            tracing::info!(role = ?state.role, after_ms = after.as_millis(), "ready");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_leader_is_ready_only_once_every_kind_has_synced() {
        let readiness = Readiness::new(2);
        assert!(!readiness.is_ready(), "undecided");
        readiness.kind_synced("BackupTask");
        readiness.set_role(Role::Leading);
        assert!(
            !readiness.is_ready(),
            "a sync reported before leading is not counted"
        );
        readiness.kind_synced("BackupTask");
        readiness.kind_synced("BackupTask");
        assert!(!readiness.is_ready(), "one kind of two");
        readiness.kind_synced("LogBackup");
        assert!(!readiness.is_ready(), "its shards' tasks not cached yet");
        readiness.shards_filled(|| true);
        assert!(readiness.is_ready());
        readiness.shards_filled(|| false);
        assert!(!readiness.is_ready(), "a shard taken later is waited for");
    }

    #[test]
    fn a_standby_is_ready_and_a_new_leader_waits_for_its_caches_again() {
        let readiness = Readiness::new(1);
        readiness.set_role(Role::Standby);
        assert!(readiness.is_ready());
        readiness.shards_filled(|| true);
        readiness.set_role(Role::Leading);
        assert!(!readiness.is_ready());
        readiness.kind_synced("BackupTask");
        assert!(
            !readiness.is_ready(),
            "filled as a standby counts for nothing"
        );
        readiness.shards_filled(|| true);
        assert!(readiness.is_ready());
        readiness.set_role(Role::Starting);
        assert!(!readiness.is_ready());
    }
}
