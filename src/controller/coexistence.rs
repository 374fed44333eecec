//! Never fight ob-operator (docs/guide/ob-operator.md): a tenant an `OBTenantBackupPolicy` holds is
//! left to it. Any object of ours that would change that tenant's archiving, destinations or delete
//! policy, or run its backups and cleanups, is `Stalled` naming the policy and sends nothing —
//! whether it reaches the cluster through an OBCluster or a connection Secret: clusters are matched
//! by OceanBase's own `cluster` and `cluster_id`, never by a display name.

use crate::reason::Reason;
use crate::{
    api::common::{ClusterConnection, ClusterSource},
    controller::{Context, error::Problem},
    observer::ClusterKey,
    oceanbase::ClusterIdentity,
};

/// Who the cluster of `cluster` (as objects in `namespace` reach it) is: its OBCluster's identity, or what
/// the cluster said when its observer connected. `None` until known.
pub fn identity(
    ctx: &Context,
    namespace: &str,
    cluster: &ClusterConnection,
) -> Option<ClusterIdentity> {
    if let ClusterSource::ObCluster(name) = cluster.source()
        && let Ok(facts) = ctx.observers.ob_operator().facts(namespace, &name)
    {
        return Some(facts.identity);
    }
    ctx.observers.identity(&ClusterKey::of(namespace, cluster))
}

/// Why `tenants` of `cluster` are not ours to touch (an empty list: every tenant), if a policy holds one.
pub fn problem(
    ctx: &Context,
    namespace: &str,
    cluster: &ClusterConnection,
    tenants: &[String],
) -> Option<Problem> {
    let claims = match ctx.observers.ob_operator().claims() {
        Ok(claims) if !claims.is_empty() => claims,
        Ok(_) => return None,
        // Said once at start (the caches did not sync in time); not on every reconcile.
        Err(why) => {
            tracing::debug!(%why, "cannot tell yet whether ob-operator holds a tenant");
            return None;
        }
    };
    let identity = identity(ctx, namespace, cluster)?;
    held(&claims, &identity, tenants, &cluster.name)
}

/// The problem when a claim among `claims` holds one of `tenants` (every tenant when empty) of `identity`.
pub fn held(
    claims: &[crate::oboperator::PolicyClaim],
    identity: &ClusterIdentity,
    tenants: &[String],
    display: &str,
) -> Option<Problem> {
    let claim = claims.iter().find(|c| {
        &c.cluster == identity
            && (tenants.is_empty() || tenants.iter().any(|t| t.eq_ignore_ascii_case(&c.tenant)))
    })?;
    Some(Problem::elsewhere(
        Reason::TenantManagedByObOperator,
        format!(
            "tenant {} of cluster {display} ({identity}) is held by ob-operator's OBTenantBackupPolicy {}: two \
             operators must not drive one tenant, so nothing is sent for it. Hand it over with kubectl obbackup \
             import obtenantbackuppolicy {} --handover, or leave it to ob-operator",
            claim.tenant,
            claim.policy,
            claim.policy.rsplit('/').next().unwrap_or_default(),
        ),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oboperator::PolicyClaim;

    #[test]
    fn a_held_tenant_is_refused_naming_the_policy_and_only_on_its_own_cluster() {
        let identity = ClusterIdentity {
            name: "obcluster".into(),
            id: 7,
        };
        let claims = [PolicyClaim {
            policy: "ob/t1-backup".into(),
            cluster: identity.clone(),
            tenant: "t1".into(),
        }];
        let problem = held(&claims, &identity, &["T1".into()], "prod").expect("held");
        assert_eq!(problem.reason, Reason::TenantManagedByObOperator);
        assert!(
            problem
                .message
                .contains("OBTenantBackupPolicy ob/t1-backup"),
            "{}",
            problem.message
        );
        assert!(
            problem
                .message
                .contains("import obtenantbackuppolicy t1-backup --handover")
        );
        assert!(
            held(&claims, &identity, &[], "prod").is_some(),
            "every tenant includes t1"
        );
        assert!(held(&claims, &identity, &["t2".into()], "prod").is_none());
        let same_name_other_id = ClusterIdentity {
            name: "obcluster".into(),
            id: 8,
        };
        assert!(held(&claims, &same_name_other_id, &["t1".into()], "prod").is_none());
    }
}
