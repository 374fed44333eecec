//! Randomized schedules on the real control plane (issue 13): each seed runs the operator binary over two
//! archiving tenants with three BackupTasks and a LogBackup that would fight the owner of tenant1's archiving,
//! and kills it at random moments, keeps it down for random times (some longer than the submit grace while
//! jobs finish), and cuts obsim off for random spells. Then it checks the invariants: one OceanBase job per
//! task, every task Completed, archiving on for both tenants with one archive round each, the rival Stalled,
//! every object with a phase and a reason, and no finished task rewriting its status when touched.
//! Each seed prints its schedule; `RANDOMIZED_CLUSTER_SEED=n` replays one, `RANDOMIZED_CLUSTER_SEEDS=n` runs
//! more.

use ob_backup_operator::api::{
    BackupTask, BackupTaskPhase, LogBackup, LogBackupPhase, backup_task::BackupMode,
    log_backup::DesiredArchiveState,
};
use ob_backup_operator::reason::Reason;
use std::time::{Duration, Instant};

use crate::support::{
    cluster::ControlPlane,
    rng::Rng,
    simulator,
    world::{GIB, World, backup_task, log_backup},
};

const TASKS: [(&str, &str, BackupMode); 3] = [
    ("t1-full", "tenant1", BackupMode::Full),
    ("t2-full", "tenant2", BackupMode::Full),
    ("t1-inc", "tenant1", BackupMode::Incremental),
];

/// Runs one seed and returns its schedule; panics naming the seed when an invariant breaks.
async fn run(seed: u64) -> String {
    let mut rng = Rng::new(seed);
    let mut schedule = Vec::new();
    let mut world = World::new(
        &format!("rand-{seed}"),
        &["tenant1", "tenant2"],
        4 * GIB,
        30.0,
    )
    .await
    .expect("control plane");
    world.apply(log_backup("archive1", "tenant1")).await;
    world.apply(log_backup("archive2", "tenant2")).await;
    let mut rival = log_backup("rival", "tenant1");
    rival.spec.desired_state = DesiredArchiveState::Stopped;
    if let Some(destination) = rival.spec.log_destination.as_mut() {
        destination.uri = "file:///backup/rival/archive".into();
    }
    for (name, tenant, mode) in TASKS {
        world.apply(backup_task(name, tenant, mode)).await;
    }
    // The rival comes a moment later, so that it is the younger one.
    world.apply(rival).await;
    for event in 0..(2 + rng.below(3)) {
        let after = Duration::from_millis(rng.below(6000));
        tokio::time::sleep(after).await;
        if rng.below(3) == 0 {
            let spell = Duration::from_secs(1 + rng.below(15));
            world.node.link.refuse_for(spell);
            world.node.link.drop_connections();
            schedule.push(format!("{event}: +{after:?} obsim refuses for {spell:?}"));
        } else {
            world.operator.kill();
            let down = Duration::from_secs(if rng.below(2) == 0 {
                rng.below(5)
            } else {
                46 + rng.below(20)
            });
            schedule.push(format!("{event}: +{after:?} SIGKILL, down {down:?}"));
            // Downtime is the scenario itself: the jobs run on, and finish, while nobody watches.
            tokio::time::sleep(down).await;
            world.start_operator(&format!("r{event}"));
        }
    }
    let schedule = format!("seed {seed}: {}", schedule.join("; "));
    for (name, _, _) in TASKS {
        world
            .reaches::<BackupTask>(name, BackupTaskPhase::Completed)
            .await;
    }
    for (name, _, _) in TASKS {
        let uid = world.uid("BackupTask", name).await;
        let jobs = simulator::jobs_with_description(&world.node, &uid);
        assert_eq!(jobs, 1, "{schedule}: {name} has {jobs} OceanBase jobs");
    }
    world
        .reaches::<LogBackup>("archive1", LogBackupPhase::InProgress)
        .await;
    world
        .reaches::<LogBackup>("archive2", LogBackupPhase::InProgress)
        .await;
    world
        .stalled_on::<LogBackup>("rival", Reason::ArchivingOwned)
        .await;
    for tenant in ["tenant1", "tenant2"] {
        assert_eq!(
            simulator::rounds_started(&world.node, tenant),
            1,
            "{schedule}: archive rounds of {tenant}"
        );
    }
    let settled = crate::support::invariants::settled(&world).await;
    world.done().await;
    format!("{schedule} → {settled}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn random_kills_delays_and_outages_keep_every_invariant() {
    if ControlPlane::get().is_none() {
        return;
    }
    let seeds: Vec<u64> = match std::env::var("RANDOMIZED_CLUSTER_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
    {
        Some(seed) => vec![seed],
        None => {
            let count = std::env::var("RANDOMIZED_CLUSTER_SEEDS")
                .ok()
                .and_then(|s| s.parse().ok())
                .unwrap_or(4u64);
            (1..=count).collect()
        }
    };
    let started = Instant::now();
    let runs = futures::future::join_all(seeds.iter().map(|&seed| tokio::spawn(run(seed)))).await;
    let mut failed = 0;
    for (seed, outcome) in seeds.iter().zip(runs) {
        match outcome {
            Ok(schedule) => println!("ok   {schedule}"),
            Err(e) => {
                failed += 1;
                println!("FAIL seed {seed}: {e}");
            }
        }
    }
    println!(
        "randomized on the control plane: {} seeds in {:.0} s",
        seeds.len(),
        started.elapsed().as_secs_f64()
    );
    assert_eq!(failed, 0, "{failed} of {} seeds failed", seeds.len());
}
