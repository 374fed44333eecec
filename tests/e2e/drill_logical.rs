//! A logical strategy's restore drill on the real control plane against a real OceanBase SQL engine
//! (seekdb) (docs/guide/restore-drills.md): the drill loads the tenant's newest dump into `drill_`
//! databases, finds every table of the copy equal to the dump (the source at the dump's snapshot), drops the
//! copy and passes; `kubectl obbackup drill run --wait` on a damaged dump fails, says why, and leaves no
//! copy behind. The source databases are only ever read.

use mysql_async::prelude::Queryable;
use serde_json::{Value, json};

use crate::{
    logical_backup::{PASSWORD, engine, loader, secrets},
    support::{
        cluster::eventually,
        drill::next_minute,
        logical_schema::Workload,
        plugin::{run, stderr, stdout},
        seekdb::Seekdb,
        world::{WAIT, World},
    },
};

/// Databases whose name begins with `drill_` and holds `tag` (the workload's).
async fn copies(server: &Seekdb, tag: &str) -> Vec<String> {
    let mut conn = server.conn().await;
    let names: Vec<String> = conn
        .query(
            "SELECT SCHEMA_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME LIKE 'drill\\_%'",
        )
        .await
        .expect("schemata");
    names.into_iter().filter(|n| n.contains(tag)).collect()
}

/// The logical strategy `dumps` over the workload's databases, drilled on `schedule`.
fn strategy(workload: &Workload, schedule: &str) -> Value {
    json!({
        "apiVersion": "obbackup.dev/v1alpha1", "kind": "BackupStrategy",
        "metadata": {"name": "dumps"},
        "spec": {
            "cluster": {"name": "engine", "connectionSecret": "engine"},
            "tenants": ["tenant1"],
            "method": "Logical",
            "logical": {"credentialsSecret": "dumper", "databases": workload.databases(), "parallel": 2},
            "dataDestination": {"uri": "file:///backup/dumps"},
            "schedule": {"timeZone": "UTC", "full": "0 1 1 1 *"},
            "restoreDrill": {
                "schedule": schedule, "timeZone": "UTC",
                "target": {},
                "credentialsSecret": "loader",
                "timeout": "1h",
            },
        },
    })
}

/// A dump of the strategy's databases, taken now ("Back up Now").
async fn dump_now(world: &World, workload: &Workload) -> Value {
    world
        .apply(json!({
            "apiVersion": "obbackup.dev/v1alpha1", "kind": "BackupTask",
            "metadata": {"name": "now", "labels": {"obbackup.dev/strategy": "dumps"}},
            "spec": {"strategyRef": {"name": "dumps"}, "tenant": "tenant1", "mode": "Full", "method": "Logical",
                     "logical": {"credentialsSecret": "dumper", "databases": workload.databases(), "parallel": 2}},
        }))
        .await;
    world.phase("BackupTask", "now", "Completed").await
}

/// The strategy's drill RecoveryTasks, by name, once every one has ended.
async fn ended_drills(world: &World) -> Vec<(String, Value)> {
    eventually("the drills to end", WAIT * 2, || async {
        let drills: Vec<(String, Value)> = world
            .list("RecoveryTask")
            .await
            .into_iter()
            .filter(|t| t.data["spec"]["drill"].is_object())
            .filter_map(|t| Some((t.metadata.name?, t.data["status"].clone())))
            .collect();
        let ended =
            |s: &Value| ["Completed", "Failed"].contains(&s["phase"].as_str().unwrap_or(""));
        (!drills.is_empty() && drills.iter().all(|(_, s)| ended(s))).then_some(drills)
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_logical_drill_finds_every_table_equal_to_the_dump_and_a_damaged_dump_fails() {
    let Some(server) = engine().await else { return };
    let start = (jiff::Timestamp::now(), 1.0);
    let Some((world, share)) =
        World::with_file_share_at("drill-logical", &["tenant1"], 0, start, false).await
    else {
        return;
    };
    secrets(&world, server, PASSWORD).await;
    loader(server, &world).await;
    let workload = Workload::create(server, "e2e_drill", 300).await;
    world.apply(strategy(&workload, "0 1 1 1 *")).await;
    let dumped = dump_now(&world, &workload).await;
    world.apply(strategy(&workload, &next_minute(5))).await;

    let drills = ended_drills(&world).await;
    assert_eq!(drills.len(), 1, "one scheduled run");
    let status = &drills[0].1;
    assert_eq!(status["phase"], "Completed", "{status}");
    let drill = &status["drill"];
    assert_eq!(drill["verdict"], "Passed", "{drill}");
    assert_eq!(drill["dropped"], true);
    let checked: Vec<&str> = drill["checks"]
        .as_array()
        .expect("checks")
        .iter()
        .filter(|c| c["passed"] == true)
        .filter_map(|c| c["name"].as_str())
        .collect();
    for table in workload.tables() {
        assert!(checked.contains(&table.as_str()), "{table} in {drill}");
    }
    assert_eq!(
        status["recoveryTime"], dumped["logical"]["snapshotTime"],
        "the point is the dump's snapshot: {status}"
    );
    assert_eq!(
        copies(server, "e2e_drill").await,
        Vec::<String>::new(),
        "the copy is dropped"
    );
    let verified = eventually("the strategy to show the passed drill", WAIT, || async {
        let status = world.status("BackupStrategy", "dumps").await;
        status["drills"][0]["lastPassed"]["task"]
            .is_string()
            .then_some(status)
    })
    .await;
    assert!(verified["lastPassedDrillTime"].is_string(), "{verified}");

    // A chunk of the dump damaged on the storage: the drill run by hand fails and leaves no copy.
    let chunk = walk(&share.join("backup/dumps/tenant1/logical"))
        .into_iter()
        .find(|p| p.extension().is_some_and(|e| e == "zst" || e == "gz"))
        .expect("a chunk of the dump");
    std::fs::write(&chunk, b"damaged").expect("damage a chunk");
    let output = run(
        &world,
        &["drill", "run", "dumps", "--wait", "--timeout", "5m"],
    )
    .await;
    assert!(!output.status.success(), "{}", stdout(&output));
    let said = format!("{}{}", stdout(&output), stderr(&output));
    let manual = ended_drills(&world)
        .await
        .into_iter()
        .find(|(name, _)| name.contains("-drill-now-"))
        .expect("the drill run by hand");
    let status = &manual.1;
    assert_eq!(status["phase"], "Failed", "{said}");
    assert_eq!(status["drill"]["verdict"], "Failed");
    assert_eq!(status["drill"]["dropped"], true);
    let message = status["drill"]["message"].as_str().unwrap_or_default();
    assert!(message.starts_with("the load failed"), "{message}");
    assert!(
        said.contains(&manual.0),
        "the plugin names the failed drill: {said}"
    );
    assert_eq!(
        copies(server, "e2e_drill").await,
        Vec::<String>::new(),
        "nothing of the failed drill left"
    );
    world.done().await;
}

/// Every file under `dir`.
fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            files.extend(walk(&path));
        } else {
            files.push(path);
        }
    }
    files
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_logical_drill_cut_mid_load_by_a_crash_drops_its_partial_copy_loads_again_and_passes() {
    let Some(server) = engine().await else { return };
    let start = (jiff::Timestamp::now(), 1.0);
    let Some((mut world, _share)) =
        World::with_file_share_at("drill-logical-crash", &["tenant1"], 0, start, false).await
    else {
        return;
    };
    secrets(&world, server, PASSWORD).await;
    loader(server, &world).await;
    let workload = Workload::create(server, "e2e_cut", 300).await;
    world.apply(strategy(&workload, "0 1 1 1 *")).await;
    dump_now(&world, &workload).await;
    let point = "logical/load/chunk";
    world.arm(point);
    world.apply(strategy(&workload, &next_minute(5))).await;
    world.crashed(point).await;
    world.start_operator("after");
    let drills = ended_drills(&world).await;
    assert_eq!(drills.len(), 1, "one run");
    let status = &drills[0].1;
    assert_eq!(status["drill"]["verdict"], "Passed", "{status}");
    assert_eq!(
        copies(server, "e2e_cut").await,
        Vec::<String>::new(),
        "the copy is dropped"
    );
    world.done().await;
}
