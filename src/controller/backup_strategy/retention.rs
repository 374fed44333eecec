//! Each tenant's `'default'` delete policy at the strategy's `retention.recoveryWindow`
//! (docs/reference/oceanbase-interface.md §5.1): added when missing, dropped and added again when
//! the window differs (OceanBase has no ALTER for it).

use super::super::Context;
use crate::{
    api::BackupStrategy,
    observer::ClusterObserver,
    oceanbase::{Redactor, Snapshot, sql},
};

/// Brings every tenant's policy to the strategy's window; returns the tenants OceanBase refused, with why.
/// A refused tenant is tried again after [`super::super::RETRY_REFUSED_AFTER`].
pub async fn apply(
    ctx: &Context,
    observer: &ClusterObserver,
    namespace: &str,
    strategy: &BackupStrategy,
    snapshot: &Snapshot,
    tenants: &[String],
) -> Vec<(String, String)> {
    let window = &strategy.spec.retention.recovery_window;
    let mut errors = Vec::new();
    for name in tenants {
        let Some(tenant) = snapshot.tenant(name) else {
            continue;
        };
        let statements = match snapshot.delete_policy(tenant.id) {
            Some((_, current)) if current == window => continue,
            Some(_) => vec![
                sql::drop_delete_policy(name),
                sql::add_delete_policy(name, window),
            ],
            None => vec![sql::add_delete_policy(name, window)],
        };
        let key = format!(
            "{namespace}/{}/{name}",
            strategy.metadata.name.as_deref().unwrap_or_default()
        );
        if let Some((_, reason)) = ctx.statements.refused_recently(&key, "policy") {
            errors.push((name.clone(), reason));
            continue;
        }
        let outcome = ctx
            .observers
            .execute(observer, statements, &Redactor::default())
            .await
            .map_err(|error| error.to_string());
        ctx.statements.record(
            &key,
            "policy",
            crate::controller::Kind::Repeatable,
            outcome.clone(),
        );
        match outcome {
            Ok(()) => observer.poke(),
            Err(reason) => errors.push((name.clone(), reason)),
        }
    }
    errors
}
