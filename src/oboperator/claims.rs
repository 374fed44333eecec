//! Which tenants ob-operator's backup policies hold (docs/guide/ob-operator.md): a policy
//! re-asserts its tenant's destinations, archiving and delete policy whenever it reconciles and
//! checks nothing in OceanBase first, so a tenant it holds is left to it. A policy holds its tenant
//! in every state but `STOPPED` and `FAILED` (paused ones too: they resume, and what OceanBase is
//! left with is theirs).

use kube::{ResourceExt, api::DynamicObject};

use super::{cluster_facts, text};
use crate::oceanbase::ClusterIdentity;

/// A tenant an `OBTenantBackupPolicy` holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PolicyClaim {
    /// `namespace/name` of the policy.
    pub policy: String,
    /// Its cluster, as OceanBase names it (from the OBCluster).
    pub cluster: ClusterIdentity,
    /// The tenant's name in OceanBase.
    pub tenant: String,
}

/// The states in which a policy has let go of its tenant (ob-operator writes `Failed` too, in mixed case).
const RELEASED: &[&str] = &["STOPPED", "FAILED"];

/// What `policy` holds, if anything: `None` when it is stopped or failed, or when its OBCluster or tenant
/// cannot be found (ob-operator cannot reach the tenant either then). `clusters` and `tenants` are the
/// OBClusters and OBTenants of every watched namespace.
pub fn claim_of(
    policy: &DynamicObject,
    clusters: &[std::sync::Arc<DynamicObject>],
    tenants: &[std::sync::Arc<DynamicObject>],
) -> Option<PolicyClaim> {
    let namespace = policy.namespace().unwrap_or_default();
    let state = text(policy, &["status", "status"]).unwrap_or_default();
    if RELEASED.iter().any(|r| r.eq_ignore_ascii_case(state)) {
        return None;
    }
    let in_namespace = |o: &&std::sync::Arc<DynamicObject>, name: &str| {
        o.namespace().as_deref() == Some(namespace.as_str()) && o.name_any() == name
    };
    let cluster_name = text(policy, &["spec", "obClusterName"])?;
    let cluster = clusters.iter().find(|c| in_namespace(c, cluster_name))?;
    let identity = cluster_facts(cluster).ok()?.identity;
    let tenant = text(policy, &["spec", "tenantName"])
        .or_else(|| text(policy, &["status", "tenantName"]))
        .or_else(|| {
            let name = text(policy, &["spec", "tenantCRName"])?;
            let tenant = tenants.iter().find(|t| in_namespace(t, name))?;
            text(tenant, &["spec", "tenantName"])
        })?;
    Some(PolicyClaim {
        policy: format!("{namespace}/{}", policy.name_any()),
        cluster: identity,
        tenant: tenant.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::oboperator::{Kind, object};

    fn cluster() -> Arc<DynamicObject> {
        Arc::new(object(
            Kind::ObCluster,
            "ob",
            "test",
            serde_json::json!({"spec": {"clusterName": "obcluster", "clusterId": 7, "userSecrets": {"root": "r"}}}),
        ))
    }

    fn policy(spec: serde_json::Value, status: &str) -> DynamicObject {
        object(
            Kind::ObTenantBackupPolicy,
            "ob",
            "p",
            serde_json::json!({"spec": spec, "status": {"status": status}}),
        )
    }

    #[test]
    fn a_policy_holds_its_tenant_until_it_is_stopped_or_failed() {
        let identity = ClusterIdentity {
            name: "obcluster".into(),
            id: 7,
        };
        let spec =
            serde_json::json!({"obClusterName": "test", "tenantName": "t1", "tenantSecret": "s"});
        for state in [
            "",
            "PREPARING",
            "RUNNING",
            "PAUSED",
            "MAINTAINING",
            "DELETING",
        ] {
            let claim = claim_of(&policy(spec.clone(), state), &[cluster()], &[]).expect(state);
            assert_eq!(claim.policy, "ob/p");
            assert_eq!(
                (&claim.cluster, claim.tenant.as_str()),
                (&identity, "t1"),
                "{state}"
            );
        }
        for state in ["STOPPED", "FAILED", "Failed"] {
            assert_eq!(
                claim_of(&policy(spec.clone(), state), &[cluster()], &[]),
                None,
                "{state}"
            );
        }
    }

    #[test]
    fn the_tenant_comes_from_the_spec_the_status_or_the_obtenant_by_its_database_name() {
        let tenant = Arc::new(object(
            Kind::ObTenant,
            "ob",
            "t1-cr",
            serde_json::json!({"spec": {"obcluster": "test", "tenantName": "db_t1"}}),
        ));
        let by_cr = policy(
            serde_json::json!({"obClusterName": "test", "tenantCRName": "t1-cr"}),
            "RUNNING",
        );
        let claim = claim_of(&by_cr, &[cluster()], &[tenant]).expect("claim");
        assert_eq!(
            claim.tenant, "db_t1",
            "the OBTenant's tenantName, not its object name"
        );
        assert_eq!(
            claim_of(&by_cr, &[cluster()], &[]),
            None,
            "no OBTenant: it reaches nothing"
        );
        let elsewhere = policy(
            serde_json::json!({"obClusterName": "gone", "tenantName": "t1"}),
            "RUNNING",
        );
        assert_eq!(claim_of(&elsewhere, &[cluster()], &[]), None);
    }
}
