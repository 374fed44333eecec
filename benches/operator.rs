//! The operator's cost and speed, printed as numbers beside their targets
//! (docs/contributing/design.md §7, issue 14): SQL round trips per observer cycle for 1, 10 and 100
//! tenants; then, per size in `BENCH_TASKS` (default 1000 and 10000 BackupTasks), the cold start,
//! memory, CPU, API writes and SQL over a quiet window of `BENCH_IDLE_SECONDS` (default 600), and
//! the OceanBase-to-status latency over `BENCH_SAMPLES` (default 200) samples ([`scale`]); with
//! `BENCH_REPLICAS` > 1, that many replicas over `BENCH_SHARDS` shards (default twice the replicas), one
//! killed halfway through the samples; with `BENCH_THEN_BINARIES` (paths separated by commas), each of those
//! operator binaries is then started cold over the same estate and measured in turn. After the samples one
//! cluster refuses every connection for `BENCH_OUTAGE_SECONDS` (default 300; 0 skips it), and the time its
//! status takes to follow again after its return is printed against 10 s. Not a test: run it with
//! `scripts/bench.sh`, which starts the control plane.
//!
//! `scripts/test.sh` also runs a small form of it (a few hundred tasks, a short window, a few samples) in the
//! test profile, so that it cannot break unnoticed. Nothing timed is asserted in either form: the targets are
//! printed as met or NOT MET. What is asserted holds whatever the timing: every phase runs to its end, every
//! task ends in the phase it must with its job run once in OceanBase, the SQL of a cycle does not grow with
//! the number of tenants.

mod scale;
#[path = "../tests/e2e/support/mod.rs"]
#[allow(dead_code)] // a bench uses a few of the tests' helpers
mod support;

use std::sync::Arc;

use ob_backup_operator::oceanbase::{ConnectionInfo, OceanBase, Reach, mysql::MysqlCluster, sql};
use obsim::{
    clock::Clock,
    model::{Cluster, Version},
    sim::{Node, Simulator},
};
use support::{cluster::ControlPlane, simulator::SYS_PASSWORD};

#[tokio::main]
async fn main() {
    let started = std::time::Instant::now();
    let env = |name: &str, default: &str| std::env::var(name).unwrap_or_else(|_| default.into());
    let idle = env("BENCH_IDLE_SECONDS", "600")
        .parse()
        .expect("BENCH_IDLE_SECONDS: whole seconds");
    let samples: usize = env("BENCH_SAMPLES", "200")
        .parse()
        .expect("BENCH_SAMPLES: a number");
    assert!(samples > 0, "BENCH_SAMPLES: at least one sample");
    let tasks_per_tenant: usize = env("BENCH_TASKS_PER_TENANT", "100")
        .parse()
        .expect("BENCH_TASKS_PER_TENANT: a number");
    let replicas: u32 = env("BENCH_REPLICAS", "1")
        .parse()
        .expect("BENCH_REPLICAS: a number");
    assert!(
        (1..=64).contains(&replicas),
        "BENCH_REPLICAS: 1 to 64, as the operator's --replicas"
    );
    let shards: u32 = match std::env::var("BENCH_SHARDS") {
        Ok(n) => n.parse().expect("BENCH_SHARDS: a number"),
        Err(_) if replicas > 1 => 2 * replicas,
        Err(_) => 1,
    };
    assert!(
        (1..=64).contains(&shards),
        "BENCH_SHARDS: 1 to 64, as the operator's --shards"
    );
    let sizes: Vec<usize> = env("BENCH_TASKS", "1000,10000")
        .split(',')
        .map(|n| {
            n.trim()
                .parse()
                .expect("BENCH_TASKS: sizes separated by commas")
        })
        .collect();
    if cfg!(debug_assertions) {
        // `cargo test --bench operator` (the small form in scripts/test.sh): the operator is the test build.
        println!(
            "test-profile build (unoptimised operator): the figures show that every phase runs, not how fast"
        );
    }
    let outage: u64 = env("BENCH_OUTAGE_SECONDS", "300")
        .parse()
        .expect("BENCH_OUTAGE_SECONDS: whole seconds");
    // Shorter, the outage could end before the operator notices it, and the bench would wait for that.
    assert!(
        outage == 0 || outage >= 10,
        "BENCH_OUTAGE_SECONDS: 0 (no outage) or at least 10"
    );
    let outage = std::time::Duration::from_secs(outage);
    let then: Vec<std::path::PathBuf> = std::env::var("BENCH_THEN_BINARIES")
        .map(|list| list.split(',').map(Into::into).collect())
        .unwrap_or_default();
    assert!(
        then.is_empty() || (replicas == 1 && shards == 1),
        "BENCH_THEN_BINARIES: one replica, one shard"
    );
    assert!(
        then.iter().all(|binary| binary.is_file()),
        "BENCH_THEN_BINARIES: paths of operator binaries, separated by commas"
    );
    match std::env::var("OBBACKUP_OPERATOR_BINARY") {
        Ok(binary) => println!("measured operator: {binary} (the image's build, as deployed)"),
        Err(_) => println!("measured operator: the build cargo made beside this bench"),
    }
    round_trips_per_cycle().await;
    beside_ob_operator();
    let Some(plane) = ControlPlane::get() else {
        println!(
            "no control plane: run scripts/bench.sh for the scale, API-write and latency figures"
        );
        return;
    };
    for &tasks in &sizes {
        scale::run(
            &plane,
            &scale::Scale {
                tasks,
                tasks_per_tenant,
                idle,
                samples,
                replicas,
                shards,
                then: then.clone(),
                outage,
            },
        )
        .await;
    }
    let killed = if replicas > 1 {
        format!(" ({replicas} replicas over {shards} shards, one killed halfway)")
    } else {
        String::new()
    };
    let outage = match outage.as_secs() {
        0 => String::new(),
        seconds => format!(" and a {seconds} s outage of one cluster"),
    };
    // The line a reader of CI's log looks for: only printed when every phase ran to its end.
    println!(
        "benchmark finished in {:.0}s: round trips per cycle (1, 10, 100 tenants); for {sizes:?} tasks the \
         setup, history, cold start, {idle} s quiet window and {samples} latency samples{killed}{outage} ran, every \
         task in its expected phase and each job run once",
        started.elapsed().as_secs_f64()
    );
}

async fn cluster_with(tenants: usize) -> Arc<Node> {
    let mut cluster = Cluster::new(
        "bench",
        Version::V4_4_1,
        SYS_PASSWORD,
        Clock::new(jiff::Timestamp::now(), 0.0),
    );
    for i in 1..=tenants {
        cluster
            .add_user_tenant(&format!("t{i}"), 100 << 30)
            .expect("tenant");
    }
    Simulator::new()
        .start(cluster, "127.0.0.1:0".parse().expect("address"))
        .await
        .expect("obsim")
}

/// The target of running ob-operator beside the operator on the same tenants (its SQL round trips, API
/// writes and memory per tenant beside ours): said, not measured, while there is no ob-operator to run.
fn beside_ob_operator() {
    println!(
        "ob-operator beside us (SQL round trips, API writes and memory per tenant for both): not run — no \
         ob-operator binary here: its Go module is not served by the module proxy this project builds from \
         (tools/ob-operator/crds.sh says so), so neither its CRDs nor its manager can be built"
    );
}

/// What a cycle asks for: the finished jobs of `descriptions`, the parts of `reach`.
fn request(
    descriptions: &[String],
    reach: Reach,
) -> ob_backup_operator::oceanbase::SnapshotRequest<'_> {
    ob_backup_operator::oceanbase::SnapshotRequest {
        descriptions,
        jobs_ended_since: jiff::Timestamp::UNIX_EPOCH,
        clean_since: jiff::Timestamp::UNIX_EPOCH,
        restores: false,
        external: None,
        reach,
    }
}

/// One observer cycle is one snapshot; count its round trips.
async fn round_trips_per_cycle() {
    println!(
        "SQL round trips per observer cycle (one snapshot), and the statements they carry; target 1:"
    );
    println!(
        "  tenants  idle  active  statements  changing  jobs (active: every tenant archiving and backing up, each \
         task tracked; changing, jobs: the statements of the reads between whole ones, every few cycles and at \
         the others)"
    );
    let mut counts = Vec::new();
    for tenants in [1usize, 10, 100] {
        let node = cluster_with(tenants).await;
        let info = ConnectionInfo {
            host: "127.0.0.1".into(),
            port: node.addr.port(),
            user: "root@sys".into(),
            password: SYS_PASSWORD.into(),
            ca_cert: None,
        };
        let client = MysqlCluster::new(&info, []);
        // The first snapshot also reads ob_version(), once per client; measure a steady cycle.
        client
            .snapshot(request(&[], Reach::Whole))
            .await
            .expect("first snapshot");
        // Counted at the server: whatever the client counts, every command it receives is a round trip.
        let before = node.link.commands();
        client
            .snapshot(request(&[], Reach::Whole))
            .await
            .expect("idle snapshot");
        let idle = node.link.commands() - before;

        let mut descriptions = Vec::new();
        for i in 1..=tenants {
            let tenant = format!("t{i}");
            // Each tenant its own destinations: OceanBase (and obsim) refuse a destination whose format
            // file names another tenant (error 9081).
            client
                .execute(&[
                    sql::set_data_backup_dest(&tenant, &format!("file:///bench/{tenant}/data"))
                        .expect("sql"),
                    sql::set_log_archive_dest(
                        &tenant,
                        &format!("file:///bench/{tenant}/archive"),
                        &ob_backup_operator::oceanbase::Binding::Optional,
                        "1d",
                    )
                    .expect("sql"),
                    sql::archive_mode(&tenant, true).expect("sql"),
                ])
                .await
                .expect("archiving");
        }
        node.cluster
            .lock()
            .expect("lock")
            .clock
            .step(jiff::SignedDuration::from_secs(10));
        for i in 1..=tenants {
            let description = format!("bench-{i}");
            client
                .execute(&[sql::backup(&format!("t{i}"), false, false, &description).expect("sql")])
                .await
                .expect("backup");
            descriptions.push(description);
        }
        let (before, statements) = (node.link.commands(), client.snapshot_statements());
        let snapshot = client
            .snapshot(request(&descriptions, Reach::Whole))
            .await
            .expect("active snapshot");
        let active = node.link.commands() - before;
        let statements = client.snapshot_statements() - statements;
        assert_eq!(snapshot.jobs.len(), tenants);
        // Between whole reads the observer asks for less (the observer's cadence).
        let mut partial = Vec::new();
        let mut partial_trips = 0;
        for reach in [Reach::Changing, Reach::Jobs] {
            let (before, sent) = (node.link.commands(), client.snapshot_statements());
            client
                .snapshot(request(&descriptions, reach))
                .await
                .expect("partial snapshot");
            partial_trips = partial_trips.max(node.link.commands() - before);
            partial.push(client.snapshot_statements() - sent);
        }
        let (changing, jobs) = (partial[0], partial[1]);
        println!(
            "  {tenants:>7}  {idle:>4}  {active:>6}  {statements:>10}  {changing:>8}  {jobs:>4}"
        );
        counts.push((
            idle,
            active.max(partial_trips),
            (statements, changing, jobs),
        ));
    }
    // Counted, not timed: a cycle is one round trip, and its statements do not grow with the tenants.
    assert!(
        counts
            .iter()
            .all(|&(idle, active, _)| idle == 1 && active == 1)
            && counts.windows(2).all(|pair| pair[0] == pair[1]),
        "a cycle is more than one round trip, or grows with the number of tenants: {counts:?}"
    );
}
