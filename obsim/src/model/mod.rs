//! The simulated OceanBase cluster: tenants and (in later modules) destinations, archive rounds, backup
//! jobs and sets, delete policies and jobs, restores. docs/reference/oceanbase-interface.md §1–§8.

pub mod archive;
pub mod backup;
pub mod clean;
pub mod dest;
pub mod faults;
pub mod files;
pub mod layout;
pub mod resources;
pub mod restore;
pub mod store;
pub mod tenant;

use jiff::Timestamp;

use crate::{clock::Clock, error::SqlError};
pub use tenant::{Tenant, TenantType};

/// The simulated OBServer address that appears in job comments.
pub const SERVER_ADDRESS: &str = "127.0.0.1:2882";

/// Which OceanBase release the cluster behaves as (docs/reference/oceanbase-interface.md §0.2: a
/// profile per version).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Version(pub [u16; 4]);

impl Version {
    /// 4.2.5.0.
    pub const V4_2_5: Version = Version([4, 2, 5, 0]);
    /// 4.4.1.0: the first with manual backup cleanup (docs/reference/oceanbase-interface.md §5.2).
    pub const V4_4_1: Version = Version([4, 4, 1, 0]);

    /// OceanBase's integer encoding of a cluster version (its `CLUSTER_VERSION` macros, e.g. what
    /// `BACKUP_CLUSTER_VERSION` shows): `major << 32 | minor << 16 | major_patch << 8 | minor_patch`, so
    /// 4.4.1.0 is 17180131584.
    pub fn cluster_version(self) -> u64 {
        let [major, minor, major_patch, minor_patch] = self.0.map(u64::from);
        major << 32 | minor << 16 | major_patch << 8 | minor_patch
    }

    /// Parses `4.2.5` or `4.2.5.0`.
    pub fn parse(text: &str) -> Option<Self> {
        let mut parts = [0u16; 4];
        let mut count = 0;
        for (slot, part) in parts.iter_mut().zip(text.trim().split('.')) {
            *slot = part.parse().ok()?;
            count += 1;
        }
        (count >= 3 && text.split('.').count() <= 4).then_some(Version(parts))
    }
}

impl std::fmt::Display for Version {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let [a, b, c, d] = self.0;
        write!(f, "{a}.{b}.{c}.{d}")
    }
}

/// The largest cluster id OceanBase accepts (its `cluster_id` parameter's range is [1, 4294901759]).
pub const MAX_CLUSTER_ID: i64 = 4_294_901_759;

/// The cluster id of a cluster created without one: stable for a name, 1 + the 64-bit FNV-1a hash of the
/// name's bytes modulo [`MAX_CLUSTER_ID`] (so within OceanBase's range).
pub fn default_cluster_id(name: &str) -> i64 {
    let hash = name.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3)
    });
    let max = MAX_CLUSTER_ID.unsigned_abs();
    i64::try_from(hash % max).unwrap_or_default() + 1
}

/// One simulated cluster.
#[derive(Debug)]
pub struct Cluster {
    /// Cluster name.
    pub name: String,
    /// The `cluster_id` parameter ([`default_cluster_id`] of the name unless set).
    pub cluster_id: i64,
    /// Behaviour profile.
    pub version: Version,
    /// Simulated time.
    pub clock: Clock,
    /// Every tenant: sys, then each user tenant preceded by its meta tenant.
    pub tenants: Vec<Tenant>,
    /// Resource units and pools, restore jobs.
    pub restores: restore::Restores,
    /// Injected faults (the control API).
    pub faults: faults::Faults,
    /// Where backup sets on `file://` destinations are written, if anywhere.
    pub files: Option<files::Files>,
    /// The observers (`ip:port`), one per zone; every tenant has a unit on each (`DBA_OB_UNITS`).
    pub servers: Vec<String>,
    next_sys_job_id: i64,
    next_sys_clean_job_id: i64,
}

impl Cluster {
    /// A cluster with only the sys tenant.
    pub fn new(name: &str, version: Version, sys_password: &str, clock: Clock) -> Self {
        let created = clock.now();
        Self {
            name: name.to_string(),
            cluster_id: default_cluster_id(name),
            version,
            clock,
            tenants: vec![Tenant::sys(created, sys_password)],
            restores: restore::Restores::default(),
            faults: faults::Faults::default(),
            files: None,
            servers: vec![SERVER_ADDRESS.to_string()],
            next_sys_job_id: 0,
            next_sys_clean_job_id: 0,
        }
    }

    /// The current simulated time.
    pub fn now(&self) -> Timestamp {
        self.clock.now()
    }

    /// Adds a user tenant (and its meta tenant) holding `data_bytes` of data.
    pub fn add_user_tenant(
        &mut self,
        name: &str,
        data_bytes: u64,
    ) -> Result<&Tenant, crate::error::SqlError> {
        if self.tenant(name).is_some() {
            return Err(SqlError::tenant_exists(name));
        }
        let user_id = self
            .tenants
            .iter()
            .filter(|t| t.kind == TenantType::User)
            .map(|t| t.id + 2)
            .max()
            .unwrap_or(1002);
        let now = self.now();
        self.tenants.push(Tenant::meta(user_id - 1, now));
        self.tenants
            .push(Tenant::user(user_id, name, data_bytes, now));
        Ok(self
            .tenants
            .last()
            .unwrap_or_else(|| unreachable!("just pushed")))
    }

    /// The tenant of that name (case-insensitive, as OceanBase resolves tenant names).
    pub fn tenant(&self, name: &str) -> Option<&Tenant> {
        self.tenants
            .iter()
            .find(|t| t.name.eq_ignore_ascii_case(name))
    }

    /// Who logs in as `user@tenant`: the tenant (sys or a user tenant; never a meta tenant) and the user's
    /// password, if both exist.
    pub fn account(&self, user: &str, tenant: &str) -> Option<(&Tenant, &str)> {
        let tenant = self.tenant(tenant)?;
        let password = tenant.users.get(user)?;
        Some((tenant, password))
    }

    /// `CREATE USER` / `ALTER USER … IDENTIFIED BY` in a tenant, or the control API: sets `user`'s password
    /// in `tenant`, adding the user if `create` (refused when it exists, unless `if_not_exists`); altering
    /// a user that does not exist is refused.
    pub fn set_user(
        &mut self,
        tenant: &str,
        user: &str,
        password: &str,
        change: UserChange,
    ) -> Result<(), SqlError> {
        let tenant = self
            .tenants
            .iter_mut()
            .find(|t| t.name.eq_ignore_ascii_case(tenant) && t.kind != TenantType::Meta)
            .ok_or_else(|| SqlError::unknown_tenant(tenant))?;
        let exists = tenant.users.contains_key(user);
        match change {
            UserChange::Create { if_not_exists } if exists => {
                return if if_not_exists {
                    Ok(())
                } else {
                    Err(SqlError::user_change_failed("CREATE USER", user))
                };
            }
            UserChange::Alter if !exists => {
                return Err(SqlError::user_change_failed("ALTER USER", user));
            }
            UserChange::Drop if !exists => {
                return Err(SqlError::user_change_failed("DROP USER", user));
            }
            UserChange::Drop => {
                tenant.users.remove(user);
                return Ok(());
            }
            _ => {}
        }
        tenant.users.insert(user.to_string(), password.to_string());
        Ok(())
    }

    /// Moves every tenant's state machines along to the current simulated time.
    pub fn advance(&mut self) {
        let now = self.now();
        self.apply_stalls();
        for tenant in &mut self.tenants {
            tenant.archive.advance(now);
            tenant.backups.advance(now, SERVER_ADDRESS);
            tenant.clean_scope().advance(now);
        }
        self.follow_cluster_jobs(now);
        self.advance_restores(now);
        if let Some(files) = &mut self.files {
            files.know(self.tenants.iter().flat_map(|t| {
                t.archive
                    .data_backup_dest
                    .clone()
                    .into_iter()
                    .chain(t.archive.dest.as_ref().map(|d| d.path.clone()))
            }));
            for tenant in &self.tenants {
                for set in &tenant.backups.sets {
                    files.sync(tenant.id, set);
                }
                for piece in tenant.archive.pieces() {
                    files.sync_piece(tenant.id, &piece);
                }
            }
        }
    }

    /// Sys-side CLUSTER backup jobs follow the tenant jobs they spawned.
    fn follow_cluster_jobs(&mut self, now: Timestamp) {
        let (sys, users): (Vec<&mut Tenant>, Vec<&mut Tenant>) = self
            .tenants
            .iter_mut()
            .filter(|t| t.kind != TenantType::Meta)
            .partition(|t| t.kind == TenantType::Sys);
        for sys in sys {
            for cluster_job in &mut sys.backups.jobs {
                let spawned: Vec<&backup::BackupJob> = users
                    .iter()
                    .flat_map(|t| t.backups.jobs.iter().chain(&t.backups.history))
                    .filter(|j| {
                        j.initiator_tenant_id == 1 && j.initiator_job_id == cluster_job.job_id
                    })
                    .collect();
                cluster_job.follow(&spawned);
            }
            sys.backups.retire_finished(now);
        }
    }

    /// The tenants a `TENANT = list` clause names; without one, every user tenant.
    fn tenant_names(&self, list: Option<&[String]>) -> Vec<String> {
        match list {
            Some(list) => list.to_vec(),
            None => self
                .tenants
                .iter()
                .filter(|t| t.kind == TenantType::User)
                .map(|t| t.name.clone())
                .collect(),
        }
    }

    /// The tenant a `TENANT = name` clause names; without one, statements from sys act on sys itself.
    fn target(&mut self, name: Option<&str>) -> Result<&mut Tenant, SqlError> {
        let name = name.unwrap_or("sys");
        self.tenants
            .iter_mut()
            .find(|t| t.name.eq_ignore_ascii_case(name))
            .ok_or_else(|| SqlError::unknown_tenant(name))
    }

    /// The user tenant a `TENANT = name` clause names; statements about backups need one from sys.
    pub(crate) fn user_tenant(&mut self, name: Option<&str>) -> Result<&mut Tenant, SqlError> {
        let Some(name) = name else {
            return Err(SqlError::oceanbase(1210, "Invalid argument"));
        };
        let tenant = self.target(Some(name))?;
        if tenant.kind != TenantType::User {
            return Err(SqlError::oceanbase(
                1235,
                "Not supported feature or function",
            ));
        }
        Ok(tenant)
    }

    /// `ALTER SYSTEM SET name = value [TENANT = t]` (docs/reference/oceanbase-interface.md §1.2,
    /// §2.1, §2.2).
    pub fn set_parameter(
        &mut self,
        name: &str,
        value: &str,
        tenant: Option<&str>,
    ) -> Result<(), SqlError> {
        let now = self.now();
        let unreachable = tenant.is_some_and(|t| self.faults.is_unreachable(t));
        let tenant = self.target(tenant)?;
        if let Some(uri) = dest::named(name, value) {
            dest::check(uri)?;
        }
        let backup_config = matches!(
            name,
            "data_backup_dest" | "log_archive_dest" | "log_archive_dest_state"
        );
        if unreachable
            && matches!(name, "data_backup_dest" | "log_archive_dest")
            && !value.is_empty()
        {
            // Setting a destination checks that it can be reached (OB-cfg writes a check file there).
            let (_, message) = faults::DEST_NOT_CONNECT;
            return Err(SqlError::oceanbase(9070, message));
        }
        if backup_config && tenant.kind != TenantType::User {
            // Sys and meta tenants have no backup destinations (§1.1, §2.1).
            return Err(SqlError::oceanbase(
                1235,
                "Not supported feature or function",
            ));
        }
        let id = tenant.id;
        if matches!(name, "data_backup_dest" | "log_archive_dest")
            && !value.is_empty()
            && self.format_owned_elsewhere(id, name, value)
        {
            // The destination's format file names another tenant or the other kind of destination
            // (OceanBase's `ObBackupDestMgr::check_dest_validity`).
            return Err(SqlError::oceanbase(
                9081,
                "the content of the format file at the destination does not match",
            ));
        }
        let tenant = self.target(Some(&self.tenant_name(id)))?;
        match name {
            "data_backup_dest" => {
                let job_exists = tenant.backups.has_active_job();
                tenant.archive.set_data_backup_dest(value, job_exists)
            }
            "log_archive_dest" => tenant.archive.set_log_archive_dest(value),
            "log_archive_dest_state" => tenant.archive.set_dest_state(value, now),
            // Other parameters (log_archive_concurrency, archive_lag_target, ha_low_thread_score …) are
            // accepted and have no effect in the simulator.
            _ => Ok(()),
        }
    }

    /// Whether setting destination `name` (`data_backup_dest` or `log_archive_dest`) of tenant `id` to
    /// `value` meets a format file written for something else: another tenant's destination of either kind,
    /// or the tenant's own destination of the other kind.
    fn format_owned_elsewhere(&self, id: i64, name: &str, value: &str) -> bool {
        let place = |uri: &str| {
            let uri = uri
                .split_whitespace()
                .find_map(|a| {
                    a.strip_prefix("LOCATION=")
                        .or_else(|| a.strip_prefix("location="))
                })
                .unwrap_or(uri);
            uri.split('?')
                .next()
                .unwrap_or(uri)
                .trim_end_matches('/')
                .to_string()
        };
        let wanted = place(value);
        self.tenants.iter().any(|t| {
            let data = t.archive.data_backup_dest.as_deref().map(place);
            let log = t.archive.dest.as_ref().map(|d| place(&d.path));
            let (same_kind, other_kind) = if name == "data_backup_dest" {
                (data, log)
            } else {
                (log, data)
            };
            other_kind.as_deref() == Some(wanted.as_str())
                || (t.id != id && same_kind.as_deref() == Some(wanted.as_str()))
        })
    }

    fn tenant_name(&self, id: i64) -> String {
        self.tenants
            .iter()
            .find(|t| t.id == id)
            .map(|t| t.name.clone())
            .unwrap_or_default()
    }

    /// `ALTER SYSTEM ARCHIVELOG | NOARCHIVELOG [TENANT = list]`; without a list, every user tenant (§3.1).
    pub fn archive_mode(
        &mut self,
        enable: bool,
        tenants: Option<&[String]>,
    ) -> Result<(), SqlError> {
        let now = self.now();
        let names = self.tenant_names(tenants);
        // Every named tenant must accept the change before any of them changes.
        for name in &names {
            let tenant = self.target(Some(name))?;
            if tenant.kind != TenantType::User {
                return Err(SqlError::oceanbase(
                    1235,
                    "Not supported feature or function",
                ));
            }
            tenant
                .archive
                .check_archive_mode(enable, tenant.status == "NORMAL")?;
        }
        for name in &names {
            let tenant = self.target(Some(name))?;
            let normal = tenant.status == "NORMAL";
            tenant.archive.set_archive_mode(enable, normal, now)?;
        }
        Ok(())
    }
}

impl Cluster {
    /// `ALTER SYSTEM BACKUP [INCREMENTAL] {DATABASE | TENANT = list} …` from sys
    /// (docs/reference/oceanbase-interface.md §4.1–§4.3). With a tenant list every named tenant
    /// must qualify; `DATABASE` backs up every tenant that does.
    pub fn backup(&mut self, request: BackupRequest) -> Result<(), SqlError> {
        if let Some(to) = &request.to {
            dest::check(to)?;
        }
        let now = self.now();
        let explicit = request.tenants.is_some();
        let names = self.tenant_names(request.tenants.as_deref());
        let mut eligible = Vec::new();
        for name in &names {
            let tenant = self.target(Some(name))?;
            let check = admission(tenant, request.to.as_deref());
            match check {
                Ok(()) => eligible.push(name.clone()),
                Err(e) if explicit => return Err(e),
                Err(_) => {}
            }
        }
        if eligible.is_empty() {
            return Err(SqlError::oceanbase(
                9040,
                "backup can not start, because no tenant meets the backup condition, please check the tenant status, \
                 log archive status, backup data dest, and backup status for each tenant",
            ));
        }
        let sys_job = if request.inside_tenant {
            None
        } else {
            self.next_sys_job_id += 1;
            Some(self.next_sys_job_id)
        };
        let mut executors = Vec::new();
        for name in eligible {
            let failure = self.faults.take_backup_failure(&name);
            let tenant = self.target(Some(&name))?;
            let path = request
                .to
                .clone()
                .or_else(|| tenant.archive.data_backup_dest.clone())
                .unwrap_or_default();
            let job = backup::NewJob {
                tenant_id: tenant.id,
                incremental: request.incremental,
                plus_archivelog: request.plus_archivelog,
                password: request.password.clone(),
                description: request.description.clone().unwrap_or_default(),
                path: strip_credentials(&path),
                dest_id: 1,
                data_bytes: tenant.data_bytes,
                initiator: sys_job.map(|job| (1, job)),
            };
            executors.push(tenant.id);
            tenant.backups.submit(job, now);
            if let Some(job) = tenant.backups.jobs.last_mut() {
                job.fail_with = failure;
            }
        }
        let Some(sys_job) = sys_job else {
            return Ok(());
        };
        let cluster_job = backup::BackupJob::cluster_job(sys_job, &executors, &request, now);
        if let Some(sys) = self.tenants.iter_mut().find(|t| t.kind == TenantType::Sys) {
            sys.backups.jobs.push(cluster_job);
        }
        Ok(())
    }

    /// `ALTER SYSTEM CANCEL BACKUP [TENANT = list]`; without a list, every tenant
    /// (docs/reference/oceanbase-interface.md §4.1).
    pub fn cancel_backup(&mut self, tenants: Option<&[String]>) -> Result<(), SqlError> {
        let now = self.now();
        match tenants {
            Some(list) => {
                for name in list {
                    self.target(Some(name))?.backups.cancel(now);
                }
            }
            None => self.tenants.iter_mut().for_each(|t| t.backups.cancel(now)),
        }
        Ok(())
    }
}

/// What a statement does to a tenant's user.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UserChange {
    /// `CREATE USER [IF NOT EXISTS]`.
    Create { if_not_exists: bool },
    /// `ALTER USER … IDENTIFIED BY`.
    Alter,
    /// `DROP USER`.
    Drop,
}

/// What `ALTER SYSTEM BACKUP` asked for, plus the session's encryption password.
pub struct BackupRequest {
    pub incremental: bool,
    pub tenants: Option<Vec<String>>,
    pub to: Option<String>,
    pub plus_archivelog: bool,
    pub description: Option<String>,
    pub password: Option<String>,
    /// Sent by the tenant's own session: the job is the tenant's own, with no sys-side `CLUSTER` job.
    pub inside_tenant: bool,
}

/// The admission checks of a backup of one tenant (docs/reference/oceanbase-interface.md §4.2).
fn admission(tenant: &Tenant, to: Option<&str>) -> Result<(), SqlError> {
    let cannot =
        |why: &str| SqlError::oceanbase(9040, format!("backup can not start, because {why}"));
    if tenant.kind != TenantType::User {
        return Err(SqlError::oceanbase(
            1235,
            "Not supported feature or function",
        ));
    }
    if tenant.status != "NORMAL" {
        return Err(cannot("tenant status is not normal."));
    }
    if to.is_none() && tenant.archive.data_backup_dest.is_none() {
        return Err(cannot("backup dest is not set."));
    }
    let doing = tenant
        .archive
        .round
        .as_ref()
        .is_some_and(|r| r.status == archive::RoundStatus::Doing);
    if !doing {
        return Err(cannot("log archive status is not doing."));
    }
    if tenant.backups.has_active_job() {
        return Err(SqlError::oceanbase(9036, "Backup is in progress"));
    }
    Ok(())
}

/// A destination as views show it: the URI without its access keys.
/// `dir` under the destination `dest`, before its query: `s3://b/data?host=h` and `backup_set_1_full`
/// give `s3://b/data/backup_set_1_full?host=h`.
pub fn under(dest: &str, dir: &str) -> String {
    match dest.split_once('?') {
        Some((base, query)) => format!("{}/{dir}?{query}", base.trim_end_matches('/')),
        None => format!("{}/{dir}", dest.trim_end_matches('/')),
    }
}

pub fn strip_credentials(uri: &str) -> String {
    let Some((base, query)) = uri.split_once('?') else {
        return uri.to_string();
    };
    let kept: Vec<&str> = query
        .split('&')
        .filter(|pair| {
            let key = pair.split('=').next().unwrap_or_default().to_lowercase();
            key != "access_id" && key != "access_key"
        })
        .collect();
    if kept.is_empty() {
        base.to_string()
    } else {
        format!("{base}?{}", kept.join("&"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cluster() -> Cluster {
        Cluster::new(
            "obcluster",
            Version::V4_2_5,
            "pw",
            Clock::new(Timestamp::UNIX_EPOCH, 0.0),
        )
    }

    #[test]
    fn user_tenants_get_even_ids_with_their_meta_tenant_just_below() {
        let mut cluster = cluster();
        cluster.add_user_tenant("tenant1", 1 << 30).expect("add");
        cluster.add_user_tenant("tenant2", 1 << 30).expect("add");
        let ids: Vec<_> = cluster.tenants.iter().map(|t| (t.id, t.kind)).collect();
        assert_eq!(
            ids,
            [
                (1, TenantType::Sys),
                (1001, TenantType::Meta),
                (1002, TenantType::User),
                (1003, TenantType::Meta),
                (1004, TenantType::User)
            ]
        );
        assert_eq!(cluster.tenants[1].name, "META$1002");
    }

    #[test]
    fn a_tenant_name_is_taken_once() {
        let mut cluster = cluster();
        cluster.add_user_tenant("tenant1", 0).expect("add");
        assert_eq!(
            cluster.add_user_tenant("TENANT1", 0).err().map(|e| e.code),
            Some(5156)
        );
    }

    #[test]
    fn archivelog_for_several_tenants_changes_none_when_one_refuses() {
        let mut cluster = cluster();
        cluster.add_user_tenant("t1", 0).expect("add");
        cluster.add_user_tenant("t2", 0).expect("add");
        cluster
            .archive_mode(true, Some(&["t2".to_string()]))
            .expect("t2 archiving");
        let both = ["t1".to_string(), "t2".to_string()];
        assert_eq!(
            cluster.archive_mode(true, Some(&both)).map_err(|e| e.code),
            Err(9091)
        );
        assert_eq!(
            cluster.tenant("t1").map(|t| t.archive.log_mode_archive),
            Some(false),
            "t1 untouched"
        );
    }

    #[test]
    fn versions_parse_and_order() {
        assert_eq!(Version::parse("4.2.5"), Some(Version::V4_2_5));
        assert!(Version::parse("4.4.1.0").is_some_and(|v| v >= Version::V4_4_1));
        assert_eq!(Version::parse("four"), None);
        assert_eq!(
            default_cluster_id("obcluster"),
            default_cluster_id("obcluster")
        );
        assert_ne!(
            default_cluster_id("obcluster"),
            default_cluster_id("obcluster2")
        );
        assert!((1..=MAX_CLUSTER_ID).contains(&default_cluster_id("")));
        assert_eq!(
            Version::V4_4_1.cluster_version(),
            (4 << 32) + (4 << 16) + (1 << 8)
        );
        assert_eq!(
            Version::V4_2_5.cluster_version(),
            (4 << 32) + (2 << 16) + (5 << 8)
        );
        assert_eq!(Version([4, 2, 5, 3]).cluster_version(), 17_180_001_539);
    }
}
