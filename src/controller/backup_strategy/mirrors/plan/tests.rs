use super::*;
use crate::oceanbase::{BackupJobRow, RestoreJobRow, State, TenantRow};

const OURS: &str = "0f6a3c1e-8b2d-4c7a-9e10-55aa66bb77cc";

fn at(seconds: i64) -> Timestamp {
    Timestamp::from_second(seconds).expect("time")
}

fn clean(tenant_id: i64, job_id: i64, initiator: i64, start: i64) -> CleanJobRow {
    CleanJobRow {
        tenant_id,
        job_id,
        initiator_tenant_id: initiator,
        kind: State::of("DELETE OBSOLETE BACKUP"),
        parameter: 0,
        status: State::of("COMPLETED"),
        task_count: 0,
        success_task_count: 0,
        result: 0,
        comment: String::new(),
        start: Some(at(start)),
        end: Some(at(start + 2)),
    }
}

fn backup_job(tenant_id: i64, job_id: i64, description: &str, status: &str) -> BackupJobRow {
    BackupJobRow {
        tenant_id,
        job_id,
        backup_set_id: job_id,
        backup_type: State::of("INC"),
        status: State::of(status),
        result: 0,
        comment: String::new(),
        description: description.into(),
        path: String::new(),
        start: Some(at(10_000 + job_id)),
        end: None,
    }
}

fn restore(job_id: i64, tenant: &str, from: &str, description: &str) -> RestoreJobRow {
    RestoreJobRow {
        job_id,
        tenant_name: tenant.into(),
        backup_tenant_name: from.into(),
        backup_cluster_name: "obcluster".into(),
        status: State::of("SUCCESS"),
        restore_scn: 0,
        start: Some(at(10_000 + job_id)),
        finish: Some(at(10_100 + job_id)),
        total_bytes: 0,
        finish_bytes: 0,
        description: description.into(),
        comment: String::new(),
        finished: true,
    }
}

fn snapshot() -> Snapshot {
    let tenant = |id: i64, name: &str| TenantRow {
        id,
        name: name.into(),
        status: State::of("NORMAL"),
        role: State::of("PRIMARY"),
        archivelog: true,
    };
    Snapshot {
        tenants: vec![tenant(1002, "tenant1"), tenant(1004, "Tenant_2")],
        ..Snapshot::default()
    }
}

fn tenants() -> Vec<String> {
    vec!["tenant1".to_string(), "Tenant_2".to_string()]
}

fn scope(tenants: &[String]) -> Scope<'_> {
    Scope {
        strategy: "s",
        created: at(5_000),
        tenants,
        every: false,
        claimed: &[],
        unclaimed: &[],
    }
}

fn mirror(kind: Kind, tenant: &str, job_id: i64, ending: Ending) -> Mirror {
    Mirror {
        kind,
        name: mirror_name("s", kind, tenant, job_id),
        group: if kind == Kind::Restore {
            String::new()
        } else {
            tenant.to_lowercase()
        },
        job_id,
        ending,
    }
}

fn created(plan: &MirrorPlan) -> Vec<&str> {
    plan.create.iter().map(|m| m.name.as_str()).collect()
}

#[test]
fn policy_and_hand_made_deletes_after_creation_are_mirrored_once() {
    let mut snapshot = snapshot();
    snapshot.clean_jobs = vec![
        clean(1002, 1, 1002, 1_000), // before the strategy existed
        clean(1002, 2, 1002, 10_000),
        clean(1002, 3, 1, 11_000), // a delete someone sent from sys
        clean(1002, 4, 1002, 12_000),
        clean(1004, 1, 1004, 13_000),
    ];
    let tenants = tenants();
    let planned = plan(&scope(&tenants), &Retention::default(), &snapshot, &[]);
    assert_eq!(
        created(&planned),
        [
            "s-tenant1-clean-2",
            "s-tenant1-clean-3",
            "s-tenant1-clean-4",
            "s-tenant-2-clean-1"
        ]
    );
    // Once mirrored (even if the older ones were pruned since), nothing is created again.
    let existing = [mirror(Kind::Cleanup, "tenant1", 4, Ending::Succeeded)];
    let planned = plan(
        &scope(&tenants[..1]),
        &Retention::default(),
        &snapshot,
        &existing,
    );
    assert!(planned.create.is_empty());
}

#[test]
fn deletes_our_cleanup_tasks_started_or_may_have_started_are_not_mirrored() {
    let mut snapshot = snapshot();
    snapshot.clean_jobs = vec![
        clean(1002, 3, 1, 11_000),
        clean(1002, 4, 1002, 12_000),
        clean(1004, 1, 1, 13_000),
    ];
    let tenants = tenants();
    let claimed = [("tenant1".to_string(), 3)];
    let unclaimed = ["tenant_2".to_string()];
    let scope = Scope {
        claimed: &claimed,
        unclaimed: &unclaimed,
        ..scope(&tenants)
    };
    let planned = plan(&scope, &Retention::default(), &snapshot, &[]);
    // Job 3 is a CleanupTask's; Tenant_2's job from sys may be the one its CleanupTask is looking for; the
    // policy's job 4 is nobody's.
    assert_eq!(created(&planned), ["s-tenant1-clean-4"]);
}

#[test]
fn backups_started_elsewhere_are_mirrored_and_ours_are_not() {
    let mut snapshot = snapshot();
    snapshot.jobs = vec![
        backup_job(1002, 7, OURS, "COMPLETED"),
        backup_job(1002, 8, "", "DOING"),
        backup_job(1004, 2, "nightly from OCP", "FAILED"),
        backup_job(1006, 1, "", "DOING"), // a tenant out of scope
    ];
    let tenants = tenants();
    let planned = plan(&scope(&tenants), &Retention::default(), &snapshot, &[]);
    assert_eq!(
        created(&planned),
        ["s-tenant1-backup-8", "s-tenant-2-backup-2"]
    );
    assert_eq!(
        planned.create[0].job,
        Job::Backup {
            tenant: "tenant1".into(),
            incremental: true
        }
    );
}

#[test]
fn restores_of_the_strategys_tenants_are_mirrored_but_not_ours_nor_drills() {
    let mut snapshot = snapshot();
    snapshot.restores = vec![
        restore(1, "copy1", "tenant1", ""),
        restore(2, "copy2", "other", "by hand"),
        restore(3, "copy3", "tenant1", &format!("{OURS}-0")),
        restore(4, "drill_tenant1_x", "tenant1", "odd"),
        restore(5, "TENANT_2", "old", "rebuilt"),
    ];
    let tenants = tenants();
    let planned = plan(&scope(&tenants), &Retention::default(), &snapshot, &[]);
    assert_eq!(
        created(&planned),
        ["s-copy1-restore-1", "s-tenant-2-restore-5"]
    );
    // A strategy of every tenant mirrors every restore of its cluster.
    let every = Scope {
        every: true,
        ..scope(&tenants)
    };
    let planned = plan(&every, &Retention::default(), &snapshot, &[]);
    assert_eq!(
        created(&planned),
        [
            "s-copy1-restore-1",
            "s-copy2-restore-2",
            "s-tenant-2-restore-5"
        ]
    );
    // Restore ids are the cluster's: one mark for all of them.
    let existing = [mirror(Kind::Restore, "copy2", 2, Ending::Succeeded)];
    let planned = plan(&every, &Retention::default(), &snapshot, &existing);
    assert_eq!(created(&planned), ["s-tenant-2-restore-5"]);
}

#[test]
fn finished_mirrors_are_pruned_per_kind_but_each_groups_newest_stays() {
    let retention = Retention {
        successful_tasks_history_limit: 1,
        failed_tasks_history_limit: 0,
        ..Retention::default()
    };
    let existing = [
        mirror(Kind::Cleanup, "tenant1", 1, Ending::Succeeded),
        mirror(Kind::Cleanup, "tenant1", 2, Ending::Failed),
        mirror(Kind::Cleanup, "tenant1", 3, Ending::Succeeded),
        mirror(Kind::Cleanup, "tenant1", 4, Ending::Running),
        mirror(Kind::Cleanup, "tenant2", 1, Ending::Failed),
        mirror(Kind::Backup, "tenant1", 1, Ending::Succeeded),
        mirror(Kind::Backup, "tenant1", 2, Ending::Succeeded),
    ];
    let pruned = prune(&existing, &retention);
    assert_eq!(
        pruned,
        [
            (Kind::Backup, "s-tenant1-backup-1".to_string()),
            (Kind::Cleanup, "s-tenant1-clean-1".to_string()),
            (Kind::Cleanup, "s-tenant1-clean-2".to_string()),
        ]
    );
}

#[test]
fn the_mirrors_a_plan_creates_count_against_the_limits_at_once() {
    let retention = Retention {
        successful_tasks_history_limit: 2,
        ..Retention::default()
    };
    let tenants = vec!["tenant1".to_string()];
    let existing = [
        mirror(Kind::Cleanup, "tenant1", 1, Ending::Succeeded),
        mirror(Kind::Cleanup, "tenant1", 2, Ending::Succeeded),
    ];
    // Two finished policy jobs appeared since the last look.
    let mut snapshot = snapshot();
    snapshot.clean_jobs = (1..=4)
        .map(|id| clean(1002, id, 1002, 9_000 + id * 1_000))
        .collect();
    let planned = plan(&scope(&tenants), &retention, &snapshot, &existing);
    assert_eq!(
        created(&planned),
        ["s-tenant1-clean-3", "s-tenant1-clean-4"]
    );
    assert_eq!(
        planned.prune,
        [
            (Kind::Cleanup, "s-tenant1-clean-1".to_string()),
            (Kind::Cleanup, "s-tenant1-clean-2".to_string())
        ],
        "after the sync: the limit's 2, not 4"
    );
    // Three new finished jobs against a limit of 2: the oldest of them gets no mirror at all.
    snapshot.clean_jobs.push(clean(1002, 5, 1002, 14_000));
    let planned = plan(&scope(&tenants), &retention, &snapshot, &existing);
    assert_eq!(
        created(&planned),
        ["s-tenant1-clean-4", "s-tenant1-clean-5"]
    );
}
