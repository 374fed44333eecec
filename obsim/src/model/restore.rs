//! Physical restore (docs/reference/oceanbase-interface.md §6): `ALTER SYSTEM RESTORE` creating a
//! new tenant, with the source tenant's users, from backup sets and archive pieces found under the
//! `FROM` URIs (`restore/media.rs`, chosen by `restore/plan.rs`), the two progress rows (the sys
//! initiator job and the job inside the new tenant), history `SUCCESS`/`FAIL` (an injected failure, or a
//! lost archive piece failing the log restore, §6.7), the restored tenant as STANDBY until `ACTIVATE
//! STANDBY`, and dropping a tenant (§6.6).

use jiff::{SignedDuration, Timestamp};

mod media;
mod plan;

pub use media::RestoreMedia;
use plan::{Plan, plan, time_scn};

use super::{
    Cluster, SERVER_ADDRESS, Tenant, TenantType, dest,
    resources::{ResourcePool, ResourceUnit},
    strip_credentials,
};
use crate::{
    error::SqlError,
    sql::admin::{RestoreStatement, Until},
};

/// Simulated restore throughput (bytes per second).
pub const RESTORE_BYTES_PER_SECOND: u64 = 400 * 1024 * 1024;
/// How long each short phase takes.
const STEP: SignedDuration = SignedDuration::from_secs(2);

/// Where a restore job is (docs/reference/oceanbase-interface.md §6.3). The sys row shows
/// CREATE_TENANT, then WAIT_TENANT_RESTORE_FINISH while the tenant job walks its phases.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum RestorePhase {
    CreateTenant,
    RestorePre,
    CreateInitLs,
    WaitLs,
    PostCheck,
    Upgrade,
    Success,
    Fail,
}

impl RestorePhase {
    /// STATUS of the job inside the new tenant as the progress view shows it: the restoring phases are
    /// mapped to `RESTORING` (OB-py 21284).
    pub fn tenant_status(self) -> &'static str {
        match self {
            RestorePhase::CreateTenant => "CREATE_TENANT",
            RestorePhase::RestorePre
            | RestorePhase::CreateInitLs
            | RestorePhase::WaitLs
            | RestorePhase::PostCheck => "RESTORING",
            RestorePhase::Upgrade => "UPGRADE",
            RestorePhase::Success => "RESTORE_SUCCESS",
            RestorePhase::Fail => "RESTORE_FAIL",
        }
    }

    /// STATUS of the sys initiator job.
    pub fn sys_status(self) -> &'static str {
        match self {
            RestorePhase::CreateTenant => "CREATE_TENANT",
            RestorePhase::Success => "RESTORE_SUCCESS",
            RestorePhase::Fail => "RESTORE_FAIL",
            _ => "WAIT_TENANT_RESTORE_FINISH",
        }
    }

    /// History STATUS (`SUCCESS` / `FAIL`, §6.3).
    pub fn history_status(self) -> &'static str {
        if self == RestorePhase::Success {
            "SUCCESS"
        } else {
            "FAIL"
        }
    }

    fn next(self) -> Self {
        match self {
            RestorePhase::CreateTenant => RestorePhase::RestorePre,
            RestorePhase::RestorePre => RestorePhase::CreateInitLs,
            RestorePhase::CreateInitLs => RestorePhase::WaitLs,
            RestorePhase::WaitLs => RestorePhase::PostCheck,
            RestorePhase::PostCheck => RestorePhase::Upgrade,
            RestorePhase::Upgrade | RestorePhase::Success => RestorePhase::Success,
            RestorePhase::Fail => RestorePhase::Fail,
        }
    }

    fn is_final(self) -> bool {
        matches!(self, RestorePhase::Success | RestorePhase::Fail)
    }
}

/// One restore, shown as two rows (sys and new tenant) in the progress and history views.
#[derive(Clone, Debug)]
pub struct RestoreJob {
    pub job_id: i64,
    pub tenant_name: String,
    pub tenant_id: i64,
    pub backup_tenant_name: String,
    pub backup_tenant_id: i64,
    pub backup_cluster_name: String,
    /// The source cluster's version, encoded as [`crate::model::Version::cluster_version`].
    pub backup_cluster_version: u64,
    /// The FROM URIs without access keys.
    pub backup_dest: String,
    pub restore_option: String,
    pub restore_scn: u64,
    pub phase: RestorePhase,
    /// When the job entered its phase.
    pub since: Timestamp,
    pub start: Timestamp,
    pub finish: Option<Timestamp>,
    pub backup_set_list: String,
    pub backup_piece_list: String,
    pub total_bytes: u64,
    pub finish_bytes: u64,
    pub description: String,
    pub comment: String,
    /// An injected failure: the error code and message the job fails with halfway.
    pub fail_with: Option<(i64, String)>,
    /// A piece the plan needs whose files are gone: the log restore fails on it once the data is restored.
    pub missing_piece: Option<i64>,
}

/// The restores of a cluster, run from sys.
#[derive(Clone, Debug, Default)]
pub struct Restores {
    pub units: Vec<ResourceUnit>,
    pub pools: Vec<ResourcePool>,
    pub jobs: Vec<RestoreJob>,
    pub history: Vec<RestoreJob>,
    next_job_id: i64,
}

impl Cluster {
    /// `ALTER SYSTEM RESTORE` from sys (§6.2). `media` is what some cluster of this simulator holds under the
    /// FROM URIs; `passwords` the session's `SET DECRYPTION` list. The new tenant is `RESTORE` until the
    /// job ends, with the source tenant's users (a physical restore brings them back as data of the tenant).
    pub fn restore(
        &mut self,
        statement: RestoreStatement,
        media: Option<RestoreMedia>,
        passwords: &[String],
    ) -> Result<(), SqlError> {
        let (media, plan, pools) = self.admit_restore(&statement, media, passwords)?;
        let tenant_id = self.restored_tenant(&statement.tenant, &media, &plan)?;
        for pool in self.restores.pools.iter_mut() {
            if pools.contains(&pool.name) {
                pool.tenant_id = Some(tenant_id);
            }
        }
        let job = self.restore_job(statement, tenant_id, &media, &plan);
        self.restores.jobs.push(job);
        Ok(())
    }

    /// The checks a RESTORE passes before anything is created, in the order a client meets them; the media
    /// and plan it restores from and the pools it takes.
    fn admit_restore(
        &self,
        statement: &RestoreStatement,
        media: Option<RestoreMedia>,
        passwords: &[String],
    ) -> Result<(RestoreMedia, Plan, Vec<String>), SqlError> {
        statement.from.iter().try_for_each(|uri| dest::check(uri))?;
        if self
            .restores
            .jobs
            .iter()
            .any(|j| j.tenant_name.eq_ignore_ascii_case(&statement.tenant))
        {
            return Err(SqlError::oceanbase(9014, "Another restore is in progress"));
        }
        if self.tenant(&statement.tenant).is_some() {
            return Err(SqlError::tenant_exists(&statement.tenant));
        }
        let pools = self.restore_pools(&statement.options)?;
        let Some(media) = media else {
            return Err(SqlError::oceanbase(
                9080,
                "the format file does not exist under the destination",
            ));
        };
        let target = match &statement.until {
            Until::Latest => None,
            Until::Scn(scn) => Some(*scn),
            Until::Time(text) => Some(time_scn(text)?),
        };
        let Some(plan) = plan(&media, target) else {
            // OB_RESTORE_SOURCE_NOT_ENOUGH (ob_errno.def at 017bf592; not among
            // docs/reference/oceanbase-interface.md §12's codes).
            return Err(SqlError::oceanbase(
                9119,
                "do not have enough restore source",
            ));
        };
        for (set, password) in &media.sets {
            if plan.sets.contains(&set.backup_set_id)
                && let Some(password) = password
                && !passwords.contains(password)
            {
                return Err(SqlError::oceanbase(9047, "invalid password for backup"));
            }
        }
        Ok((media, plan, pools))
    }

    /// Creates the tenant a restore builds: `RESTORE`, with the source tenant's users, its data as of the
    /// restore point. Returns its id.
    fn restored_tenant(
        &mut self,
        name: &str,
        media: &RestoreMedia,
        plan: &Plan,
    ) -> Result<i64, SqlError> {
        let tenant_id = self.add_user_tenant(name, media.data_bytes)?.id;
        if let Some(tenant) = self.tenants.iter_mut().find(|t| t.id == tenant_id) {
            tenant.status = "RESTORE";
            tenant.role = "RESTORE";
            tenant.data_as_of = Timestamp::from_nanosecond(i128::from(plan.scn)).ok();
            tenant.users = media.users.clone();
        }
        Ok(tenant_id)
    }

    /// The job of a restore into tenant `tenant_id`, carrying the injected failure if one is due and the
    /// lost piece its log restore will miss, if any.
    fn restore_job(
        &mut self,
        statement: RestoreStatement,
        tenant_id: i64,
        media: &RestoreMedia,
        plan: &Plan,
    ) -> RestoreJob {
        let now = self.now();
        self.restores.next_job_id += 1;
        RestoreJob {
            job_id: self.restores.next_job_id,
            tenant_name: statement.tenant,
            tenant_id,
            backup_tenant_name: media.tenant_name.clone(),
            backup_tenant_id: media.tenant_id,
            backup_cluster_name: media.cluster_name.clone(),
            backup_cluster_version: media.cluster_version.cluster_version(),
            backup_dest: statement
                .from
                .iter()
                .map(|u| strip_credentials(u))
                .collect::<Vec<_>>()
                .join(","),
            restore_option: statement.options,
            restore_scn: plan.scn,
            phase: RestorePhase::CreateTenant,
            since: now,
            start: now,
            finish: None,
            backup_set_list: join(&plan.sets),
            backup_piece_list: join(&plan.pieces),
            total_bytes: media.data_bytes.max(1),
            finish_bytes: 0,
            description: statement.description.clone().unwrap_or_default(),
            comment: String::new(),
            fail_with: self.faults.next_restore_failure.take(),
            missing_piece: plan.lost_piece(media),
        }
    }

    /// The pools of `pool_list=…` in the restore options: they must exist and be free.
    fn restore_pools(&self, options: &str) -> Result<Vec<String>, SqlError> {
        let list = options
            .split('&')
            .filter_map(|kv| kv.split_once('='))
            .find(|(k, _)| k.trim().eq_ignore_ascii_case("pool_list"))
            .map(|(_, v)| v)
            .unwrap_or_default();
        let names: Vec<String> = list
            .split(',')
            .map(str::trim)
            .filter(|n| !n.is_empty())
            .map(String::from)
            .collect();
        if names.is_empty() {
            return Err(SqlError::oceanbase(4647, "resource pool list is empty"));
        }
        for name in &names {
            match self.restores.pools.iter().find(|p| &p.name == name) {
                None => {
                    return Err(SqlError::oceanbase(
                        4650,
                        format!("resource pool '{name}' not exist"),
                    ));
                }
                Some(pool) if pool.tenant_id.is_some() => {
                    return Err(SqlError::oceanbase(
                        4626,
                        format!("resource pool '{name}' has already been granted to a tenant"),
                    ));
                }
                Some(_) => {}
            }
        }
        Ok(names)
    }

    /// `ALTER SYSTEM CANCEL RESTORE t`: the job ends FAIL with a comment saying so and the
    /// half-restored tenant is dropped (OceanBase's cancel semantics are unconfirmed:
    /// docs/reference/oceanbase-interface.md §6.4).
    pub fn cancel_restore(&mut self, tenant: &str) -> Result<(), SqlError> {
        let now = self.now();
        let Some(job) = self
            .restores
            .jobs
            .iter_mut()
            .find(|j| j.tenant_name.eq_ignore_ascii_case(tenant) && !j.phase.is_final())
        else {
            return Err(SqlError::unknown_tenant(tenant));
        };
        job.phase = RestorePhase::Fail;
        job.since = now;
        job.finish = Some(now);
        job.comment = "physical restore is canceled".into();
        let id = job.tenant_id;
        self.drop_restored_tenant(id);
        Ok(())
    }

    /// `ALTER SYSTEM ACTIVATE STANDBY TENANT = t`: a standby becomes PRIMARY (§6.4).
    pub fn activate_standby(&mut self, tenant: Option<&str>) -> Result<(), SqlError> {
        let tenant = self.user_tenant(tenant)?;
        match tenant.role {
            "STANDBY" => {
                tenant.role = "PRIMARY";
                Ok(())
            }
            "PRIMARY" => Ok(()),
            _ => Err(SqlError::oceanbase(4179, "Operation not allowed now")),
        }
    }

    /// `ALTER SYSTEM RECOVER STANDBY TENANT = t …`: accepted for a standby; log replay is not modelled.
    pub fn recover_standby(&mut self, tenant: Option<&str>) -> Result<(), SqlError> {
        let tenant = self.user_tenant(tenant)?;
        if tenant.role != "STANDBY" {
            return Err(SqlError::oceanbase(4179, "Operation not allowed now"));
        }
        Ok(())
    }

    /// `DROP TENANT [IF EXISTS] t [PURGE | FORCE]` (§6.6). FORCE drops the tenant and its meta tenant at
    /// once and revokes its pools (a restore under way ends as a canceled one does). Without FORCE a
    /// NORMAL tenant is dropped later: it shows `DROPPING`, keeps its pools, and goes with a FORCE drop
    /// (when OceanBase itself finishes a delayed drop is not modelled). A tenant that is not NORMAL — still
    /// restoring, creating or dropping — is refused without FORCE; the sys and meta tenants always.
    pub fn drop_tenant(
        &mut self,
        name: &str,
        if_exists: bool,
        force: bool,
    ) -> Result<(), SqlError> {
        let Some(tenant) = self
            .tenants
            .iter_mut()
            .find(|t| t.name.eq_ignore_ascii_case(name))
        else {
            return if if_exists {
                Ok(())
            } else {
                Err(SqlError::unknown_tenant(name))
            };
        };
        if tenant.kind != TenantType::User {
            return Err(SqlError::unsupported());
        }
        if !force {
            if tenant.status != "NORMAL" {
                return Err(SqlError::not_supported(
                    "should drop tenant force, delay drop tenant",
                ));
            }
            tenant.status = "DROPPING";
            return Ok(());
        }
        let id = tenant.id;
        if self
            .restores
            .jobs
            .iter()
            .any(|j| j.tenant_id == id && !j.phase.is_final())
        {
            return self.cancel_restore(name);
        }
        self.drop_restored_tenant(id);
        Ok(())
    }

    fn drop_restored_tenant(&mut self, id: i64) {
        self.tenants.retain(|t| t.id != id && t.id != id - 1);
        for pool in &mut self.restores.pools {
            if pool.tenant_id == Some(id) {
                pool.tenant_id = None;
            }
        }
    }

    /// Moves restores along to `now`.
    pub(super) fn advance_restores(&mut self, now: Timestamp) {
        let mut jobs = std::mem::take(&mut self.restores.jobs);
        for job in &mut jobs {
            if self.faults.stalled_restores && !job.phase.is_final() {
                job.since = now;
                continue;
            }
            advance(job, now);
            if let Some(tenant) = self.tenants.iter_mut().find(|t| t.id == job.tenant_id) {
                restored_tenant_follows(tenant, job.phase);
            }
            if job.phase == RestorePhase::Fail {
                self.drop_restored_tenant(job.tenant_id);
            }
        }
        let (finished, running): (Vec<_>, Vec<_>) = jobs.into_iter().partition(|j| {
            j.phase.is_final()
                && now.duration_since(j.finish.unwrap_or(now)) >= SignedDuration::from_secs(1)
        });
        self.restores.jobs = running;
        self.restores.history.extend(finished);
    }
}

fn restored_tenant_follows(tenant: &mut Tenant, phase: RestorePhase) {
    if phase == RestorePhase::Success && tenant.status == "RESTORE" {
        tenant.status = "NORMAL";
        tenant.role = "STANDBY";
    }
}

fn advance(job: &mut RestoreJob, now: Timestamp) {
    while !job.phase.is_final() {
        if job.phase == RestorePhase::WaitLs {
            if !restore_ls(job, now) {
                return;
            }
            continue;
        }
        if now.duration_since(job.since) < STEP {
            return;
        }
        job.since += STEP;
        job.phase = job.phase.next();
        if job.phase == RestorePhase::Success {
            job.finish = Some(job.since);
        }
    }
}

/// OB_BACKUP_FILE_NOT_EXIST (−9011, "cannot find backup file"): what reading a file the destination no longer
/// holds fails with, and the restore does not retry (docs/reference/oceanbase-interface.md §6.7).
pub const BACKUP_FILE_NOT_EXIST: (i64, &str) = (-9011, "cannot find backup file");

/// The log streams' restore (`WAIT_LS`): the data at [`RESTORE_BYTES_PER_SECOND`], then the log replayed
/// from the plan's pieces. An injected failure strikes when half the data is restored; a lost piece fails
/// the log restore (module `CLOG`) once the data is in. Returns whether the job left the phase.
fn restore_ls(job: &mut RestoreJob, now: Timestamp) -> bool {
    let seconds = now.duration_since(job.since).as_secs_f64().max(0.0);
    job.finish_bytes = ((seconds * RESTORE_BYTES_PER_SECOND as f64) as u64).min(job.total_bytes);
    if let Some((code, message)) = job.fail_with.clone()
        && job.finish_bytes * 2 >= job.total_bytes
    {
        job.finish_bytes = job.total_bytes / 2;
        let at = job.since + seconds_for(job.finish_bytes);
        fail(job, at, "STORAGE", code, &message);
        return true;
    }
    if job.finish_bytes < job.total_bytes {
        return false;
    }
    let at = job.since + seconds_for(job.total_bytes);
    if job.missing_piece.is_some() {
        let (code, message) = BACKUP_FILE_NOT_EXIST;
        fail(job, at, "CLOG", code, message);
        return true;
    }
    job.phase = job.phase.next();
    job.since = at.min(now);
    true
}

/// The job ends FAIL at `at`, its COMMENT as OceanBase reports a log stream's restore failure: the server,
/// the module that failed (`STORAGE` for data, `CLOG` for log), the result code and its message
/// (docs/reference/oceanbase-interface.md §6.7).
fn fail(job: &mut RestoreJob, at: Timestamp, module: &str, code: i64, message: &str) {
    job.phase = RestorePhase::Fail;
    job.finish = Some(at);
    job.since = at;
    job.comment = format!(
        "(SERVER)ls_id: 1001, addr: {SERVER_ADDRESS}, module: {module}, result: {code}({message}), \
         trace_id: Y0-0000000000000002-0-0"
    );
}

/// How long restoring `bytes` takes.
fn seconds_for(bytes: u64) -> SignedDuration {
    SignedDuration::from_secs(i64::try_from(bytes.div_ceil(RESTORE_BYTES_PER_SECOND)).unwrap_or(0))
}

fn join(ids: &[i64]) -> String {
    ids.iter().map(i64::to_string).collect::<Vec<_>>().join(",")
}
