//! Fingerprints: 64-bit hashes that tell whether something changed between two looks — an object's slice
//! of a snapshot, what a watch event touched. They are compared, never used to place keys, so one fixed
//! seed serves (the same value hashes the same at every read). foldhash's quality variant rather than the
//! standard library's SipHash, whose hashing of every watching object's slice at every read showed in the
//! observers' profile (docs/contributing/benchmarks.md).

use std::hash::{BuildHasher, Hash};

/// The fingerprint of `value`.
pub fn of(value: impl Hash) -> u64 {
    foldhash::quality::FixedState::default().hash_one(value)
}

#[cfg(test)]
mod tests {
    #[test]
    fn equal_values_agree_and_a_changed_part_differs() {
        let a = ("tenant1", 3_i64, Some("DOING"));
        assert_eq!(super::of(a), super::of(("tenant1", 3_i64, Some("DOING"))));
        assert_ne!(super::of(a), super::of(("tenant1", 3_i64, Some("STOP"))));
    }
}
