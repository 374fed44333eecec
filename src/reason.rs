//! Every reason the operator gives — in conditions, in Events and as metric labels — as one closed
//! type. Each variant's doc line says what it means and what the user should do; the reason table
//! of docs/reference/reasons.md is checked against these lines by a test, so the documentation
//! cannot drift from the code.

use strum::{EnumMessage, IntoStaticStr, VariantArray};

/// Why an object is in the state it is in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, IntoStaticStr, VariantArray, EnumMessage)]
pub enum Reason {
    // Under way or done: nothing to do.
    /// Waiting to be submitted to OceanBase; nothing to do.
    Pending,
    /// The operator is sending the statement that starts the job; nothing to do.
    Submitting,
    /// OceanBase accepted the statement; the operator waits for it to list the job.
    Submitted,
    /// The operator is looking the job up by its description (after a restart or an unanswered statement).
    LookingUpJob,
    /// The operator is looking the restore up by its description (after a restart or an unanswered statement).
    LookingUpRestore,
    /// OceanBase runs the job; follow its progress in the status.
    InProgress,
    /// The job finished successfully.
    Completed,
    /// The job was canceled, by `spec.cancel` or in OceanBase.
    Canceled,
    /// Log archiving is stopped, as the spec asks.
    Stopped,
    /// Setting the tenant's data backup destination before the backup; nothing to do.
    SettingDestination,
    /// Log archiving is starting (destination, archive mode, first round); nothing to do.
    Starting,
    /// Log archiving is stopping, as the spec asks; nothing to do.
    Stopping,
    /// The restored standby tenant is being promoted to primary (`ACTIVATE STANDBY`); nothing to do.
    Activating,
    /// The restore is finishing (the tenant upgrades and leaves RESTORE); nothing to do.
    Finishing,
    /// A restore drill's checks run in the restored scratch tenant; nothing to do.
    Verifying,
    /// A restore drill's scratch tenant, pool and unit are being dropped; nothing to do.
    DroppingScratch,
    /// A restore drill restored its tenant and every check passed.
    DrillPassed,
    /// A restore drill failed (its restore or a check): see the task's `status.drill` and the runbook of the `OBBackupRestoreDrillFailed` alert.
    DrillFailed,
    /// A tenant has gone without a passed restore drill for longer than `restoreDrill.maxAge`: see its last drills (`kubectl obbackup drill list`).
    DrillOverdue,
    /// No restore drill of the tenant has finished yet; nothing to do.
    NoDrillYet,
    /// The strategy waits for its next scheduled run.
    Scheduling,
    /// The strategy has runs scheduled and waits for the first one.
    PendingScheduling,
    /// The strategy is suspended (`spec.suspend`): no scheduled runs, archiving keeps running.
    Paused,

    // Waiting for OceanBase: usually passes by itself.
    /// OceanBase did not answer; the operator keeps trying. Check the cluster, its network and the connection Secret if it lasts.
    ClusterUnreachable,
    /// The destination's storage did not answer or refused (the message has its error); the operator keeps trying. Check the storage and the destination's Secret if it lasts.
    DestinationUnreachable,
    /// The cluster has not been read yet; wait a few seconds.
    WaitingForCluster,
    /// The tenant is not NORMAL yet (creating, restoring); the backup waits for it.
    TenantNotReady,
    /// The tenant's log archiving is not DOING yet; the backup waits for it. Check its LogBackup if this lasts.
    WaitingForLogArchive,
    /// The point to restore to is not archived yet; the restore waits for the archive to pass it.
    WaitingForArchive,
    /// The logical BackupTask a RecoveryTask loads has not completed yet; the load waits for it.
    WaitingForDump,
    /// Another backup of the tenant runs; OceanBase runs one at a time, so this one waits.
    AnotherBackupRunning,
    /// Another delete job of the tenant runs; this cleanup waits for it.
    AnotherCleanupRunning,
    /// Another restore runs on the cluster; this one waits for it.
    AnotherRestoreRunning,
    /// OceanBase refused the statement for a reason that passes (another job runs); it is tried again later.
    RefusedForNow,
    /// OceanBase refused the statement; it is retried. Read the message for OceanBase's error.
    Refused,
    /// OceanBase refused the data backup destination; fix the destination or its credentials.
    DestinationRefused,
    /// The backup has made no progress for the stall timeout; check the destination's space and OceanBase's logs.
    NoProgress,

    // Failed: the job ended badly.
    /// OceanBase ended the backup FAILED or refused it; read the failure, fix the cause, create a new BackupTask.
    BackupFailed,
    /// OceanBase ended the delete job FAILED or refused it; read the failure, create a new CleanupTask.
    CleanupFailed,
    /// The restore failed; read the failure, fix the cause, then increase `spec.retry`.
    RestoreFailed,
    /// OceanBase refused the restore; read the failure, fix the cause, then increase `spec.retry`.
    RestoreRefused,
    /// The tenant's archive round is INTERRUPTED; read OceanBase's comment (often the destination) and fix it.
    ArchiveInterrupted,

    // Stalled: the user must change something.
    /// A Secret the object names does not exist; create it.
    SecretNotFound,
    /// A Secret lacks a key the operator needs; add it (the message names it).
    SecretKeyMissing,
    /// A Secret's content is not usable (not UTF-8, a bad port); fix it.
    SecretInvalid,
    /// The tenant user of a logical backup cannot log in or read what it dumps; fix the Secret named by `logical.credentialsSecret` or the user's grants.
    LogicalAccessDenied,
    /// The logical dump a RecoveryTask names is not there (no such BackupTask, not of method Logical, or ended without completing); fix `source.logical`.
    DumpNotFound,
    /// The logical dump's directory holds another owner's dump (the message names it); nothing was written. Create the BackupTask again: a new task writes a directory of its own.
    DumpDirectoryOwned,
    /// A destination URI carries credentials; move them to the Secret named by `credentialsSecret`.
    CredentialsInUri,
    /// The BackupStrategy the object names does not exist; create it or fix the reference.
    StrategyNotFound,
    /// The tenant is not one of the strategy's tenants; add it there or fix the task.
    TenantNotInStrategy,
    /// The object's method (physical, or a task's method: Logical) is not its strategy's; match them.
    MethodNotInStrategy,
    /// OceanBase lists no such user tenant; fix the tenant name.
    TenantNotFound,
    /// The restore's target tenant exists already; choose a new tenant name.
    TargetTenantExists,
    /// Another BackupStrategy claims the tenant; remove it from one of them.
    TenantClaimed,
    /// An ob-operator OBTenantBackupPolicy holds the tenant (the message names it); nothing is sent. Hand the tenant over with `kubectl obbackup import obtenantbackuppolicy --handover`, or remove the tenant here.
    TenantManagedByObOperator,
    /// The OBCluster named by `cluster.obCluster` cannot be used (not found, incomplete, or ob-operator's CRDs are not installed); fix the reference or the OBCluster.
    ObClusterUnusable,
    /// The OBTenant named by a logical backup's or restore's `obTenant` cannot be used (not found, another tenant's, or ob-operator's CRDs are not installed); fix the reference or the OBTenant.
    ObTenantUnusable,
    /// The cluster that answers is not the one its OBCluster names (OceanBase's `cluster`/`cluster_id` differ); nothing is sent. Fix the OBCluster or its OBServers.
    WrongCluster,
    /// The same tenant is listed twice in the strategy; list it once.
    TenantListedTwice,
    /// Another object owns this tenant's backups (the message names it); remove one of them.
    TenantOwnedElsewhere,
    /// Another object owns the tenant's log archiving (the message names it); remove one of them.
    ArchivingOwned,
    /// Another object owns the tenant's data backup destination (the message names it); back up through it.
    DestinationOwned,
    /// The second copy's directory is, holds or lies inside one where other backups are kept; give it its own.
    StorageOwnedElsewhere,
    /// The strategy's name is too long for the objects it makes; use a shorter name.
    NameTooLong,
    /// A cron schedule does not parse; fix it.
    InvalidSchedule,
    /// A cron schedule never falls due; fix it.
    ScheduleNeverRuns,
    /// The time zone is unknown; use an IANA name such as `Asia/Shanghai`.
    InvalidTimeZone,
    /// The recovery point does not parse; fix `spec.until`.
    InvalidRecoveryPoint,
    /// The recovery point lies outside the recoverable windows; choose a point inside one. Nothing was sent.
    RecoveryPointOutsideWindow,
    /// `spec.jobId` is set by the operator only; recreate the CleanupTask without it.
    JobIdSetByUser,
    /// A value the operator refuses to send to OceanBase; fix the spec (the message says which).
    InvalidInput,
    /// The strategy encrypts backups but its password Secret has no `password`; add it.
    BackupPasswordMissing,
    /// The destination differs while archiving runs; OceanBase changes it only after archiving stops.
    NeedsArchivingStopped,
    /// OceanBase lists the delete job nowhere any more (finished jobs are kept a day); nothing more to follow.
    JobNotFound,
    /// OceanBase lists the restore nowhere; check the target tenant by hand. It is never restored twice.
    RestoreNotFound,
    /// The object does not parse; fix it (the message says where).
    MalformedObject,
    /// The strategy's archiving is being stopped before it is deleted; wait.
    StopArchivingPending,
    /// A logical dump outlived `retention.recoveryWindow` and was deleted from the destination (each tenant's newest dump always stays); nothing to do.
    DumpExpired,
    /// An unfinished logical dump that no BackupTask writes any more (its task failed or is gone) was deleted from the destination; nothing to do.
    DumpAbandoned,
    /// Objects of a backup set differed on the second destination (or were gone) and were copied again; check that storage's health.
    SecondCopyRepaired,
    /// A tenant's archive began to be copied to the second log destination; nothing to do.
    SecondLogCopyStarted,
    /// The archive's second copy was paused (`spec.secondCopy: Paused`); archiving goes on. Set it to `Running` to resume.
    SecondLogCopyPaused,
    /// The archive's second copy resumed where it stopped; nothing to do.
    SecondLogCopyResumed,
    /// The archive's second copy ended: archiving stopped and every piece is copied (Normal), or a copy failed (Warning; see the message).
    SecondLogCopyStopped,

    // Conditions beside Ready.
    /// The cluster answered.
    Reachable,
    /// The cluster did not answer.
    Unreachable,
    /// Every tenant archives its log.
    Archiving,
    /// A tenant does not archive its log; see its LogBackup.
    NotArchiving,
    /// Archiving is disabled in the strategy: tenants restore only to the end of a data backup.
    Disabled,
    /// The log delay is within the alert threshold.
    WithinThreshold,
    /// The log delay is above the alert threshold; check the archive destination and OceanBase.
    DelayOverThreshold,
    /// A second copy cannot be made for good (read back different, refused); check that storage (see message).
    SecondCopyFailed,
    /// The recoverable window is continuous.
    Continuous,
    /// A tenant has a gap in its recoverable window, or none yet; take a full backup.
    GapOrNoWindow,
    /// The strategy's destinations are applied.
    Applied,
    /// The strategy's objects are ready.
    Ready,
    /// A strategy's object is not ready; see its conditions.
    NotReady,
    /// The periodic destination check found a directory it cannot use; fix that storage or its Secret.
    DestinationUnusable,
    /// The strategy's runs are scheduled.
    Scheduled,
    /// The strategy is suspended.
    Suspended,
    /// No run of the strategy is due any more.
    NoNextRun,
    /// The recovery point lies inside a recoverable window.
    InsideWindow,
    /// The recovery point lies outside every recoverable window.
    OutsideWindow,
    /// The recovery point is not archived yet.
    NotYetArchived,
    /// The recovery point could not be checked (no strategy to read windows from); OceanBase checks it.
    Unverified,
    /// The backup made progress recently.
    Progressing,

    // Transient reconcile failures (metric labels and warning Events).
    /// A Kubernetes API request failed; it is retried with backoff. Check the operator's RBAC if it lasts.
    KubeApi,
    /// An object without a namespace (the CRDs do not allow it).
    MissingNamespace,
}

impl Reason {
    /// The reason as conditions, Events and metrics show it (the variant's name).
    pub fn as_str(self) -> &'static str {
        self.into()
    }

    /// What the reason means and what to do (the variant's doc line).
    pub fn advice(self) -> &'static str {
        self.get_documentation().unwrap_or_default()
    }
}

impl std::fmt::Display for Reason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A condition's reason (a string in the API type) against a [`Reason`].
impl PartialEq<Reason> for String {
    fn eq(&self, other: &Reason) -> bool {
        self == other.as_str()
    }
}

impl From<Reason> for String {
    fn from(reason: Reason) -> Self {
        reason.as_str().to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_reason_says_what_to_do_and_is_named_once() {
        let mut names: Vec<&str> = Reason::VARIANTS.iter().map(|r| r.as_str()).collect();
        for reason in Reason::VARIANTS {
            assert!(
                !reason.advice().is_empty() && !reason.advice().contains('\n'),
                "{reason}: one doc line"
            );
        }
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), Reason::VARIANTS.len());
    }

    #[test]
    fn the_reference_lists_every_reason_with_its_doc_line() {
        let mut table = String::from("| reason | what it means, what to do |\n| --- | --- |\n");
        for reason in Reason::VARIANTS {
            table.push_str(&format!(
                "| `{}` | {} |\n",
                reason.as_str(),
                crate::docgen::cell(reason.advice())
            ));
        }
        crate::docgen::check_block("docs/reference/reasons.md", "reasons", &table);
    }

    #[test]
    fn the_alert_runbooks_name_only_real_reasons() {
        let rules = include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/charts/ob-backup-operator/templates/prometheusrule.yaml"
        ));
        let named: Vec<&str> = rules
            .split("reason `")
            .skip(1)
            .filter_map(|rest| rest.split_once('`').map(|(name, _)| name))
            .collect();
        assert!(
            named.len() >= 4,
            "the runbooks name their reasons: {named:?}"
        );
        for name in named {
            assert!(
                Reason::VARIANTS.iter().any(|r| r.as_str() == name),
                "a runbook names reason {name}, which the operator never gives"
            );
        }
    }
}
