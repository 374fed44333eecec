//! Physical restore (docs/reference/oceanbase-interface.md §6): `ALTER SYSTEM RESTORE` creating a
//! new tenant from backup sets and archive pieces found under the `FROM` URIs, the two progress
//! rows (the sys initiator job and the job inside the new tenant), history `SUCCESS`/`FAIL`, and
//! the restored tenant as STANDBY until `ACTIVATE STANDBY`, and dropping a tenant (§6.6).

use jiff::{SignedDuration, Timestamp};

use super::{
    Cluster, SERVER_ADDRESS, Tenant, TenantType, Version,
    archive::{Piece, scn},
    backup::BackupSet,
    dest,
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

/// What a cluster holds under a restore's FROM URIs: one source tenant's backup sets and archive pieces.
#[derive(Clone, Debug)]
pub struct RestoreMedia {
    pub cluster_name: String,
    pub cluster_version: Version,
    pub tenant_name: String,
    pub tenant_id: i64,
    pub data_bytes: u64,
    /// Sets under the data URI, each with the password it was encrypted with.
    pub sets: Vec<(BackupSet, Option<String>)>,
    /// Pieces under the archive URI.
    pub pieces: Vec<Piece>,
}

impl Cluster {
    /// The source tenant whose data backups and archive live under the FROM URIs, if this cluster has one.
    pub fn restore_media(&self, from: &[String]) -> Option<RestoreMedia> {
        let uris: Vec<String> = from
            .iter()
            .map(|u| strip_credentials(u).trim_end_matches('/').to_string())
            .collect();
        self.media_where_written(&uris)
            .or_else(|| self.media_copied(from))
    }

    /// The source tenant whose sets and pieces this cluster wrote under the URIs.
    fn media_where_written(&self, uris: &[String]) -> Option<RestoreMedia> {
        let under = |path: &str| {
            uris.iter()
                .any(|u| path == u || path.starts_with(&format!("{u}/")))
        };
        self.tenants
            .iter()
            .filter(|t| t.kind == TenantType::User)
            .find_map(|tenant| {
                let sets: Vec<_> = tenant
                    .backups
                    .sets
                    .iter()
                    .filter(|s| under(&s.path))
                    .map(|s| {
                        let password = tenant
                            .backups
                            .history
                            .iter()
                            .chain(&tenant.backups.jobs)
                            .find(|j| j.backup_set_id == s.backup_set_id)
                            .and_then(|j| j.password.clone());
                        (s.clone(), password)
                    })
                    .collect();
                let pieces: Vec<_> = tenant
                    .archive
                    .pieces()
                    .into_iter()
                    .filter(|p| under(&strip_credentials(&p.path)))
                    .collect();
                (!sets.is_empty() && !pieces.is_empty()).then(|| RestoreMedia {
                    cluster_name: self.name.clone(),
                    cluster_version: self.version,
                    tenant_name: tenant.name.clone(),
                    tenant_id: tenant.id,
                    data_bytes: tenant.data_bytes,
                    sets,
                    pieces,
                })
            })
    }

    /// A copy of a tenant's sets and pieces (a second destination) under the FROM URIs (with their keys),
    /// read from its files: the sets copied whole, the pieces up to the checkpoint the copy holds.
    fn media_copied(&self, from: &[String]) -> Option<RestoreMedia> {
        let found = self.files.as_ref()?.read_tree(from)?;
        let tenant = self
            .tenants
            .iter()
            .find(|t| t.id == found.tenant_id && t.kind == TenantType::User)?;
        let sets = tenant
            .backups
            .sets
            .iter()
            .filter(|s| found.sets.contains(&s.backup_set_id) && s.status == "SUCCESS")
            .map(|s| {
                let password = tenant
                    .backups
                    .history
                    .iter()
                    .find(|j| j.backup_set_id == s.backup_set_id)
                    .and_then(|j| j.password.clone());
                let copied = BackupSet {
                    file_status: "AVAILABLE",
                    ..s.clone()
                };
                (copied, password)
            })
            .collect();
        let pieces: Vec<Piece> = tenant
            .archive
            .pieces()
            .into_iter()
            .filter_map(|p| {
                let (_, checkpoint) = found.pieces.iter().find(|(id, _)| *id == p.piece_id)?;
                Some(Piece {
                    checkpoint_scn: p.checkpoint_scn.min(*checkpoint).max(p.start_scn),
                    file_status: "AVAILABLE",
                    ..p
                })
            })
            .collect();
        (!pieces.is_empty()).then(|| RestoreMedia {
            cluster_name: self.name.clone(),
            cluster_version: self.version,
            tenant_name: tenant.name.clone(),
            tenant_id: tenant.id,
            data_bytes: tenant.data_bytes,
            sets,
            pieces,
        })
    }

    /// `ALTER SYSTEM RESTORE` from sys (§6.2). `media` is what some cluster of this simulator holds under the
    /// FROM URIs; `passwords` the session's `SET DECRYPTION` list.
    pub fn restore(
        &mut self,
        statement: RestoreStatement,
        media: Option<RestoreMedia>,
        passwords: &[String],
    ) -> Result<(), SqlError> {
        statement.from.iter().try_for_each(|uri| dest::check(uri))?;
        let now = self.now();
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
        let fail_with = self.faults.next_restore_failure.take();
        let tenant_id = self
            .add_user_tenant(&statement.tenant, media.data_bytes)?
            .id;
        if let Some(tenant) = self.tenants.iter_mut().find(|t| t.id == tenant_id) {
            tenant.status = "RESTORE";
            tenant.role = "RESTORE";
            tenant.data_as_of = Timestamp::from_nanosecond(i128::from(plan.scn)).ok();
        }
        for pool in self.restores.pools.iter_mut() {
            if pools.contains(&pool.name) {
                pool.tenant_id = Some(tenant_id);
            }
        }
        self.restores.next_job_id += 1;
        let job = RestoreJob {
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
            description: statement.description.unwrap_or_default(),
            comment: String::new(),
            fail_with,
        };
        self.restores.jobs.push(job);
        Ok(())
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
        let elapsed = now.duration_since(job.since);
        if job.phase == RestorePhase::WaitLs {
            let seconds = elapsed.as_secs_f64().max(0.0);
            job.finish_bytes =
                ((seconds * RESTORE_BYTES_PER_SECOND as f64) as u64).min(job.total_bytes);
            if let Some((code, message)) = job.fail_with.clone()
                && job.finish_bytes * 2 >= job.total_bytes
            {
                // The failure strikes when half the data is restored.
                let at = job.since + seconds_for(job.total_bytes / 2);
                job.finish_bytes = job.total_bytes / 2;
                job.phase = RestorePhase::Fail;
                job.finish = Some(at);
                job.since = at;
                job.comment = format!(
                    "(SERVER)ls_id: 1001, addr: {SERVER_ADDRESS}, module: STORAGE, result: {code}({message}), \
                     trace_id: Y0-0000000000000002-0-0"
                );
                return;
            }
            if job.finish_bytes < job.total_bytes {
                return;
            }
            let at = job.since + seconds_for(job.total_bytes);
            job.phase = job.phase.next();
            job.since = at.min(now);
            continue;
        }
        if elapsed < STEP {
            return;
        }
        job.since += STEP;
        job.phase = job.phase.next();
        if job.phase == RestorePhase::Success {
            job.finish = Some(job.since);
        }
    }
}

/// How long restoring `bytes` takes.
fn seconds_for(bytes: u64) -> SignedDuration {
    SignedDuration::from_secs(i64::try_from(bytes.div_ceil(RESTORE_BYTES_PER_SECOND)).unwrap_or(0))
}

/// The sets and pieces a restore to `target` (None: the latest point) uses, per
/// docs/reference/oceanbase-interface.md §8.
struct Plan {
    scn: u64,
    sets: Vec<i64>,
    pieces: Vec<i64>,
}

fn plan(media: &RestoreMedia, target: Option<u64>) -> Option<Plan> {
    let usable: Vec<&BackupSet> = media
        .sets
        .iter()
        .map(|(s, _)| s)
        .filter(|s| s.status == "SUCCESS" && s.file_status == "AVAILABLE")
        .collect();
    let chain_ok = |set: &BackupSet| {
        let present = |id: i64| id == 0 || usable.iter().any(|s| s.backup_set_id == id);
        !set.incremental
            || (present(set.prev_full_backup_set_id) && present(set.prev_inc_backup_set_id))
    };
    let segments = segments(&media.pieces);
    // Newest set first: the first that reaches the target wins.
    usable.iter().rev().find_map(|set| {
        if !chain_ok(set) {
            return None;
        }
        let (start, end, pieces) = segments.iter().find(|(start, end, _)| {
            *start <= set.start_replay_scn && set.start_replay_scn <= *end
        })?;
        let _ = start;
        let scn = target.unwrap_or(*end);
        if scn < set.min_restore_scn || scn > *end {
            return None;
        }
        let mut sets = Vec::new();
        if set.incremental {
            sets.push(set.prev_full_backup_set_id);
            sets.extend(
                usable
                    .iter()
                    .filter(|s| {
                        s.incremental
                            && s.backup_set_id <= set.backup_set_id
                            && s.prev_full_backup_set_id == set.prev_full_backup_set_id
                    })
                    .map(|s| s.backup_set_id),
            );
        } else {
            sets.push(set.backup_set_id);
        }
        let pieces = media
            .pieces
            .iter()
            .filter(|p| {
                pieces.contains(&p.piece_id)
                    && p.checkpoint_scn >= set.start_replay_scn
                    && p.start_scn <= scn
            })
            .map(|p| p.piece_id)
            .collect();
        Some(Plan { scn, sets, pieces })
    })
}

/// Contiguous log ranges of the available pieces: (start, end, piece ids), joining a piece to the previous
/// range when it starts at or before that range's end (§8 step 1).
fn segments(pieces: &[Piece]) -> Vec<(u64, u64, Vec<i64>)> {
    let mut available: Vec<&Piece> = pieces
        .iter()
        .filter(|p| p.file_status == "AVAILABLE")
        .collect();
    available.sort_by_key(|p| p.start_scn);
    let mut segments: Vec<(u64, u64, Vec<i64>)> = Vec::new();
    for piece in available {
        match segments.last_mut() {
            Some((_, end, ids)) if piece.start_scn <= *end => {
                *end = (*end).max(piece.checkpoint_scn);
                ids.push(piece.piece_id);
            }
            _ => segments.push((piece.start_scn, piece.checkpoint_scn, vec![piece.piece_id])),
        }
    }
    segments
}

/// `UNTIL TIME = 'YYYY-MM-DD HH:MM:SS[.ffffff]'`, read as UTC (the session time zone of obsim).
fn time_scn(text: &str) -> Result<u64, SqlError> {
    let civil: jiff::civil::DateTime = text
        .trim()
        .parse()
        .map_err(|_| SqlError::oceanbase(1210, "Invalid argument"))?;
    let time = civil
        .to_zoned(jiff::tz::TimeZone::UTC)
        .map_err(|_| SqlError::oceanbase(1210, "Invalid argument"))?
        .timestamp();
    Ok(scn(time))
}

fn join(ids: &[i64]) -> String {
    ids.iter().map(i64::to_string).collect::<Vec<_>>().join(",")
}
