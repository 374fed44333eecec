//! Checks of what a spec refers to and only the API can tell: Secrets (by key name, never reading values
//! into logs or status) and BackupStrategies.

use crate::{oboperator::TenantRoot, reason::Reason};
use k8s_openapi::api::core::v1::Secret;
use kube::Api;

use super::{
    Context,
    error::{Error, Problem},
};
use crate::api::{
    BackupStrategy,
    backup_strategy::{BackupMethod, SecondBackup},
    common::{
        ClusterConnection, ClusterSource, PasswordSecret, StorageDestination, StrategyReference,
    },
    logical::TenantLogin,
};

/// Keys a cluster connection Secret must hold (`host`, `port`, `user` have defaults or are checked when
/// connecting; the password is what a Secret most often lacks).
const CONNECTION_KEYS: &[&str] = &["host", "password"];
/// Keys an object-storage credentials Secret must hold.
const CREDENTIAL_KEYS: &[&str] = &["accessId", "accessKey"];
/// Keys a backup password Secret must hold.
const PASSWORD_KEYS: &[&str] = &["password"];
/// Keys the Secret of a logical backup's tenant user must hold.
const TENANT_USER_KEYS: &[&str] = &["user", "password"];

/// The cluster and destinations an object works with, resolved from its strategy or its own spec.
#[derive(Clone, Debug, PartialEq)]
pub struct Placement {
    pub cluster: ClusterConnection,
    /// The strategy's data destination, or the object's own.
    pub data_destination: Option<StorageDestination>,
    /// The strategy's log destination, or the object's own.
    pub log_destination: Option<StorageDestination>,
    /// The strategy's encryption password Secret.
    pub encryption: Option<PasswordSecret>,
    /// The strategy's second backup.
    pub second_backup: Option<SecondBackup>,
}

/// Looks up what an object in `namespace` refers to, collecting the problems found.
pub struct ReferenceCheck<'a> {
    ctx: &'a Context,
    namespace: &'a str,
    /// Problems found so far, in the order checked.
    pub problems: Vec<Problem>,
    /// Secrets already looked at with the keys checked: a strategy naming one Secret for both
    /// destinations costs one GET.
    checked: std::collections::HashSet<(String, &'static [&'static str])>,
}

impl<'a> ReferenceCheck<'a> {
    /// Starts a check of objects in `namespace`.
    pub fn new(ctx: &'a Context, namespace: &'a str) -> Self {
        Self {
            ctx,
            namespace,
            problems: Vec::new(),
            checked: std::collections::HashSet::new(),
        }
    }

    /// The login of a cluster: its connection Secret present, with its keys, each usable (a `port` that is
    /// not a port number is the user's to fix, not an outage to wait out); or its OBCluster usable, with its
    /// root Secret, and not refused as another cluster.
    pub async fn cluster(&mut self, cluster: &ClusterConnection) -> Result<(), Error> {
        let purpose = format!("connection to cluster {}", cluster.name);
        let name = match cluster.source() {
            ClusterSource::Secret(name) => name,
            ClusterSource::ObCluster(name) => {
                return self.ob_cluster(cluster, &name, &purpose).await;
            }
        };
        self.secret(&name, CONNECTION_KEYS, &purpose, |secret| {
            let data = secret.data.clone().unwrap_or_default();
            crate::oceanbase::ConnectionInfo::from_secret_data(&data)
                .err()
                .map(|wrong| {
                    Problem::elsewhere(
                        Reason::SecretInvalid,
                        format!("Secret {name} ({purpose}): {wrong}"),
                    )
                })
        })
        .await
    }

    /// An OBCluster reference: usable, its root Secret with a password, and the cluster that answers is the
    /// OBCluster's. While ob-operator's objects are still being read, nothing is said (nothing is sent
    /// either: the cluster is not read until then).
    async fn ob_cluster(
        &mut self,
        cluster: &ClusterConnection,
        name: &str,
        purpose: &str,
    ) -> Result<(), Error> {
        let key = crate::observer::ClusterKey::of(self.namespace, cluster);
        if let Some(refusal) = self.ctx.observers.refusal(&key) {
            self.problems
                .push(Problem::elsewhere(Reason::WrongCluster, refusal));
            return Ok(());
        }
        match self
            .ctx
            .observers
            .ob_operator()
            .cluster(self.namespace, name)
        {
            Ok((facts, _)) => {
                self.secret(&facts.root_secret, PASSWORD_KEYS, purpose, |_| None)
                    .await
            }
            Err(why) if why == crate::oboperator::NOT_SYNCED => Ok(()),
            Err(why) => {
                self.problems
                    .push(Problem::elsewhere(Reason::ObClusterUnusable, why));
                Ok(())
            }
        }
    }

    /// The credentials Secret of an object-storage destination, when it names one; and no credentials in
    /// the URI itself (admission refuses them; an object admitted before that rule is stopped here).
    pub async fn destination(&mut self, destination: &StorageDestination) -> Result<(), Error> {
        if crate::oceanbase::sql::user_part(&destination.uri).is_some() {
            self.problems.push(Problem::in_spec(
                Reason::CredentialsInUri,
                format!(
                    "uri {} carries credentials before an @: put the keys in the Secret named by \
                     credentialsSecret and remove them from the uri",
                    crate::oceanbase::Redactor::default().redact(&destination.uri)
                ),
            ));
            return Ok(());
        }
        match &destination.credentials_secret {
            Some(name) => {
                self.secret(name, CREDENTIAL_KEYS, "storage credentials", |_| None)
                    .await
            }
            None => Ok(()),
        }
    }

    /// A backup password Secret, when one is named.
    pub async fn password(&mut self, secret: Option<&PasswordSecret>) -> Result<(), Error> {
        match secret {
            Some(s) => {
                self.secret(&s.password_secret, PASSWORD_KEYS, "backup password", |_| {
                    None
                })
                .await
            }
            None => Ok(()),
        }
    }

    /// The login of a logical backup's or restore's tenant user (`purpose`) for `tenants`: its Secret, or
    /// its OBTenant (of that one tenant) and the root Secret it names. While ob-operator's objects are still
    /// being read, nothing is said (nothing is sent either: the login is not resolved until then).
    pub async fn tenant_login(
        &mut self,
        login: TenantLogin<'_>,
        tenants: &[String],
        purpose: &str,
    ) -> Result<(), Error> {
        let name = match login {
            TenantLogin::Secret(name) => {
                return self.secret(name, TENANT_USER_KEYS, purpose, |_| None).await;
            }
            TenantLogin::ObTenant(name) => name,
        };
        let ob_operator = self.ctx.observers.ob_operator();
        match ob_operator.tenant_root(self.namespace, name, tenants) {
            Ok(TenantRoot {
                secret: Some(secret),
                ..
            }) => {
                let purpose = format!("{purpose}: the root of OBTenant {name}");
                self.secret(&secret, PASSWORD_KEYS, &purpose, |_| None)
                    .await
            }
            Ok(_) => Ok(()),
            Err(why) if why == crate::oboperator::NOT_SYNCED => Ok(()),
            Err(why) => {
                self.problems
                    .push(Problem::elsewhere(Reason::ObTenantUnusable, why));
                Ok(())
            }
        }
    }

    /// The Secret of the user a restore drill's checks log in as.
    pub async fn drill_user(&mut self, name: &str) -> Result<(), Error> {
        self.secret(name, TENANT_USER_KEYS, "restore drill user", |_| None)
            .await
    }

    /// The referenced BackupStrategy, or `None` (with a problem recorded) when it does not exist.
    pub async fn strategy(
        &mut self,
        reference: &StrategyReference,
    ) -> Result<Option<BackupStrategy>, Error> {
        let strategy = self
            .ctx
            .catalog
            .get::<BackupStrategy>(self.namespace, &reference.name)
            .await?;
        if strategy.is_none() {
            self.problems.push(Problem::elsewhere(
                Reason::StrategyNotFound,
                format!(
                    "BackupStrategy {} not found in namespace {}: create it or fix strategyRef",
                    reference.name, self.namespace
                ),
            ));
        }
        Ok(strategy)
    }

    /// Where an object's work of `method` happens: from its strategy (which must exist, be of that method
    /// and cover the tenant) or from its own cluster and destination (whose Secrets must exist with their
    /// keys).
    pub async fn placement(
        &mut self,
        method: BackupMethod,
        strategy: Option<&StrategyReference>,
        cluster: Option<&ClusterConnection>,
        destination: Option<&StorageDestination>,
        tenant: &str,
    ) -> Result<Option<Placement>, Error> {
        if let Some(reference) = strategy {
            let Some(strategy) = self.strategy(reference).await? else {
                return Ok(None);
            };
            if strategy.spec.method != method {
                self.problems
                    .push(method_not_in_strategy(&reference.name, method));
            }
            let tenants = &strategy.spec.tenants;
            if !tenants.is_empty() && !tenants.iter().any(|t| t == tenant) {
                self.problems.push(Problem::elsewhere(
                    Reason::TenantNotInStrategy,
                    format!(
                        "BackupStrategy {} does not cover tenant {tenant} (it covers {}): add the tenant there or use another strategy",
                        reference.name,
                        tenants.join(", ")
                    ),
                ));
            }
            // The strategy's own controller checks (and reports) the Secrets it names; the observer reports
            // a connection Secret it cannot read, and a backup without its password is never sent. Checking
            // them again on every look at every task would only repeat those GETs.
            // Each tenant of a strategy has its own directory under the strategy's destinations.
            let spec = strategy.spec;
            let second_backup = spec.second_backup.map(|second| SecondBackup {
                data_destination: second.data_destination.for_tenant(tenant),
                log_destination: second.log_destination.for_tenant(tenant),
                ..second
            });
            return Ok(Some(Placement {
                cluster: spec.cluster,
                data_destination: Some(spec.data_destination.for_tenant(tenant)),
                log_destination: spec.log_destination.map(|l| l.for_tenant(tenant)),
                encryption: spec.encryption,
                second_backup,
            }));
        }
        let Some(cluster) = cluster else {
            return Ok(None);
        };
        self.cluster(cluster).await?;
        if let Some(destination) = destination {
            self.destination(destination).await?;
        }
        Ok(Some(Placement {
            cluster: cluster.clone(),
            data_destination: destination.cloned(),
            log_destination: destination.cloned(),
            encryption: None,
            second_backup: None,
        }))
    }

    /// Checks a Secret exists with `keys` and passes `validate` (once per Secret and keys in this check).
    /// The outcome is kept for [`crate::timing::SECRET_CHECK_TTL`]: the many objects naming one Secret that reconcile at
    /// once (a cold start, a strategy's wake-up) then cost one GET, not one each.
    async fn secret(
        &mut self,
        name: &str,
        keys: &'static [&'static str],
        purpose: &str,
        validate: impl FnOnce(&Secret) -> Option<Problem>,
    ) -> Result<(), Error> {
        if !self.checked.insert((name.to_string(), keys)) {
            return Ok(());
        }
        let key = (self.namespace.to_string(), name.to_string(), keys);
        if let Some(problems) = self.ctx.secret_checks.recent(&key) {
            self.problems.extend(problems);
            return Ok(());
        }
        let api: Api<Secret> = Api::namespaced(self.ctx.client.clone(), self.namespace);
        let problem = match api.get_opt(name).await? {
            None => Some(Problem::elsewhere(
                Reason::SecretNotFound,
                format!(
                    "Secret {name} ({purpose}) not found in namespace {}",
                    self.namespace
                ),
            )),
            Some(secret) => match missing_key(&secret, keys) {
                Some(key) => Some(Problem::elsewhere(
                    Reason::SecretKeyMissing,
                    format!("Secret {name} ({purpose}) has no key {key}"),
                )),
                None => validate(&secret),
            },
        };
        self.ctx
            .secret_checks
            .record(key, problem.iter().cloned().collect());
        self.problems.extend(problem);
        Ok(())
    }
}

/// An object whose work is `wanted` names a strategy of another method: the one can never run under the
/// other (a physical task would wait for log archiving a logical strategy never starts; a logical one would
/// log in as a user a physical strategy does not name).
fn method_not_in_strategy(strategy: &str, wanted: BackupMethod) -> Problem {
    let message = match wanted {
        BackupMethod::Physical => format!(
            "BackupStrategy {strategy} is Logical: physical work (a BackupTask without method: Logical, log \
             archiving, a cleanup of backup sets) cannot run under it; give the BackupTask method: Logical \
             and logical: what to dump, or name a Physical strategy"
        ),
        BackupMethod::Logical => format!(
            "BackupStrategy {strategy} is Physical: a logical BackupTask cannot run under it; remove \
             method: Logical from the task, or name a Logical strategy"
        ),
    };
    Problem::elsewhere(Reason::MethodNotInStrategy, message)
}

/// The text values of `keys` in a Secret, one GET for all (`None` when the Secret or any key is missing).
pub async fn secret_values(
    ctx: &Context,
    namespace: &str,
    name: &str,
    keys: &[&str],
) -> Result<Option<Vec<String>>, Error> {
    let api: Api<Secret> = Api::namespaced(ctx.client.clone(), namespace);
    let Some(mut data) = api.get_opt(name).await?.and_then(|s| s.data) else {
        return Ok(None);
    };
    Ok(keys
        .iter()
        .map(|k| data.remove(*k).and_then(|v| String::from_utf8(v.0).ok()))
        .collect())
}

/// The access keys of a destination, read from its credentials Secret.
pub async fn access_keys(
    ctx: &Context,
    namespace: &str,
    destination: &StorageDestination,
) -> Result<Option<crate::oceanbase::AccessKeys>, Error> {
    let Some(secret) = &destination.credentials_secret else {
        return Ok(None);
    };
    Ok(secret_values(ctx, namespace, secret, CREDENTIAL_KEYS)
        .await?
        .and_then(|v| <[String; 2]>::try_from(v).ok())
        .map(|[access_id, access_key]| crate::oceanbase::AccessKeys {
            access_id,
            access_key,
        }))
}

/// How a logical backup or restore reaches its tenant: the cluster connection Secret's host, port and CA
/// with the login's user and password ([`login_of`]). `None` when a Secret, key or OBTenant is missing or
/// unusable (the reference check reports which).
pub async fn tenant_user_connection(
    ctx: &Context,
    namespace: &str,
    cluster: &ClusterConnection,
    login: TenantLogin<'_>,
    tenant: &str,
) -> Result<Option<crate::oceanbase::ConnectionInfo>, Error> {
    let Some(info) = cluster_address(ctx, namespace, cluster).await? else {
        return Ok(None);
    };
    let Some((mut user, password)) = login_of(ctx, namespace, login, tenant).await? else {
        return Ok(None);
    };
    if let (TenantLogin::ObTenant(_), Some(cluster)) = (login, proxy_cluster(&info.user)) {
        // Through OBProxy, as the cluster's own login goes: the tenant's root of the same cluster.
        user.push_str(cluster);
    }
    Ok(Some(crate::oceanbase::ConnectionInfo {
        user,
        password,
        ..info
    }))
}

/// The user and password of `login` for `tenant`: a Secret's `user` (one without `@` is a user of
/// `tenant`) and `password`; an OBTenant's `root@<tenant>` and the password of the Secret it names (an empty
/// one when it names none, as ob-operator logs in). `None` when any of it cannot be read.
async fn login_of(
    ctx: &Context,
    namespace: &str,
    login: TenantLogin<'_>,
    tenant: &str,
) -> Result<Option<(String, String)>, Error> {
    match login {
        TenantLogin::Secret(secret) => {
            let values = secret_values(ctx, namespace, secret, TENANT_USER_KEYS).await?;
            Ok(values
                .and_then(|v| <[String; 2]>::try_from(v).ok())
                .map(|[user, password]| {
                    let user = user.trim();
                    let user = if user.contains('@') {
                        user.to_string()
                    } else {
                        format!("{user}@{tenant}")
                    };
                    (user, password)
                }))
        }
        TenantLogin::ObTenant(name) => {
            let tenants = [tenant.to_string()];
            let ob_operator = ctx.observers.ob_operator();
            let Ok(root) = ob_operator.tenant_root(namespace, name, &tenants) else {
                return Ok(None);
            };
            let Some(secret) = root.secret else {
                return Ok(Some((root.user, String::new())));
            };
            let values = secret_values(ctx, namespace, &secret, PASSWORD_KEYS).await?;
            Ok(values
                .and_then(|mut v| v.pop())
                .map(|password| (root.user, password)))
        }
    }
}

/// The `#cluster` part of a login through OBProxy (`root@sys#demo` → `#demo`), if any.
fn proxy_cluster(user: &str) -> Option<&str> {
    user.find('#').map(|at| &user[at..])
}

/// Where `cluster` answers, as its connection Secret or its OBCluster's first OBServer says (the login is
/// the caller's to replace). `None` when that cannot be read.
async fn cluster_address(
    ctx: &Context,
    namespace: &str,
    cluster: &ClusterConnection,
) -> Result<Option<crate::oceanbase::ConnectionInfo>, Error> {
    match cluster.source() {
        ClusterSource::Secret(name) => {
            let api: Api<Secret> = Api::namespaced(ctx.client.clone(), namespace);
            let Some(data) = api.get_opt(&name).await?.and_then(|s| s.data) else {
                return Ok(None);
            };
            Ok(crate::oceanbase::ConnectionInfo::from_secret_data(&data).ok())
        }
        ClusterSource::ObCluster(name) => Ok(ctx
            .observers
            .ob_operator()
            .cluster(namespace, &name)
            .ok()
            .and_then(|(_, addresses)| addresses.into_iter().next())
            .map(|address| crate::oceanbase::ConnectionInfo {
                host: address.host,
                port: address.port,
                user: String::new(),
                password: String::new(),
                ca_cert: None,
            })),
    }
}

/// The password in a password Secret.
pub async fn password(
    ctx: &Context,
    namespace: &str,
    secret: &PasswordSecret,
) -> Result<Option<String>, Error> {
    Ok(
        secret_values(ctx, namespace, &secret.password_secret, PASSWORD_KEYS)
            .await?
            .and_then(|mut v| v.pop()),
    )
}

fn missing_key<'k>(secret: &Secret, keys: &[&'k str]) -> Option<&'k str> {
    let data = secret.data.as_ref();
    keys.iter().copied().find(|key| {
        data.and_then(|d| d.get(*key))
            .is_none_or(|v| v.0.is_empty())
    })
}

/// Whether the objects working through BackupStrategy `name` may copy to its second destinations now: its
/// `SecondBackupReady` condition is True for its current spec. Otherwise why not (its own words, or that it
/// has not checked its current spec yet).
pub async fn second_copy_cleared(
    ctx: &Context,
    namespace: &str,
    name: &str,
) -> Result<Result<(), String>, Error> {
    let Some(strategy) = ctx.catalog.get::<BackupStrategy>(namespace, name).await? else {
        return Ok(Err(format!("BackupStrategy {name} not found")));
    };
    let condition = strategy.status.as_ref().and_then(|s| {
        s.conditions
            .iter()
            .find(|c| c.type_ == super::conditions::SECOND_BACKUP_READY)
            .cloned()
    });
    Ok(match condition {
        Some(c) if c.observed_generation == strategy.metadata.generation && c.status == "True" => {
            Ok(())
        }
        Some(c) if c.observed_generation == strategy.metadata.generation => {
            Err(format!("BackupStrategy {name}: {}", c.message))
        }
        _ => Err(format!(
            "waiting for BackupStrategy {name} to check its second destinations"
        )),
    })
}

/// `spec.jobId` belongs to the mirrors a BackupStrategy makes of the jobs started outside the operator
/// (their controller is the strategy; docs/guide/external-jobs.md). On any other task it names a job
/// nobody asked this task to follow.
pub fn job_id_problem<K: kube::Resource>(task: &K, job_id: Option<i64>) -> Option<Problem> {
    let id = job_id?;
    let mirror = task.meta().owner_references.iter().flatten().any(|o| {
        o.controller == Some(true) && o.kind == <BackupStrategy as super::Reconcile>::KIND
    });
    (!mirror).then(|| {
        Problem::in_spec(
            Reason::JobIdSetByUser,
            format!(
                "spec.jobId ({id}) is set only by the operator, on the tasks a BackupStrategy makes to \
                 mirror jobs started outside it; recreate this task without jobId (the field cannot be \
                 changed)"
            ),
        )
    })
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use k8s_openapi::ByteString;

    use super::*;

    fn secret(pairs: &[(&str, &str)]) -> Secret {
        Secret {
            data: Some(
                pairs
                    .iter()
                    .map(|(k, v)| (k.to_string(), ByteString(v.as_bytes().to_vec())))
                    .collect::<BTreeMap<_, _>>(),
            ),
            ..Secret::default()
        }
    }

    /// An OBTenant's root logs in through OBProxy as the cluster's own login does: `#cluster` carried over.
    #[test]
    fn the_cluster_part_of_a_login_through_obproxy_is_carried_over() {
        assert_eq!(proxy_cluster("root@sys#demo"), Some("#demo"));
        assert_eq!(proxy_cluster("root@sys"), None);
        assert_eq!(proxy_cluster("root"), None);
    }

    #[test]
    fn a_secret_with_every_key_has_none_missing() {
        assert_eq!(
            missing_key(
                &secret(&[("host", "h"), ("password", "p")]),
                CONNECTION_KEYS
            ),
            None
        );
    }

    #[test]
    fn absent_and_empty_keys_are_missing() {
        assert_eq!(
            missing_key(&secret(&[("host", "h")]), CONNECTION_KEYS),
            Some("password")
        );
        assert_eq!(
            missing_key(
                &secret(&[("accessId", "a"), ("accessKey", "")]),
                CREDENTIAL_KEYS
            ),
            Some("accessKey")
        );
        assert_eq!(
            missing_key(&Secret::default(), PASSWORD_KEYS),
            Some("password")
        );
    }

    #[tokio::test]
    async fn a_secret_named_twice_is_fetched_once() {
        use http::{Request, Response};
        use kube::{Client, client::Body};

        let (service, mut handle) = tower_test::mock::pair::<Request<Body>, Response<Body>>();
        let ctx = Context::for_tests(Client::new(service, "ns"), "BackupStrategy");
        let api = tokio::spawn(async move {
            let (request, respond) = handle.next_request().await.expect("a Secret lookup");
            let secret = serde_json::json!({
                "apiVersion": "v1", "kind": "Secret", "metadata": {"name": "oss-keys", "namespace": "ns"},
                "data": {"accessId": "YQ==", "accessKey": "Yg=="},
            });
            respond.send_response(Response::new(Body::from(
                serde_json::to_vec(&secret).expect("JSON"),
            )));
            request.uri().path().to_string()
        });
        let destination = StorageDestination {
            uri: "oss://bucket/data?host=oss-cn-hangzhou.aliyuncs.com".into(),
            credentials_secret: Some("oss-keys".into()),
        };
        let mut check = ReferenceCheck::new(&ctx, "ns");
        let both = async {
            check
                .destination(&destination)
                .await
                .expect("data destination");
            check
                .destination(&destination)
                .await
                .expect("log destination");
        };
        tokio::time::timeout(std::time::Duration::from_secs(10), both)
            .await
            .expect("the second check asked the API again");
        assert_eq!(check.problems, vec![]);
        assert_eq!(
            api.await.expect("API mock"),
            "/api/v1/namespaces/ns/secrets/oss-keys"
        );
    }

    #[tokio::test]
    async fn objects_naming_one_secret_share_one_get_and_its_problem() {
        use http::{Request, Response};
        use kube::{Client, client::Body};

        let (service, mut handle) = tower_test::mock::pair::<Request<Body>, Response<Body>>();
        let ctx = Context::for_tests(Client::new(service, "ns"), "BackupTask");
        let api = tokio::spawn(async move {
            let (_, respond) = handle.next_request().await.expect("a Secret lookup");
            // host only: the password is missing.
            let secret = serde_json::json!({
                "apiVersion": "v1", "kind": "Secret", "metadata": {"name": "ob", "namespace": "ns"},
                "data": {"host": "b2I="},
            });
            respond.send_response(Response::new(Body::from(
                serde_json::to_vec(&secret).expect("JSON"),
            )));
            // A second GET within the reuse time would be answered by nobody.
            handle.next_request().await.is_some()
        });
        let cluster = ClusterConnection {
            name: "obcluster".into(),
            connection_secret: Some("ob".into()),
            ob_cluster: None,
        };
        // Three tasks reconciling one after the other, each with its own check.
        for _ in 0..3 {
            let mut check = ReferenceCheck::new(&ctx, "ns");
            tokio::time::timeout(std::time::Duration::from_secs(10), check.cluster(&cluster))
                .await
                .expect("a later check asked the API again")
                .expect("cluster check");
            assert_eq!(
                check.problems.iter().map(|p| p.reason).collect::<Vec<_>>(),
                [Reason::SecretKeyMissing]
            );
        }
        drop(ctx);
        assert!(
            !api.await.expect("API mock"),
            "no second request reached the API"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_secret_created_after_the_object_is_seen_when_it_looks_again() {
        use http::{Request, Response, StatusCode};
        use kube::{Client, client::Body};

        let (service, mut handle) = tower_test::mock::pair::<Request<Body>, Response<Body>>();
        let ctx = Context::for_tests(Client::new(service, "ns"), "BackupTask");
        tokio::spawn(async move {
            let (_, respond) = handle.next_request().await.expect("the first lookup");
            let not_found = serde_json::json!({
                "kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": "NotFound", "code": 404,
            });
            respond.send_response(
                Response::builder()
                    .status(StatusCode::NOT_FOUND)
                    .body(Body::from(serde_json::to_vec(&not_found).expect("JSON")))
                    .expect("response"),
            );
            let (_, respond) = handle
                .next_request()
                .await
                .expect("a lookup after the reuse time");
            let secret = serde_json::json!({
                "apiVersion": "v1", "kind": "Secret", "metadata": {"name": "ob", "namespace": "ns"},
                "data": {"host": "b2I=", "password": "czNjcmV0"},
            });
            respond.send_response(Response::new(Body::from(
                serde_json::to_vec(&secret).expect("JSON"),
            )));
        });
        let cluster = ClusterConnection {
            name: "obcluster".into(),
            connection_secret: Some("ob".into()),
            ob_cluster: None,
        };
        let reasons = |check: &ReferenceCheck<'_>| {
            check.problems.iter().map(|p| p.reason).collect::<Vec<_>>()
        };
        let mut first = ReferenceCheck::new(&ctx, "ns");
        first.cluster(&cluster).await.expect("check");
        assert_eq!(reasons(&first), [Reason::SecretNotFound]);
        // The user creates the Secret; the object looks again after RECHECK_REFERENCES_AFTER, by which time
        // the shared outcome has expired, so it reads the Secret afresh.
        tokio::time::advance(super::super::error::RECHECK_REFERENCES_AFTER).await;
        let mut again = ReferenceCheck::new(&ctx, "ns");
        again.cluster(&cluster).await.expect("check");
        assert_eq!(reasons(&again), Vec::<Reason>::new());
    }

    #[tokio::test]
    async fn a_connection_secret_with_a_port_that_is_not_a_number_is_the_users_to_fix() {
        use http::{Request, Response};
        use kube::{Client, client::Body};

        let (service, mut handle) = tower_test::mock::pair::<Request<Body>, Response<Body>>();
        let ctx = Context::for_tests(Client::new(service, "ns"), "BackupStrategy");
        tokio::spawn(async move {
            let (_, respond) = handle.next_request().await.expect("a Secret lookup");
            // host, password "s3cret", port "abc".
            let secret = serde_json::json!({
                "apiVersion": "v1", "kind": "Secret", "metadata": {"name": "ob", "namespace": "ns"},
                "data": {"host": "b2I=", "password": "czNjcmV0", "port": "YWJj"},
            });
            respond.send_response(Response::new(Body::from(
                serde_json::to_vec(&secret).expect("JSON"),
            )));
        });
        let mut check = ReferenceCheck::new(&ctx, "ns");
        let cluster = ClusterConnection {
            name: "obcluster".into(),
            connection_secret: Some("ob".into()),
            ob_cluster: None,
        };
        tokio::time::timeout(std::time::Duration::from_secs(10), check.cluster(&cluster))
            .await
            .expect("one lookup")
            .expect("the API answered");
        assert_eq!(
            check.problems,
            vec![Problem::elsewhere(
                Reason::SecretInvalid,
                "Secret ob (connection to cluster obcluster): key port is not a port number"
            )]
        );
        assert!(!format!("{:?}", check.problems).contains("s3cret"));
    }

    #[tokio::test]
    async fn credentials_in_a_uri_are_refused_without_repeating_them() {
        use http::{Request, Response};
        use kube::{Client, client::Body};

        let (service, _handle) = tower_test::mock::pair::<Request<Body>, Response<Body>>();
        let ctx = Context::for_tests(Client::new(service, "ns"), "BackupStrategy");
        let mut check = ReferenceCheck::new(&ctx, "ns");
        let destination = StorageDestination {
            uri: "oss://AKID:S3CRET@bucket/data?host=oss-cn-hangzhou.aliyuncs.com".into(),
            credentials_secret: Some("oss-keys".into()),
        };
        check.destination(&destination).await.expect("no API call");
        let reasons: Vec<_> = check.problems.iter().map(|p| p.reason).collect();
        assert_eq!(reasons, [Reason::CredentialsInUri]);
        let message = &check.problems[0].message;
        assert!(
            !message.contains("S3CRET") && !message.contains("AKID"),
            "{message}"
        );
    }
}
