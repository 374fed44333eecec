//! The operator's OceanBase client against obsim over the MySQL protocol
//! (docs/reference/oceanbase-interface.md §1–§4, §11.3): one round trip per snapshot,
//! encryption on the backup's own session, jobs found by description, errors with OceanBase's codes
//! and without secrets.

use std::sync::{Arc, Mutex};

use ob_backup_operator::{
    controller::{overview::Destinations, overview::tenant_overview},
    oceanbase::{
        CleanJobType, ConnectionInfo, JobStatus, ObError, OceanBase, RoundStatus,
        mysql::MysqlCluster, sql,
    },
};
use obsim::{
    clock::Clock,
    model::{Cluster, Version},
    sim::{Node, Simulator},
};

const PASSWORD: &str = "sys-pw-not-for-logs";

/// A cluster with `tenants` user tenants of 1 GiB and a frozen clock.
fn cluster(tenants: usize) -> Cluster {
    cluster_at(tenants, Version::V4_4_1)
}

fn cluster_at(tenants: usize, version: Version) -> Cluster {
    let mut cluster = Cluster::new(
        "obcluster",
        version,
        PASSWORD,
        Clock::new(
            jiff::Timestamp::from_second(1_763_600_000).expect("time"),
            0.0,
        ),
    );
    for i in 1..=tenants {
        cluster
            .add_user_tenant(&format!("tenant{i}"), 1 << 30)
            .expect("tenant");
    }
    cluster
}

async fn obsim(tenants: usize) -> Arc<Node> {
    obsim_at(tenants, Version::V4_4_1).await
}

async fn obsim_at(tenants: usize, version: Version) -> Arc<Node> {
    Simulator::new()
        .start(
            cluster_at(tenants, version),
            "127.0.0.1:0".parse().expect("address"),
        )
        .await
        .expect("obsim")
}

fn info(node: &Node, password: &str) -> ConnectionInfo {
    ConnectionInfo {
        host: "127.0.0.1".into(),
        port: node.addr.port(),
        user: "root@sys".into(),
        password: password.into(),
        ca_cert: None,
    }
}

/// A snapshot request for everything: finished jobs with `descriptions`, delete jobs that ended since
/// `clean_since`, and restores.
/// A whole read waiting on `descriptions`' jobs, ended since `ended_since`. Restores are read (by
/// description) only while a RecoveryTask is watched: not here.
fn whole(
    descriptions: &[String],
    ended_since: jiff::Timestamp,
) -> ob_backup_operator::oceanbase::SnapshotRequest<'_> {
    ob_backup_operator::oceanbase::SnapshotRequest {
        jobs_ended_since: ended_since,
        restores: false,
        external: None,
        reach: ob_backup_operator::oceanbase::Reach::Whole,
        ..everything(descriptions, jiff::Timestamp::UNIX_EPOCH)
    }
}

fn everything(
    descriptions: &[String],
    clean_since: jiff::Timestamp,
) -> ob_backup_operator::oceanbase::SnapshotRequest<'_> {
    ob_backup_operator::oceanbase::SnapshotRequest {
        descriptions,
        jobs_ended_since: jiff::Timestamp::UNIX_EPOCH,
        clean_since,
        restores: true,
        external: None,
        reach: ob_backup_operator::oceanbase::Reach::Whole,
    }
}

fn step(cluster: &Arc<Mutex<Cluster>>, seconds: i64) {
    cluster
        .lock()
        .expect("lock")
        .clock
        .step(jiff::SignedDuration::from_secs(seconds));
}

async fn archiving(client: &MysqlCluster, node: &Node, tenant: &str) {
    client
        .execute(&[
            // Each tenant its own directories: OceanBase refuses another tenant's destination (-9081).
            sql::set_data_backup_dest(tenant, &format!("file:///backup/data/{tenant}"))
                .expect("sql"),
            sql::set_log_archive_dest(
                tenant,
                &format!("file:///backup/archive/{tenant}"),
                &ob_backup_operator::oceanbase::Binding::Optional,
                "1d",
            )
            .expect("sql"),
            sql::archive_mode(tenant, true).expect("sql"),
        ])
        .await
        .expect("configure and start archiving");
    step(&node.cluster, 5);
}

#[tokio::test]
async fn a_snapshot_is_one_round_trip_for_1_and_10_tenants() {
    let mut costs = Vec::new();
    for tenants in [1, 10] {
        let node = obsim(tenants).await;
        let client = MysqlCluster::new(&info(&node, PASSWORD), []);
        let snapshot = client
            .snapshot(everything(
                &["some-uid".to_string()],
                jiff::Timestamp::UNIX_EPOCH,
            ))
            .await
            .expect("snapshot");
        assert_eq!(snapshot.tenants.len(), tenants);
        assert_eq!(snapshot.version, "4.4.1.0");
        assert_eq!(
            snapshot.units.iter().filter(|(id, _)| *id >= 1002).count(),
            tenants,
            "one unit per tenant on obsim's one server"
        );
        costs.push((client.round_trips().0, client.snapshot_statements()));
    }
    assert_eq!(
        costs,
        [(1, 16), (1, 16)],
        "docs/reference/oceanbase-interface.md §11.3: one round trip, constant in tenants"
    );
    // Restores (progress, and history by description) are read only while someone watches one; the
    // version only once.
    let node = obsim(1).await;
    let client = MysqlCluster::new(&info(&node, PASSWORD), []);
    let descriptions = ["some-uid".to_string()];
    let quiet = ob_backup_operator::oceanbase::SnapshotRequest {
        restores: false,
        external: None,
        reach: ob_backup_operator::oceanbase::Reach::Whole,
        ..everything(&descriptions, jiff::Timestamp::UNIX_EPOCH)
    };
    let mut sent = Vec::new();
    for request in [
        quiet,
        quiet,
        everything(&descriptions, jiff::Timestamp::UNIX_EPOCH),
    ] {
        let before = (client.round_trips().0, client.snapshot_statements());
        let snapshot = client.snapshot(request).await.expect("snapshot");
        assert_eq!(snapshot.version, "4.4.1.0", "remembered");
        sent.push((
            client.round_trips().0 - before.0,
            client.snapshot_statements() - before.1,
        ));
    }
    assert_eq!(sent, [(1, 14), (1, 13), (1, 15)]);
    // Between whole reads, what changes by itself every few cycles, and the jobs alone at the others.
    for (reach, statements) in [
        (ob_backup_operator::oceanbase::Reach::Changing, 7),
        (ob_backup_operator::oceanbase::Reach::Jobs, 3),
    ] {
        let before = (client.round_trips().0, client.snapshot_statements());
        let served = (node.link.statements(), node.link.rows());
        let snapshot = client
            .snapshot(ob_backup_operator::oceanbase::SnapshotRequest { reach, ..quiet })
            .await
            .expect("snapshot");
        assert_eq!(
            (
                client.round_trips().0 - before.0,
                client.snapshot_statements() - before.1
            ),
            (1, statements),
            "{reach:?}"
        );
        // The server counts the same statements, and the rows the snapshot holds (one tenant, no job).
        assert_eq!(node.link.statements() - served.0, statements, "{reach:?}");
        let rows = snapshot.tenants.len() + snapshot.rounds.len() + snapshot.jobs.len();
        assert_eq!(node.link.rows() - served.1, rows as u64, "{reach:?}");
        assert!(snapshot.units.is_empty(), "left for the caller to carry");
        assert_eq!(
            snapshot.tenants.is_empty(),
            reach == ob_backup_operator::oceanbase::Reach::Jobs
        );
    }

    // Reads at once share the one pooled connection: at most one connection per cluster.
    let accepted = node.link.accepted();
    let together = futures::future::join_all((0..8).map(|_| client.snapshot(quiet))).await;
    assert!(together.iter().all(Result::is_ok), "{together:?}");
    assert_eq!(
        node.link.accepted(),
        accepted,
        "no connection beyond the pooled one"
    );
}

/// What the server sees is what counts: a pooled connection reset on its return costs the server a reset
/// and the session's settings again (three round trips a read, the client counting one).
#[tokio::test]
async fn each_read_after_the_first_is_one_command_at_the_server() {
    let node = obsim(10).await;
    let client = MysqlCluster::new(&info(&node, PASSWORD), []);
    let descriptions = ["some-uid".to_string()];
    let read = || async {
        client
            .snapshot(everything(&descriptions, jiff::Timestamp::UNIX_EPOCH))
            .await
            .expect("snapshot")
    };
    read().await;
    let (commands, round_trips) = (node.link.commands(), client.round_trips().0);
    for _ in 0..4 {
        read().await;
    }
    assert_eq!(
        (
            node.link.commands() - commands,
            client.round_trips().0 - round_trips
        ),
        (4, 4),
        "one command a read at the server, as the client counts"
    );
    assert_eq!(node.link.accepted(), 1, "one connection");
}

#[tokio::test]
async fn an_encrypted_backup_is_found_by_its_description() {
    let node = obsim(2).await;
    let client = MysqlCluster::new(&info(&node, PASSWORD), ["backup-pw".to_string()]);
    archiving(&client, &node, "tenant1").await;
    let snapshot = client
        .snapshot(everything(&[], jiff::Timestamp::UNIX_EPOCH))
        .await
        .expect("snapshot");
    let tenant = snapshot
        .tenant("TENANT1")
        .expect("tenant1 by any case")
        .clone();
    assert!(tenant.archivelog);
    assert_eq!(
        snapshot.round(tenant.id).map(|r| r.status.clone()),
        Some(RoundStatus::Doing)
    );
    assert_eq!(
        snapshot.archive_dest(tenant.id).map(|d| d.path.as_str()),
        Some("file:///backup/archive/tenant1")
    );

    client
        .execute(&[
            sql::set_encryption("backup-pw").expect("sql"),
            sql::backup("tenant1", false, false, "uid-1").expect("sql"),
        ])
        .await
        .expect("backup");
    // A later backup of another tenant on another session is not encrypted.
    archiving(&client, &node, "tenant2").await;
    client
        .execute(&[sql::backup("tenant2", false, false, "uid-2").expect("sql")])
        .await
        .expect("backup");
    let modes: Vec<(String, String)> = {
        let cluster = node.cluster.lock().expect("lock");
        cluster
            .tenants
            .iter()
            .flat_map(|t| t.backups.jobs.iter())
            .filter(|j| j.level == "USER_TENANT")
            .map(|j| (j.description.clone(), j.encrypted.to_string()))
            .collect()
    };
    assert_eq!(
        modes,
        [
            ("uid-1".to_string(), "true".to_string()),
            ("uid-2".to_string(), "false".to_string())
        ]
    );
    step(&node.cluster, 120);
    let later = client
        .snapshot(everything(
            &["uid-1".to_string()],
            jiff::Timestamp::UNIX_EPOCH,
        ))
        .await
        .expect("snapshot");
    let job = later
        .job_by_description(tenant.id, "uid-1")
        .expect("found in history by description");
    assert_eq!(job.status, JobStatus::Completed);
    assert!(job.end.is_some() && job.backup_set_id == 1);
    assert!(
        later.job_by_description(tenant.id + 2, "uid-2").is_none(),
        "history is read only for the descriptions asked for"
    );
    // The set and the pieces give tenant1 one recoverable window, from the set to the archive checkpoint.
    let own = Destinations {
        data: "file:///backup/data/tenant1",
        log: "file:///backup/archive/tenant1",
    };
    let overview = tenant_overview(&later, &tenant, own, jiff::Timestamp::now());
    // obsim's paths lie under the destinations, as OceanBase's do: another destination sees nothing.
    let elsewhere = Destinations {
        data: "file:///backup/data2",
        log: "file:///backup/archive2",
    };
    assert!(
        tenant_overview(&later, &tenant, elsewhere, jiff::Timestamp::now())
            .recoverable_windows
            .is_empty()
    );
    assert_eq!(overview.recoverable_windows.len(), 1, "{overview:?}");
    assert!(overview.last_full_backup_time.is_some());
    assert!(later.pieces.iter().any(|p| p.tenant_id == tenant.id));
}

#[tokio::test]
async fn errors_carry_codes_and_no_secrets() {
    let node = obsim(1).await;
    let client = MysqlCluster::new(&info(&node, PASSWORD), ["backup-pw".to_string()]);
    // 9040: archiving is not DOING.
    let error = client
        .execute(&[sql::backup("tenant1", false, false, "u").expect("sql")])
        .await
        .expect_err("refused");
    assert_eq!(error.code(), Some(9040));
    // A syntax error echoes the statement; the password in it must not come back.
    let error = client
        .execute(&["SET ENCRYPTION OFF IDENTIFIED BY 'backup-pw' ONLY".to_string()])
        .await
        .expect_err("syntax");
    assert_eq!(error.code(), Some(1064));
    assert!(!error.to_string().contains("backup-pw"), "{error}");
    assert!(
        error.to_string().contains("IDENTIFIED BY '<redacted>"),
        "the echo is there, redacted: {error}"
    );

    let wrong = MysqlCluster::new(&info(&node, "wrong"), []);
    assert_eq!(
        wrong
            .snapshot(everything(&[], jiff::Timestamp::UNIX_EPOCH))
            .await
            .expect_err("1045")
            .code(),
        Some(1045)
    );

    // A statement failing mid-batch (a user tenant has no CDB_ views: 1146) fails the snapshot with its
    // code, and the session stays in step: the next snapshot gets the same answer, not a protocol error.
    node.cluster
        .lock()
        .expect("lock")
        .set_user(
            "tenant1",
            "reader",
            "tenant-pw",
            obsim::model::UserChange::Create {
                if_not_exists: false,
            },
        )
        .expect("tenant user");
    let tenant_login = MysqlCluster::new(
        &ConnectionInfo {
            user: "reader@tenant1".into(),
            ..info(&node, "tenant-pw")
        },
        [],
    );
    for _ in 0..2 {
        let error = tenant_login
            .snapshot(everything(&[], jiff::Timestamp::UNIX_EPOCH))
            .await
            .expect_err("no CDB_ views in a user tenant");
        assert_eq!(error.code(), Some(1146), "{error}");
    }

    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.local_addr().expect("address").port()
    };
    let nowhere = MysqlCluster::new(
        &ConnectionInfo {
            port: closed,
            ..info(&node, PASSWORD)
        },
        [],
    );
    let error = nowhere
        .snapshot(everything(&[], jiff::Timestamp::UNIX_EPOCH))
        .await
        .expect_err("nothing listens");
    assert!(matches!(error, ObError::Unreachable(_)), "{error:?}");
    assert!(error.is_transient());
    assert!(!error.to_string().contains(PASSWORD));
}

#[tokio::test]
async fn tls_is_used_when_the_secret_holds_a_ca_and_a_wrong_ca_is_refused() {
    let certified =
        rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_string()]).expect("certificate");
    let other =
        rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_string()]).expect("certificate");
    let identity = obsim::sim::TlsIdentity {
        cert_pem: certified.cert.pem().into_bytes(),
        key_pem: certified.signing_key.serialize_pem().into_bytes(),
    };
    let node = Simulator::new()
        .start_with_tls(
            cluster(1),
            "127.0.0.1:0".parse().expect("address"),
            Some(identity),
        )
        .await
        .expect("obsim with TLS");
    let trusting = MysqlCluster::new(
        &ConnectionInfo {
            ca_cert: Some(certified.cert.pem().into_bytes()),
            ..info(&node, PASSWORD)
        },
        [],
    );
    let snapshot = trusting
        .snapshot(everything(&[], jiff::Timestamp::UNIX_EPOCH))
        .await
        .expect("a snapshot over TLS");
    assert_eq!(snapshot.tenants.len(), 1);
    let wrong = MysqlCluster::new(
        &ConnectionInfo {
            ca_cert: Some(other.cert.pem().into_bytes()),
            ..info(&node, PASSWORD)
        },
        [],
    );
    let error = wrong
        .snapshot(everything(&[], jiff::Timestamp::UNIX_EPOCH))
        .await
        .expect_err("a server the CA did not sign is refused");
    assert!(!error.to_string().contains(PASSWORD), "{error}");
}

#[tokio::test]
async fn delete_jobs_are_read_with_their_initiator_and_the_history_since_a_time() {
    let node = obsim(1).await;
    let client = MysqlCluster::new(&info(&node, PASSWORD), []);
    archiving(&client, &node, "tenant1").await;
    client
        .execute(&[sql::add_delete_policy("tenant1", "1d").expect("sql")])
        .await
        .expect("policy");
    // The policy starts its first job an hour later; a few seconds on, it has finished.
    step(&node.cluster, 3600 + 30);
    let snapshot = client
        .snapshot(everything(&[], jiff::Timestamp::UNIX_EPOCH))
        .await
        .expect("snapshot");
    let tenant = snapshot.tenant("tenant1").expect("tenant").id;
    let policy_job = snapshot
        .clean_jobs_of(tenant)
        .next()
        .expect("the policy's job")
        .clone();
    assert!(policy_job.from_policy(), "{policy_job:?}");
    assert_eq!(policy_job.status, JobStatus::Completed);
    let end = policy_job.end.expect("ended");
    // Sent from sys, a delete is not the policy's.
    client
        .execute(&[sql::delete_backup("tenant1", &sql::DeleteTarget::Obsolete).expect("sql")])
        .await
        .expect("DELETE OBSOLETE BACKUP");
    let snapshot = client
        .snapshot(everything(&[], end + jiff::SignedDuration::from_secs(1)))
        .await
        .expect("snapshot");
    let jobs: Vec<_> = snapshot.clean_jobs_of(tenant).collect();
    assert_eq!(
        jobs.len(),
        1,
        "history before the time is not read: {jobs:?}"
    );
    assert!(!jobs[0].from_policy());
    assert_eq!(jobs[0].kind, CleanJobType::DeleteObsolete);
    assert_eq!(jobs[0].initiator_tenant_id, 1);
    // A second delete while one runs: OceanBase's 9044.
    let busy = client
        .execute(&[
            sql::delete_backup("tenant1", &sql::DeleteTarget::BackupSets(vec![1])).expect("sql"),
        ])
        .await
        .expect_err("one delete job at a time");
    assert_eq!(busy.code(), Some(9044));
}

/// A delete job's `PARAMETER` is a `timestamp(6)` in the older schema and a varchar in the newest
/// (docs/reference/oceanbase-interface.md §14); either way the operator reads the number OceanBase
/// stored (a set id for a set delete, the cut-off's microseconds for the policy), which is how it
/// recognises the job it asked for.
#[tokio::test]
async fn a_delete_jobs_parameter_reads_as_the_stored_number_in_both_schemas() {
    for version in [Version::V4_2_5, Version::V4_4_1] {
        let node = obsim_at(1, version).await;
        let client = MysqlCluster::new(&info(&node, PASSWORD), []);
        archiving(&client, &node, "tenant1").await;
        client
            .execute(&[
                sql::add_delete_policy("tenant1", "1d").expect("sql"),
                sql::backup("tenant1", false, false, "set one").expect("sql"),
            ])
            .await
            .expect("policy and a backup");
        // A backup ends within minutes; a second full one lets the first be deleted (the last restorable full
        // set is kept). The policy's first job starts an hour after the policy.
        step(&node.cluster, 600);
        client
            .execute(&[sql::backup("tenant1", false, false, "set two").expect("sql")])
            .await
            .expect("a second backup");
        step(&node.cluster, 3000 + 30);
        if version >= Version::V4_4_1 {
            let (policy_end, _) = stored_parameters(&node);
            assert!(policy_end.is_some(), "{version}: the policy's job ran");
            client
                .execute(&[
                    sql::delete_backup("tenant1", &sql::DeleteTarget::BackupSets(vec![1]))
                        .expect("sql"),
                ])
                .await
                .expect("DELETE BACKUPSET 1");
        }
        let snapshot = client
            .snapshot(everything(&[], jiff::Timestamp::UNIX_EPOCH))
            .await
            .expect("snapshot");
        let tenant = snapshot.tenant("tenant1").expect("tenant").id;
        let read: Vec<(String, i64)> = snapshot
            .clean_jobs_of(tenant)
            .map(|j| (j.kind.to_string(), j.parameter))
            .collect();
        let (policy_cutoff, set_delete) = stored_parameters(&node);
        let mut expected = vec![(
            "DELETE OBSOLETE BACKUP".to_string(),
            policy_cutoff.expect("the policy's job"),
        )];
        if let Some(first_id) = set_delete {
            assert_eq!(first_id, 1);
            expected.push(("DELETE BACKUPSET".to_string(), first_id));
        }
        let mut read_sorted = read.clone();
        read_sorted.sort();
        expected.sort();
        assert_eq!(read_sorted, expected, "{version}: {read:?}");
        assert!(
            policy_cutoff.is_some_and(|us| us > 1_000_000_000_000_000),
            "the policy's cut-off is a time in µs"
        );
    }
}

/// What obsim stored as the parameter of tenant1's policy job and of its set delete, if any.
fn stored_parameters(node: &Node) -> (Option<i64>, Option<i64>) {
    let mut cluster = node.cluster.lock().expect("lock");
    cluster.advance(); // as any statement would
    let tenant = cluster.tenant("tenant1").expect("tenant1");
    let jobs: Vec<_> = tenant
        .clean
        .jobs
        .iter()
        .chain(&tenant.clean.history)
        .collect();
    let of = |kind: &str| jobs.iter().find(|j| j.kind == kind).map(|j| j.parameter);
    (of("DELETE OBSOLETE BACKUP"), of("DELETE BACKUPSET"))
}

#[tokio::test]
async fn finished_jobs_are_found_by_description_with_sql_of_a_bounded_size_for_1_or_10_000_tasks() {
    let node = obsim(1).await;
    let client = MysqlCluster::new(&info(&node, PASSWORD), []);
    archiving(&client, &node, "tenant1").await;
    let start = |description: &str| sql::backup("tenant1", false, false, description);
    client
        .execute(&[start("old").expect("sql")])
        .await
        .expect("backup");
    step(&node.cluster, 3600 * 3);
    let submitted = node.cluster.lock().expect("lock").now();
    client
        .execute(&[start("new").expect("sql")])
        .await
        .expect("backup");
    step(&node.cluster, 120);
    // One task's description is listed in the read; ten thousand are too many to list and are matched in the
    // operator: the SQL sent is no larger.
    let one = vec!["new".to_string()];
    let many: Vec<String> = (0..10_000)
        .map(|i| format!("0f1e2d3c-4b5a-6978-8796-a5b4c3d2{i:04}"))
        .chain(["new".to_string(), "old".to_string()])
        .collect();
    // The first read also asks for the version, once per client.
    client
        .snapshot(everything(&[], jiff::Timestamp::UNIX_EPOCH))
        .await
        .expect("snapshot");
    // A read of the same reach and times for another task: its statements are kept for reuse, and must not
    // be sent for a read that waits on other jobs (their absence would then read as "never ran").
    let other = vec!["another-task".to_string()];
    let before_other = client
        .snapshot(whole(&other, submitted))
        .await
        .expect("snapshot");
    let tenant = before_other.tenant("tenant1").expect("tenant1").id;
    assert!(before_other.job_by_description(tenant, "new").is_none());
    let mut sent = Vec::new();
    let mut found = Vec::new();
    for descriptions in [&one, &many] {
        let before = client.read_bytes();
        let snapshot = client
            .snapshot(whole(descriptions, submitted))
            .await
            .expect("snapshot");
        sent.push(client.read_bytes() - before);
        let tenant = snapshot.tenant("tenant1").expect("tenant1").id;
        let new = snapshot.job_by_description(tenant, "new");
        assert_eq!(snapshot.newest_job_end, new.and_then(|j| j.end));
        found.push((
            new.map(|j| j.status.clone()),
            snapshot.job_by_description(tenant, "old").is_some(),
            snapshot.jobs.len(),
        ));
    }
    assert!(
        sent[1] <= sent[0],
        "SQL bytes for 1 and 10 002 descriptions: {sent:?}"
    );
    // The job submitted at `since` is found, finished; the one that ended hours before it is not read, and
    // no job is listed that was not asked for.
    assert_eq!(found[0], (Some(JobStatus::Completed), false, 1));
    assert_eq!(found[1], (Some(JobStatus::Completed), false, 1));
}
