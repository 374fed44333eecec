//! The outcomes of recent Secret checks, shared by every object of a controller that names the same Secret
//! ([`super::references::ReferenceCheck`] reads and records them).

use super::error::Problem;
use crate::{sync::lock, timing::SECRET_CHECK_TTL};

/// The outcomes of recent Secret checks, by (namespace, Secret, keys checked). Holds what was wrong, never
/// a Secret's data.
#[derive(Default)]
pub struct SecretChecks {
    outcomes: std::sync::Mutex<
        std::collections::HashMap<SecretCheckKey, (tokio::time::Instant, Vec<Problem>)>,
    >,
}

pub type SecretCheckKey = (String, String, &'static [&'static str]);

impl SecretChecks {
    /// The problems a check of `key` found within [`SECRET_CHECK_TTL`], if there was one.
    pub fn recent(&self, key: &SecretCheckKey) -> Option<Vec<Problem>> {
        let outcomes = lock(&self.outcomes);
        let (at, problems) = outcomes.get(key)?;
        (at.elapsed() < SECRET_CHECK_TTL).then(|| problems.clone())
    }

    /// Records the outcome of a check, dropping outcomes too old to be reused.
    pub fn record(&self, key: SecretCheckKey, problems: Vec<Problem>) {
        let mut outcomes = lock(&self.outcomes);
        outcomes.retain(|_, (at, _)| at.elapsed() < SECRET_CHECK_TTL);
        outcomes.insert(key, (tokio::time::Instant::now(), problems));
    }
}
