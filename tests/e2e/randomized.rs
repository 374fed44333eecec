//! Randomized schedules, fast form (issue 13): a BackupTask's real decisions (`decide`, `after_submit`) and
//! the operator's real OceanBase client, against obsim (in this process, over loopback) on a frozen clock the
//! test steps. Each case is a seed; the schedule mixes looks at the cluster (some of them reads that did not ask
//! for the task's description, as the first read after a restart may be), crashes at every point of the submit
//! (before the intent, after it, after the statement), lost status writes, outages and time jumps past the
//! submit grace. Invariant, checked after every step: the task's UID is on at most one OceanBase job; at the
//! end, once left alone, the task is Completed on exactly one. A failure prints its seed; `RANDOMIZED_SEED=n`
//! replays one, `RANDOMIZED_CASES=n` runs more.

use std::{sync::Arc, time::Duration};

use crate::support::{rng::Rng, simulator::jobs_with_description};
use jiff::{SignedDuration, Timestamp};
use ob_backup_operator::{
    api::{BackupTask, BackupTaskPhase, BackupTaskSpec, BackupTaskStatus, backup_task::BackupMode},
    controller::backup_task::decide::{Inputs, Step, after_submit, decide},
    observer::{Interest, Observation},
    oceanbase::{ConnectionInfo, OceanBase, SnapshotRequest, mysql::MysqlCluster, sql},
};
use obsim::{
    clock::Clock,
    model::Cluster,
    sim::{Node, Simulator},
};

const PASSWORD: &str = "randomized-sys-pw";
const DATA: &str = "file:///backup/data";

/// What the operator keeps: the task's status in the API (durable) and whether its observer asks for the
/// task's description (lost on a crash: the first read after a restart may not ask).
struct Operator {
    status: Option<BackupTaskStatus>,
    watching: Option<Interest>,
}

/// Where a crash may cut a reconcile that submits.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Cut {
    None,
    BeforeIntent,
    AfterIntent,
    AfterStatement,
    StatusLost,
}

fn task(uid: &str) -> BackupTask {
    let mut task = BackupTask::new(
        "t",
        BackupTaskSpec {
            strategy_ref: None,
            cluster: Some(Box::new(
                ob_backup_operator::api::common::ClusterConnection {
                    name: "obcluster".into(),
                    connection_secret: Some("ob".into()),
                    ob_cluster: None,
                },
            )),
            data_destination: None,
            tenant: "tenant1".into(),
            mode: BackupMode::Full,
            plus_archivelog: false,
            method: Default::default(),
            logical: None,
            cancel: false,
            second_copy: None,
            job_id: None,
        },
    );
    task.metadata.uid = Some(uid.into());
    task.metadata.generation = Some(1);
    task
}

fn now(node: &Node) -> Timestamp {
    node.cluster.lock().expect("lock").now()
}

fn step(node: &Node, seconds: i64) {
    node.cluster
        .lock()
        .expect("lock")
        .clock
        .step(SignedDuration::from_secs(seconds));
}

/// One look at the task: read, decide, act — cut where `cut` says.
/// How many looks (a read, a decision, what it sends) all cases made.
static LOOKS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

async fn look(
    client: &MysqlCluster,
    node: &Node,
    operator: &mut Operator,
    task: &mut BackupTask,
    cut: Cut,
) {
    LOOKS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let uid = task.metadata.uid.clone().unwrap_or_default();
    let read_at = now(node);
    // What the observer asks for, exactly as it builds its request from the interests it holds.
    let (descriptions, jobs_ended_since) =
        ob_backup_operator::observer::finished_rows_wanted(operator.watching.iter(), read_at);
    let observation = match client
        .snapshot(SnapshotRequest {
            descriptions: &descriptions,
            jobs_ended_since,
            clean_since: Timestamp::UNIX_EPOCH,
            restores: false,
            external: None,
            reach: ob_backup_operator::oceanbase::Reach::Whole,
        })
        .await
    {
        Ok(snapshot) => Observation::Seen {
            snapshot: Arc::new(snapshot),
            at: read_at,
        },
        Err(e) => Observation::Unreachable {
            reason: e.to_string(),
            since: read_at,
        },
    };
    task.status = operator.status.clone();
    let decision = decide(&Inputs {
        task,
        cluster_name: "obcluster",
        data_uri: DATA,
        observation: &observation,
        clock: ob_backup_operator::timing::Clock::at(read_at),
        stall_timeout: SignedDuration::from_mins(30),
    });
    // The observer asks for what the task watches from its next read on.
    operator.watching = decision.interest.clone();
    match decision.step {
        Step::Wait | Step::Cancel => operator.status = Some(decision.status),
        Step::SetDataDest => {
            operator.status = Some(decision.status);
            let _ = client
                .execute(&[sql::set_data_backup_dest("tenant1", DATA).expect("sql")])
                .await;
        }
        Step::Submit => {
            if cut == Cut::BeforeIntent {
                return;
            }
            let intent = BackupTaskStatus {
                submitted_at: Some(ob_backup_operator::controller::conditions::api_time(now(
                    node,
                ))),
                ..decision.status
            };
            operator.status = Some(intent.clone());
            if cut == Cut::AfterIntent {
                return;
            }
            let outcome = client
                .execute(&[sql::backup("tenant1", false, false, &uid).expect("sql")])
                .await;
            if cut == Cut::AfterStatement {
                return;
            }
            let after = after_submit(task, intent, outcome, now(node));
            if cut != Cut::StatusLost {
                operator.status = Some(after);
            }
        }
    }
}

/// Runs the schedule of `seed`; panics (naming the seed) when an invariant breaks.
async fn case(seed: u64) {
    let mut rng = Rng::new(seed);
    let mut cluster = Cluster::new(
        "obcluster",
        crate::support::simulator::profile(),
        PASSWORD,
        Clock::new(Timestamp::from_second(1_800_000_000).expect("time"), 0.0),
    );
    cluster.add_user_tenant("tenant1", 1 << 30).expect("tenant");
    let node = Simulator::new()
        .start(cluster, "127.0.0.1:0".parse().expect("address"))
        .await
        .expect("obsim");
    let client = MysqlCluster::new(
        &ConnectionInfo {
            host: "127.0.0.1".into(),
            port: node.addr.port(),
            user: "root@sys".into(),
            password: PASSWORD.into(),
            ca_cert: None,
        },
        [],
    );
    client
        .execute(&[
            sql::set_log_archive_dest(
                "tenant1",
                "file:///backup/archive",
                &ob_backup_operator::oceanbase::Binding::Optional,
                "1d",
            )
            .expect("sql"),
            sql::archive_mode("tenant1", true).expect("sql"),
        ])
        .await
        .expect("archiving");
    step(&node, 5);
    let uid = format!("seed-{seed}");
    let mut task = task(&uid);
    let mut operator = Operator {
        status: None,
        watching: None,
    };
    for _ in 0..(10 + rng.below(30)) {
        match rng.below(10) {
            0..=4 => {
                let cut = match rng.below(8) {
                    0 => Cut::BeforeIntent,
                    1 => Cut::AfterIntent,
                    2 => Cut::AfterStatement,
                    3 => Cut::StatusLost,
                    _ => Cut::None,
                };
                look(&client, &node, &mut operator, &mut task, cut).await;
                if cut != Cut::None {
                    // The operator died there: its observer starts again without interests.
                    operator.watching = None;
                }
            }
            5 | 6 => step(&node, 1 + rng.below(20) as i64),
            // A restart late enough for the submit grace to pass while the job runs or ends.
            7 => {
                operator.watching = None;
                step(&node, 30 + rng.below(120) as i64);
            }
            8 => node
                .link
                .refuse_for(Duration::from_millis(20 + rng.below(40))),
            _ => node.link.drop_connections(),
        }
        let jobs = jobs_with_description(&node, &uid);
        assert!(
            jobs <= 1,
            "seed {seed}: {jobs} OceanBase jobs carry the task's UID"
        );
    }
    // Left alone (the last injected refusal over), the task ends Completed on exactly one job.
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while node.link.refusing() {
        assert!(
            std::time::Instant::now() < deadline,
            "seed {seed}: obsim keeps refusing"
        );
        tokio::task::yield_now().await;
    }
    for _ in 0..200 {
        look(&client, &node, &mut operator, &mut task, Cut::None).await;
        if operator
            .status
            .as_ref()
            .and_then(|s| s.phase)
            .is_some_and(|p| p == BackupTaskPhase::Completed)
        {
            break;
        }
        step(&node, 10);
    }
    let phase = operator.status.as_ref().and_then(|s| s.phase);
    assert_eq!(phase, Some(BackupTaskPhase::Completed), "seed {seed}");
    assert_eq!(
        jobs_with_description(&node, &uid),
        1,
        "seed {seed}: one OceanBase job"
    );
}

#[tokio::test]
async fn random_crashes_restarts_and_outages_never_make_a_second_job() {
    if let Some(seed) = std::env::var("RANDOMIZED_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
    {
        case(seed).await;
        return;
    }
    let cases: u64 = std::env::var("RANDOMIZED_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(300);
    let started = std::time::Instant::now();
    for seed in 1..=cases {
        case(seed).await;
    }
    println!(
        "randomized: {cases} seeds ({} decisions against obsim) passed in {:.1} s",
        LOOKS.load(std::sync::atomic::Ordering::Relaxed),
        started.elapsed().as_secs_f64()
    );
}
