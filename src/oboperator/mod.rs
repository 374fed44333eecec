//! Working beside ob-operator, OceanBase's own operator (docs/guide/ob-operator.md): what its
//! objects say about a cluster's address, identity and login, and which tenants its backup policies
//! hold. Its kinds are read (never written by the operator) through caches filled by watches,
//! started only when the integration is on and its CRDs are installed; without them every question
//! here answers "not ob-operator's".

mod address;
mod claims;
mod watch;

pub use address::{Address, addresses};
pub use claims::{PolicyClaim, claim_of};
pub use watch::{NOT_SYNCED, ObOperator, ServersChanged};

use kube::{
    api::{ApiResource, DynamicObject, GroupVersionKind},
    core::ResourceExt,
};
use serde_json::Value;

/// ob-operator's API group.
pub const GROUP: &str = "oceanbase.oceanbase.com";
/// The version of its kinds that the operator reads.
pub const VERSION: &str = "v1alpha1";
/// The label ob-operator puts on an OBServer (and a policy) naming its OBCluster.
pub const CLUSTER_LABEL: &str = "ref-obcluster";
/// ob-operator's annotation that stops it touching anything for an object.
pub const PAUSE_ANNOTATION: &str = "oceanbase.oceanbase.com/pause-reconciling";
/// The finalizer ob-operator puts on a backup policy (it runs the policy's stop statements).
pub const POLICY_FINALIZER: &str = "obtenantbackuppolicy.finalizers.oceanbase.com";
/// The SQL port of an OBServer.
pub const SQL_PORT: u16 = 2881;

/// One of ob-operator's kinds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    ObCluster,
    ObServer,
    ObTenant,
    ObTenantBackupPolicy,
    ObTenantRestore,
}

impl Kind {
    /// The kind's name, as in `kind:`.
    pub fn name(self) -> &'static str {
        match self {
            Kind::ObCluster => "OBCluster",
            Kind::ObServer => "OBServer",
            Kind::ObTenant => "OBTenant",
            Kind::ObTenantBackupPolicy => "OBTenantBackupPolicy",
            Kind::ObTenantRestore => "OBTenantRestore",
        }
    }

    /// Its resource, for dynamic API calls.
    pub fn resource(self) -> ApiResource {
        let plural = match self {
            Kind::ObCluster => "obclusters",
            Kind::ObServer => "observers",
            Kind::ObTenant => "obtenants",
            Kind::ObTenantBackupPolicy => "obtenantbackuppolicies",
            Kind::ObTenantRestore => "obtenantrestores",
        };
        ApiResource::from_gvk_with_plural(
            &GroupVersionKind::gvk(GROUP, VERSION, self.name()),
            plural,
        )
    }
}

/// A string at `path` (object keys) in `object`'s data, when present and not empty.
pub fn text<'a>(object: &'a DynamicObject, path: &[&str]) -> Option<&'a str> {
    let mut value = &object.data;
    for key in path {
        value = value.get(key)?;
    }
    value.as_str().filter(|s| !s.is_empty())
}

/// An integer at `path` in `object`'s data.
pub fn integer(object: &DynamicObject, path: &[&str]) -> Option<i64> {
    let mut value = &object.data;
    for key in path {
        value = value.get(key)?;
    }
    match value {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// What an OBCluster says about who the cluster is and how to log in to it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClusterFacts {
    /// `spec.clusterName` and `spec.clusterId`, which equal OceanBase's `cluster` and `cluster_id`.
    pub identity: crate::oceanbase::ClusterIdentity,
    /// The Secret (key `password`) of sys's root, `spec.userSecrets.root`.
    pub root_secret: String,
}

/// The facts of an OBCluster, or why it cannot be used.
pub fn cluster_facts(cluster: &DynamicObject) -> Result<ClusterFacts, String> {
    let name = cluster.name_any();
    let cluster_name = text(cluster, &["spec", "clusterName"])
        .ok_or_else(|| format!("OBCluster {name} has no spec.clusterName"))?;
    let id = integer(cluster, &["spec", "clusterId"])
        .ok_or_else(|| format!("OBCluster {name} has no spec.clusterId"))?;
    let root_secret = text(cluster, &["spec", "userSecrets", "root"])
        .ok_or_else(|| format!("OBCluster {name} names no root Secret (spec.userSecrets.root)"))?;
    Ok(ClusterFacts {
        identity: crate::oceanbase::ClusterIdentity {
            name: cluster_name.to_string(),
            id,
        },
        root_secret: root_secret.to_string(),
    })
}

/// How to log in as the root of an OBTenant's tenant, as ob-operator itself does.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TenantRoot {
    /// `root@<spec.tenantName>`.
    pub user: String,
    /// The Secret (key `password`) of its password: `status.credentials.root`, which ob-operator rewrites
    /// when the password is changed, or before ob-operator first wrote it `spec.credentials.root`. `None`
    /// when neither names one: ob-operator made the root without a password.
    pub secret: Option<String>,
}

/// The root login of `obtenant` for `tenants`, which must be its tenant alone (names compared without
/// case), or why it cannot be used.
pub fn tenant_root(obtenant: &DynamicObject, tenants: &[String]) -> Result<TenantRoot, String> {
    let name = obtenant.name_any();
    let tenant = text(obtenant, &["spec", "tenantName"])
        .ok_or_else(|| format!("OBTenant {name} has no spec.tenantName"))?;
    if !matches!(tenants, [only] if only.eq_ignore_ascii_case(tenant)) {
        let asked = if tenants.is_empty() {
            "every tenant".to_string()
        } else {
            tenants.join(", ")
        };
        return Err(format!(
            "OBTenant {name} is tenant {tenant}, and the login is for {asked}: name the OBTenant of the \
             tenant, or list that one tenant"
        ));
    }
    let secret = text(obtenant, &["status", "credentials", "root"])
        .or_else(|| text(obtenant, &["spec", "credentials", "root"]));
    Ok(TenantRoot {
        user: format!("root@{tenant}"),
        secret: secret.map(str::to_string),
    })
}

#[cfg(test)]
pub(crate) fn object(kind: Kind, namespace: &str, name: &str, data: Value) -> DynamicObject {
    let mut object = DynamicObject::new(name, &kind.resource()).within(namespace);
    object.data = data;
    object
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The root's password is the Secret the status names (a password change rewrites it), the spec's
    /// before ob-operator first wrote the status, none when neither names one; the OBTenant must be the
    /// tenant's, and of it alone.
    #[test]
    fn an_obtenant_gives_its_roots_login_from_the_status_then_the_spec_for_its_own_tenant_only() {
        let obtenant = |data: Value| object(Kind::ObTenant, "ns", "t1", data);
        let tenants = |names: &[&str]| names.iter().map(|n| n.to_string()).collect::<Vec<_>>();
        let both = obtenant(serde_json::json!({
            "spec": {"tenantName": "tenant1", "credentials": {"root": "first-pw"}},
            "status": {"credentials": {"root": "changed-pw"}},
        }));
        assert_eq!(
            tenant_root(&both, &tenants(&["TENANT1"])),
            Ok(TenantRoot {
                user: "root@tenant1".into(),
                secret: Some("changed-pw".into())
            })
        );
        let spec_only = obtenant(serde_json::json!({
            "spec": {"tenantName": "tenant1", "credentials": {"root": "first-pw"}},
            "status": {"status": "creating"},
        }));
        let root = tenant_root(&spec_only, &tenants(&["tenant1"])).expect("usable");
        assert_eq!(root.secret.as_deref(), Some("first-pw"));
        let none = obtenant(serde_json::json!({"spec": {"tenantName": "tenant1"}}));
        let root = tenant_root(&none, &tenants(&["tenant1"])).expect("usable");
        assert_eq!(root.secret, None);
        for (asked, says) in [
            (tenants(&["tenant2"]), "for tenant2"),
            (tenants(&["tenant1", "tenant2"]), "for tenant1, tenant2"),
            (tenants(&[]), "for every tenant"),
        ] {
            let why = tenant_root(&both, &asked).expect_err("not its tenant alone");
            assert!(
                why.contains("is tenant tenant1") && why.contains(says),
                "{why}"
            );
        }
        let nameless = obtenant(serde_json::json!({"spec": {}}));
        assert_eq!(
            tenant_root(&nameless, &tenants(&["tenant1"])),
            Err("OBTenant t1 has no spec.tenantName".into())
        );
    }

    #[test]
    fn an_obcluster_gives_its_identity_and_root_secret_or_says_what_it_lacks() {
        let cluster = object(
            Kind::ObCluster,
            "ns",
            "test",
            serde_json::json!({"spec": {"clusterName": "obcluster", "clusterId": 1001,
                "userSecrets": {"root": "root-pw", "operator": "op-pw"}}}),
        );
        let facts = cluster_facts(&cluster).expect("facts");
        assert_eq!(facts.identity.name, "obcluster");
        assert_eq!(facts.identity.id, 1001);
        assert_eq!(facts.root_secret, "root-pw");
        let bare = object(
            Kind::ObCluster,
            "ns",
            "bare",
            serde_json::json!({"spec": {"clusterName": "x", "clusterId": 1}}),
        );
        assert_eq!(
            cluster_facts(&bare).expect_err("no root"),
            "OBCluster bare names no root Secret (spec.userSecrets.root)"
        );
    }
}
