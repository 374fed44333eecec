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

    #[tokio::test]
    async fn a_keys_turns_come_one_at_a_time_and_the_key_is_forgotten_after_the_last() {
        let turns = std::sync::Arc::new(Turns::default());
        let first = turns.take("ns/a").await;
        let other = turns.take("ns/b").await;
        let waiting = tokio::spawn({
            let turns = turns.clone();
            async move {
                let _second = turns.take("ns/a").await;
            }
        });
        tokio::task::yield_now().await;
        assert!(!waiting.is_finished(), "the second waits for the first");
        drop(other);
        assert_eq!(turns.busy(), 1, "b is forgotten; a is held and waited for");
        drop(first);
        waiting.await.expect("the second got its turn");
        assert_eq!(turns.busy(), 0);
    }
}
