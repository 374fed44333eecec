//! One owner per storage directory, as one owner per tenant ([`super::ownership`]): a strategy's second
//! copy goes only where nobody else keeps backups. Each tenant's second data and log directory is compared,
//! in one normal form ([`crate::storage::place`]), with every directory the operator knows backups are kept
//! in — every strategy's and ad-hoc object's first destinations (each tenant's own directory) in every
//! namespace it watches, the second destinations of older strategies, and the destinations OceanBase
//! reports for every tenant of every cluster it observes. One that is the same, holds or lies inside
//! another is refused, naming the other owner: a copy there would write over (and its verification
//! "repair", its cleanup delete) backups that are not its own.

use crate::reason::Reason;
use jiff::Timestamp;
use kube::ResourceExt;

use super::error::Problem;
use crate::{
    api::{BackupStrategy, BackupTask, LogBackup, backup_strategy::BackupMethod},
    oceanbase::Snapshot,
    storage::place::{Overlap, Place},
};

/// A directory somebody keeps backups in.
#[derive(Clone, Debug)]
pub struct Claim {
    pub place: Place,
    /// As a message names it: the URI without its query.
    pub shown: String,
    /// Who keeps what there, e.g. "the data destination of tenant t1 in BackupStrategy prod/daily".
    pub owner: String,
    pub role: Role,
    /// The owning object (kind/namespace/name), when an object of this operator owns it.
    pub object: Option<String>,
    /// When the owning object was created (older second copies keep their place).
    pub created: Option<Timestamp>,
}

/// What a claimed directory holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// A first destination, as an object of this operator declares it.
    First,
    /// A second copy.
    Second,
    /// A destination OceanBase reports for one of its tenants.
    Reported,
}

/// Claims of `uri` (a URI that does not parse claims nothing: it is refused where it is used).
fn claim(
    uri: &str,
    owner: String,
    role: Role,
    object: Option<(String, Option<Timestamp>)>,
) -> Option<Claim> {
    let (object, created) = object.unzip();
    Some(Claim {
        place: Place::of(uri).ok()?,
        shown: crate::storage::without_query(uri).to_string(),
        owner,
        role,
        object,
        created: created.flatten(),
    })
}

fn object_key<K: ResourceExt>(kind: &str, object: &K) -> String {
    format!(
        "{kind} {}/{}",
        object.namespace().unwrap_or_default(),
        object.name_any()
    )
}

/// The tenants a strategy works on: its list, else those its status shows.
fn tenants_of(strategy: &BackupStrategy) -> Vec<String> {
    if !strategy.spec.tenants.is_empty() {
        return strategy.spec.tenants.clone();
    }
    strategy
        .status
        .as_ref()
        .map(|s| s.tenants.iter().map(|t| t.name.clone()).collect())
        .unwrap_or_default()
}

/// Every directory `strategy` keeps backups in for `tenants`: first destinations, then second ones.
pub fn strategy_claims(strategy: &BackupStrategy, tenants: &[String]) -> Vec<Claim> {
    let spec = &strategy.spec;
    if spec.method != BackupMethod::Physical {
        return Vec::new();
    }
    let key = object_key("BackupStrategy", strategy);
    let created = strategy.creation_timestamp().map(|t| t.0);
    let mut claims = Vec::new();
    for tenant in tenants {
        let mut add = |uri: &str, what: &str, role: Role| {
            claims.extend(claim(
                uri,
                format!("the {what} of tenant {tenant} in {key}"),
                role,
                Some((key.clone(), created)),
            ));
        };
        add(
            &spec.data_destination.for_tenant(tenant).uri,
            "data destination",
            Role::First,
        );
        if let Some(log) = &spec.log_destination {
            add(&log.for_tenant(tenant).uri, "log destination", Role::First);
        }
        if let Some(second) = &spec.second_backup {
            add(
                &second.data_destination.for_tenant(tenant).uri,
                "second data destination",
                Role::Second,
            );
            add(
                &second.log_destination.for_tenant(tenant).uri,
                "second log destination",
                Role::Second,
            );
        }
    }
    claims
}

/// The first destination an ad-hoc object of `kind` names for `tenant` (`what`: data or log), if it names one.
fn ad_hoc_claim<K: ResourceExt>(
    object: &K,
    kind: &str,
    what: &str,
    tenant: &str,
    destination: Option<&crate::api::common::StorageDestination>,
) -> Option<Claim> {
    let key = object_key(kind, object);
    let owner = format!("the {what} destination of tenant {tenant} in {key}");
    let created = object.creation_timestamp().map(|t| t.0);
    claim(&destination?.uri, owner, Role::First, Some((key, created)))
}

/// Every directory the operator knows backups are kept in: the objects' (every namespace it watches) and
/// OceanBase's (every cluster it observes, each with its display name).
pub fn known_claims(
    strategies: &[BackupStrategy],
    tasks: &[BackupTask],
    archives: &[LogBackup],
    clusters: &[(String, std::sync::Arc<Snapshot>)],
) -> Vec<Claim> {
    let mut claims: Vec<Claim> = strategies
        .iter()
        .flat_map(|s| strategy_claims(s, &tenants_of(s)))
        .collect();
    for task in tasks.iter().filter(|t| t.spec.cluster.is_some()) {
        let (tenant, destination) = (&task.spec.tenant, task.spec.data_destination.as_ref());
        claims.extend(ad_hoc_claim(
            task,
            "BackupTask",
            "data",
            tenant,
            destination,
        ));
    }
    for archive in archives.iter().filter(|a| a.spec.cluster.is_some()) {
        let (tenant, destination) = (&archive.spec.tenant, archive.spec.log_destination.as_ref());
        claims.extend(ad_hoc_claim(
            archive,
            "LogBackup",
            "log",
            tenant,
            destination,
        ));
    }
    for (cluster, snapshot) in clusters {
        for tenant in &snapshot.tenants {
            let reported = |what: &str| {
                format!(
                    "OceanBase's {what} of tenant {} of cluster {cluster}",
                    tenant.name
                )
            };
            if let Some(uri) = snapshot.data_dest(tenant.id) {
                claims.extend(claim(
                    uri,
                    reported("DATA_BACKUP_DEST"),
                    Role::Reported,
                    None,
                ));
            }
            if let Some(dest) = snapshot.archive_dest(tenant.id) {
                claims.extend(claim(
                    &dest.path,
                    reported("LOG_ARCHIVE_DEST"),
                    Role::Reported,
                    None,
                ));
            }
        }
    }
    claims
}

/// Why `strategy`'s second copies of `tenants` must not be made, if they must not: a second directory that
/// overlaps a first destination or OceanBase's (anyone's, its own included), or an older strategy's second
/// copy. A newer strategy's second copy overlapping this one is that strategy's problem.
pub fn second_destination_problem(
    strategy: &BackupStrategy,
    tenants: &[String],
    known: &[Claim],
) -> Option<Problem> {
    let mine = strategy_claims(strategy, tenants);
    let me = object_key("BackupStrategy", strategy);
    let age = |c: &Claim| (c.created, c.object.clone());
    let my_age = (strategy.creation_timestamp().map(|t| t.0), Some(me.clone()));
    for second in mine.iter().filter(|c| c.role == Role::Second) {
        let clash = known.iter().find_map(|other| {
            let counts = match other.role {
                Role::First | Role::Reported => true,
                Role::Second => other.object.as_deref() != Some(me.as_str()) && age(other) < my_age,
            };
            let overlap = second.place.overlap(&other.place)?;
            counts.then_some((other, overlap))
        });
        if let Some((other, overlap)) = clash {
            return Some(Problem::elsewhere(
                Reason::StorageOwnedElsewhere,
                message(second, other, overlap),
            ));
        }
    }
    None
}

fn message(second: &Claim, other: &Claim, overlap: Overlap) -> String {
    format!(
        "{} ({}) is {} {} ({}): a copy there would write over backups that are not its own, so none is \
         made; give secondBackup a directory of its own (first backups and archiving go on)",
        second.owner,
        second.shown,
        overlap.words(),
        other.owner,
        other.shown
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::BackupStrategySpec;

    fn strategy(namespace: &str, name: &str, created: i64, yaml: &str) -> BackupStrategy {
        let spec: BackupStrategySpec = serde_norway::from_str(yaml).expect("spec");
        let mut strategy = BackupStrategy::new(name, spec);
        strategy.metadata.namespace = Some(namespace.into());
        strategy.metadata.creation_timestamp =
            Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(
                Timestamp::from_second(created).expect("time"),
            ));
        strategy
    }

    fn with_second(
        namespace: &str,
        name: &str,
        created: i64,
        first: &str,
        second: &str,
    ) -> BackupStrategy {
        strategy(
            namespace,
            name,
            created,
            &format!(
                "cluster: {{name: c-{namespace}, connectionSecret: sys}}\n\
                 tenants: [t1]\n\
                 dataDestination: {{uri: '{first}/data'}}\n\
                 logDestination: {{uri: '{first}/archive'}}\n\
                 schedule: {{timeZone: UTC, full: 0 1 * * 0}}\n\
                 secondBackup:\n  dataDestination: {{uri: '{second}/data'}}\n  logDestination: {{uri: '{second}/archive'}}\n"
            ),
        )
    }

    fn problem(strategy: &BackupStrategy, all: &[BackupStrategy]) -> Option<String> {
        let known = known_claims(all, &[], &[], &[]);
        second_destination_problem(strategy, &["t1".into()], &known).map(|p| p.message)
    }

    #[test]
    fn a_second_copy_on_its_own_first_destination_however_spelled_is_refused() {
        let own = with_second("prod", "daily", 1, "file:///backup", "file:///backup/");
        let said = problem(&own, std::slice::from_ref(&own)).expect("refused");
        assert!(
            said.contains("the same directory as the data destination of tenant t1"),
            "{said}"
        );
        let inside = with_second(
            "prod",
            "daily",
            1,
            "file:///backup",
            "file:///backup/data/t1/copy",
        );
        assert!(problem(&inside, std::slice::from_ref(&inside)).is_some());
        let apart = with_second("prod", "daily", 1, "file:///backup", "file:///offsite");
        assert_eq!(problem(&apart, std::slice::from_ref(&apart)), None);
    }

    /// Production and staging with the same tenant names sharing one offsite prefix: the newer strategy is
    /// refused, the older keeps its copies.
    #[test]
    fn two_clusters_sharing_one_offsite_prefix_leave_it_to_the_older_strategy() {
        let prod = with_second("prod", "daily", 1, "file:///prod", "s3://offsite/ob?host=h");
        let staging = with_second(
            "staging",
            "daily",
            2,
            "file:///staging",
            "s3://OFFSITE/ob/?host=h",
        );
        let all = [prod.clone(), staging.clone()];
        assert_eq!(problem(&prod, &all), None);
        let said = problem(&staging, &all).expect("the newer one is refused");
        assert!(said.contains("BackupStrategy prod/daily"), "{said}");
        assert!(!said.contains("?host"), "{said}");
    }

    #[test]
    fn a_second_copy_over_an_ad_hoc_tasks_or_oceanbases_destination_is_refused() {
        let ours = with_second("prod", "daily", 5, "file:///prod", "file:///shared");
        let task: BackupTask = serde_norway::from_str(
            "apiVersion: obbackup.dev/v1alpha1\nkind: BackupTask\nmetadata: {name: adhoc, namespace: dev}\n\
             spec: {tenant: t9, mode: Full, cluster: {name: c, connectionSecret: s}, dataDestination: {uri: 'file:///shared/data/t1'}}\n",
        )
        .expect("task");
        let known = known_claims(std::slice::from_ref(&ours), &[task], &[], &[]);
        let said = second_destination_problem(&ours, &["t1".into()], &known)
            .expect("refused")
            .message;
        assert!(said.contains("BackupTask dev/adhoc"), "{said}");

        let mut snapshot = Snapshot::default();
        snapshot.tenants.push(crate::oceanbase::TenantRow {
            id: 1002,
            name: "t7".into(),
            status: crate::oceanbase::State::of("NORMAL"),
            role: crate::oceanbase::State::of("PRIMARY"),
            archivelog: true,
        });
        snapshot
            .data_dests
            .push((1002, "file:///shared/archive/t1/x".into()));
        let known = known_claims(
            std::slice::from_ref(&ours),
            &[],
            &[],
            &[("other".into(), snapshot.into())],
        );
        let said = second_destination_problem(&ours, &["t1".into()], &known)
            .expect("refused")
            .message;
        assert!(
            said.contains("DATA_BACKUP_DEST of tenant t7 of cluster other"),
            "{said}"
        );
        assert!(said.contains("a directory holding"), "{said}");
    }
}
