//! Locking the operator's in-process state, and taking turns per key.

use std::sync::{Mutex, MutexGuard, PoisonError};

/// Locks `mutex`, also when a thread panicked holding it: what it guards is written whole under the lock,
/// so the value stays usable.
pub fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// One turn at a time per key, across tasks and controllers: those asking for a key's turn queue on its own
/// async lock, which is forgotten once nobody holds or waits for it.
#[derive(Default)]
pub struct Turns {
    keys: Mutex<std::collections::HashMap<String, std::sync::Arc<tokio::sync::Mutex<()>>>>,
}

/// A key's turn, held until dropped.
pub struct Turn<'a> {
    turns: &'a Turns,
    key: String,
    lock: std::sync::Arc<tokio::sync::Mutex<()>>,
    held: Option<tokio::sync::OwnedMutexGuard<()>>,
}

impl Turns {
    /// Waits for `key`'s turn.
    pub async fn take(&self, key: &str) -> Turn<'_> {
        let key_lock = lock(&self.keys).entry(key.to_string()).or_default().clone();
        let held = key_lock.clone().lock_owned().await;
        Turn {
            turns: self,
            key: key.to_string(),
            lock: key_lock,
            held: Some(held),
        }
    }

    /// How many keys have someone holding or waiting for their turn.
    pub fn busy(&self) -> usize {
        lock(&self.keys).len()
    }
}

impl Drop for Turn<'_> {
    fn drop(&mut self) {
        self.held = None;
        let mut keys = lock(&self.turns.keys);
        // The map's and this turn's: nobody else holds or waits.
        if std::sync::Arc::strong_count(&self.lock) == 2 {
            keys.remove(&self.key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The second asker of a key waits as long as the first holds its turn (a simulated minute here), gets
    /// it once the first lets go, and another key is never held up; a key nobody holds or waits for is
    /// forgotten.
    #[tokio::test(start_paused = true)]
    async fn a_keys_turns_come_one_at_a_time_and_the_key_is_forgotten_after_the_last() {
        let minute = std::time::Duration::from_secs(60);
        let turns = std::sync::Arc::new(Turns::default());
        let first = turns.take("ns/a").await;
        assert!(
            tokio::time::timeout(minute, turns.take("ns/a"))
                .await
                .is_err(),
            "a second turn of a key waits while the first is held"
        );
        let other = tokio::time::timeout(minute, turns.take("ns/b"))
            .await
            .expect("another key is not held up");
        let waiting = tokio::spawn({
            let turns = turns.clone();
            async move {
                let _second = turns.take("ns/a").await;
            }
        });
        drop(other);
        assert_eq!(turns.busy(), 1, "b is forgotten; a is held and waited for");
        drop(first);
        tokio::time::timeout(minute, waiting)
            .await
            .expect("the waiting turn comes once the first lets go")
            .expect("no panic");
        assert_eq!(turns.busy(), 0);
    }
}
