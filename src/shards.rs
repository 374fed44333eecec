//! Sharding across replicas (docs/operations/scaling.md): the objects of a namespace belong to shard
//! `fnv1a(namespace) mod count`, and a replica reconciles only the objects of the shards whose Lease it
//! holds. A strategy and its tasks share a namespace, so they share a shard; what spans namespaces (a
//! tenant's one owner, a destination's one writer) is decided from the caches, which every replica fills
//! with every strategy and LogBackup. BackupTasks, the bulk of an estate, are cached by shard: a strategy
//! labels the tasks it makes with their shard ([`SHARD_LABEL`]), a replica caches the labelled tasks of the
//! shards it holds, and every replica caches the tasks without a label of this count (made by hand or
//! before). A shard taken is reconciled only once its tasks are cached ([`Shards::fill`]): a strategy that
//! looked before would see none of its tasks.
//!
//! The shard count is fixed for a deployment: changing it moves namespaces between shards, so the replicas
//! of the old count must be gone before those of the new one start (the chart's `Recreate` rollout).

use std::sync::atomic::{AtomicBool, Ordering};

/// The label on a BackupTask that says its shard, as `<shard>-of-<count>`: a count in the value keeps the
/// labels of another shard count from matching this one's selectors.
pub const SHARD_LABEL: &str = "obbackup.dev/shard";

/// The shards of a deployment and which of them this replica holds.
pub struct Shards {
    /// Whose Lease this replica holds.
    held: Vec<AtomicBool>,
    /// Which of those it reconciles: their tasks are cached.
    filled: Vec<AtomicBool>,
    /// Bumped each time a shard is taken, for those that cache its tasks.
    taken: tokio::sync::watch::Sender<u64>,
    /// Bumped each time a shard is filled, for those that wake its objects.
    filled_count: tokio::sync::watch::Sender<u64>,
}

impl Shards {
    /// `count` shards (at least one), none held.
    pub fn new(count: u32) -> Self {
        let flags = || (0..count.max(1)).map(|_| AtomicBool::new(false)).collect();
        Self {
            held: flags(),
            filled: flags(),
            taken: tokio::sync::watch::channel(0).0,
            filled_count: tokio::sync::watch::channel(0).0,
        }
    }

    /// One shard, held and filled: a replica that reconciles everything (the in-process tier).
    pub fn whole() -> Self {
        let shards = Self::new(1);
        shards.take(0);
        shards.fill(0);
        shards
    }

    /// How many shards there are.
    pub fn count(&self) -> u32 {
        u32::try_from(self.held.len()).unwrap_or(u32::MAX)
    }

    /// The shard of the objects of `namespace`.
    pub fn of(&self, namespace: &str) -> u32 {
        let count = u64::try_from(self.held.len()).unwrap_or(1);
        u32::try_from(fnv1a(namespace.as_bytes()) % count).unwrap_or(0)
    }

    /// Whether this replica reconciles the objects of `namespace`: it holds their shard, and has cached
    /// its tasks.
    pub fn holds(&self, namespace: &str) -> bool {
        self.is_filled(self.of(namespace))
    }

    /// Whether this replica holds `shard`'s Lease.
    pub fn is_held(&self, shard: u32) -> bool {
        flag(&self.held, shard).is_some_and(|s| s.load(Ordering::Acquire))
    }

    /// Whether `shard`'s tasks are cached here, so that its objects are reconciled.
    pub fn is_filled(&self, shard: u32) -> bool {
        flag(&self.filled, shard).is_some_and(|s| s.load(Ordering::Acquire))
    }

    /// The shards held whose tasks are cached.
    pub fn filled(&self) -> Vec<u32> {
        (0..self.count()).filter(|s| self.is_filled(*s)).collect()
    }

    /// Whether every shard held has its tasks cached.
    pub fn all_filled(&self) -> bool {
        (0..self.count()).all(|s| !self.is_held(s) || self.is_filled(s))
    }

    /// The shards this replica holds.
    pub fn held(&self) -> Vec<u32> {
        (0..self.count()).filter(|s| self.is_held(*s)).collect()
    }

    /// Records that this replica holds `shard` now. A shard is never given back while the process runs:
    /// a replica that loses one exits.
    pub fn take(&self, shard: u32) {
        if let Some(slot) = flag(&self.held, shard)
            && !slot.swap(true, Ordering::AcqRel)
        {
            self.taken.send_modify(|n| *n += 1);
        }
    }

    /// Records that the tasks of `shard`, held, are cached: its objects are reconciled from now on.
    pub fn fill(&self, shard: u32) {
        if self.is_held(shard)
            && let Some(slot) = flag(&self.filled, shard)
            && !slot.swap(true, Ordering::AcqRel)
        {
            self.filled_count.send_modify(|n| *n += 1);
        }
    }

    /// A receiver told each time a shard is taken.
    pub fn taken(&self) -> tokio::sync::watch::Receiver<u64> {
        self.taken.subscribe()
    }

    /// A receiver told each time a shard is filled.
    pub fn filled_changes(&self) -> tokio::sync::watch::Receiver<u64> {
        self.filled_count.subscribe()
    }

    /// The label value of the BackupTasks of `namespace`'s shard.
    pub fn label(&self, namespace: &str) -> String {
        self.label_of(self.of(namespace))
    }

    /// The label value of `shard`'s BackupTasks.
    pub fn label_of(&self, shard: u32) -> String {
        format!("{shard}-of-{}", self.count())
    }

    /// The label selector of `shard`'s BackupTasks.
    pub fn selector_of(&self, shard: u32) -> String {
        format!("{SHARD_LABEL}={}", self.label_of(shard))
    }

    /// The label selector of the BackupTasks no shard of this count selects: unlabelled, or labelled for
    /// another count (or by hand).
    pub fn stray_selector(&self) -> String {
        let labels: Vec<String> = (0..self.count()).map(|s| self.label_of(s)).collect();
        format!("{SHARD_LABEL} notin ({})", labels.join(","))
    }
}

fn flag(flags: &[AtomicBool], shard: u32) -> Option<&AtomicBool> {
    flags.get(usize::try_from(shard).ok()?)
}

/// The name of `shard`'s Lease: shard 0 keeps the leader Lease's own name, so one shard is exactly the
/// single-leader deployment it replaces.
pub fn lease_name(base: &str, shard: u32) -> String {
    if shard == 0 {
        base.to_string()
    } else {
        format!("{base}-shard-{shard}")
    }
}

/// The field manager replica `identity` writes its Leases with, its own: kube-lease-manager takes a free
/// Lease by a server-side apply without force, so two replicas taking one at the same moment are told apart
/// only by the API server's conflict between two managers of `holderIdentity`. Under one manager shared by
/// every replica the second apply overwrote the first, and both held the shard until the first noticed.
/// A name past the API's 128 characters takes the identity's hash instead.
pub fn lease_field_manager(identity: &str) -> String {
    let named = format!("{}-lease-{identity}", crate::controller::FIELD_MANAGER);
    if named.len() <= 128 {
        named
    } else {
        format!(
            "{}-lease-{:016x}",
            crate::controller::FIELD_MANAGER,
            fnv1a(identity.as_bytes())
        )
    }
}

/// 64-bit FNV-1a: a fixed hash, so that every replica and every version puts a namespace in the same
/// shard (the standard library's hasher is free to change between releases).
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(*byte)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_replica_writes_its_leases_as_a_manager_of_its_own_within_the_apis_length() {
        let a = lease_field_manager("ob-backup-operator-7d9f8b6c5-x2k4p");
        let b = lease_field_manager("ob-backup-operator-7d9f8b6c5-q8z1m");
        assert_ne!(a, b);
        assert_eq!(
            a,
            "ob-backup-operator-lease-ob-backup-operator-7d9f8b6c5-x2k4p"
        );
        let long = "r".repeat(200);
        let hashed = lease_field_manager(&long);
        assert!(hashed.len() <= 128, "{hashed}");
        assert_ne!(hashed, lease_field_manager(&"r".repeat(201)));
    }

    #[test]
    fn the_hash_is_fnv1a_as_published() {
        // The reference values of the FNV-1a 64-bit function.
        assert_eq!(fnv1a(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a(b"foobar"), 0x8594_4171_f739_67e8);
    }

    #[test]
    fn namespaces_spread_over_the_shards_and_stay_in_theirs() {
        let shards = Shards::new(4);
        let mut per_shard = [0usize; 4];
        for i in 0..400 {
            let namespace = format!("team-{i}");
            let shard = shards.of(&namespace);
            assert_eq!(shard, shards.of(&namespace), "the same every time");
            per_shard[usize::try_from(shard).expect("small")] += 1;
        }
        assert!(
            per_shard.iter().all(|n| (60..=140).contains(n)),
            "{per_shard:?}"
        );
    }

    #[test]
    fn a_replica_holds_only_the_shards_it_took_and_is_told_of_each() {
        let shards = Shards::new(3);
        let taken = shards.taken();
        let namespace = (0..)
            .map(|i| format!("ns-{i}"))
            .find(|n| shards.of(n) == 2)
            .expect("a namespace of shard 2");
        let filled = shards.filled_changes();
        assert!(!shards.holds(&namespace));
        shards.fill(2);
        assert!(!shards.is_filled(2), "a shard not held is not filled");
        shards.take(2);
        shards.take(2);
        assert_eq!(shards.held(), [2]);
        assert_eq!(*taken.borrow(), 1, "told once");
        assert!(
            !shards.holds(&namespace) && !shards.all_filled(),
            "held but its tasks not cached yet: not reconciled"
        );
        shards.fill(2);
        shards.fill(2);
        assert!(shards.holds(&namespace) && shards.all_filled());
        assert_eq!(*filled.borrow(), 1, "told once");
        shards.take(7);
        assert_eq!(shards.held(), [2], "a shard beyond the count is no shard");
    }

    #[test]
    fn each_shard_selects_its_own_labels_and_the_strays_select_every_other() {
        let shards = Shards::new(3);
        assert_eq!(shards.selector_of(1), "obbackup.dev/shard=1-of-3");
        assert_eq!(
            shards.stray_selector(),
            "obbackup.dev/shard notin (0-of-3,1-of-3,2-of-3)"
        );
        let namespace = "team-a";
        assert_eq!(
            shards.label(namespace),
            format!("{}-of-3", shards.of(namespace))
        );
        assert_eq!(
            Shards::new(1).stray_selector(),
            "obbackup.dev/shard notin (0-of-1)"
        );
    }

    #[test]
    fn one_shard_is_the_leader_lease_and_holds_everything() {
        assert_eq!(lease_name("ob-backup-operator", 0), "ob-backup-operator");
        assert_eq!(
            lease_name("ob-backup-operator", 3),
            "ob-backup-operator-shard-3"
        );
        let whole = Shards::whole();
        assert!(whole.holds("any") && whole.holds("other"));
        assert_eq!(Shards::new(0).count(), 1, "at least one shard");
    }
}
