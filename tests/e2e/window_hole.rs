//! A hole in the recoverable window (issue 37, item 7): a strategy over tenant1 on a simulated clock, a full
//! backup, archiving across several one-day pieces, a second full two days later, then OceanBase marks the
//! piece between them `BROKEN` (obsim's `break-archive-piece`). The strategy's `RecoverableWindowContinuous`
//! turns False naming tenant1 and the gap, and a restore to a point in the hole is refused before anything
//! reaches OceanBase (docs/reference/oceanbase-interface.md §8, docs/guide/recovery.md).

use jiff::{SignedDuration, Timestamp};
use ob_backup_operator::api::{
    BackupStrategy, BackupTaskPhase, RecoveryTask, RecoveryTaskPhase, common::TimeWindow,
};
use serde_json::json;

use crate::support::{
    cluster::eventually,
    recovery::{recovery, restores_of},
    simulator,
    world::{GIB, WAIT, World, strategy, strategy_backup_task},
};

/// One simulated hour per real second: a one-day piece is written in 24 seconds.
const SPEED: f64 = 3600.0;
const CONTINUOUS: &str = "RecoverableWindowContinuous";

/// The strategy's windows for tenant1 and its `RecoverableWindowContinuous` (status, message).
async fn windows_and_condition(world: &World) -> Option<(Vec<TimeWindow>, String, String)> {
    let status = world.read::<BackupStrategy>("src").await?.status?;
    let windows = status.tenants.first()?.recoverable_windows.clone();
    let said = status.conditions.iter().find(|c| c.type_ == CONTINUOUS)?;
    Some((windows, said.status.clone(), said.message.clone()))
}

/// tenant1's archive pieces as OceanBase lists them: (id, start, end), oldest first.
fn pieces(world: &World) -> Vec<(i64, Timestamp, Timestamp)> {
    let cluster = simulator::cluster(&world.node);
    let time = |scn: u64| ob_backup_operator::oceanbase::scn_time(scn);
    cluster
        .tenant("tenant1")
        .map(|t| t.archive.pieces())
        .unwrap_or_default()
        .iter()
        .map(|p| (p.piece_id, time(p.start_scn), time(p.end_scn)))
        .collect()
}

/// Runs the strategy's "Back up Now" `name` to completion.
async fn full_backup(world: &World, name: &str) {
    world
        .create(&strategy_backup_task(name, "src", "tenant1"))
        .await;
    world
        .reaches::<ob_backup_operator::api::BackupTask>(name, BackupTaskPhase::Completed)
        .await;
}

#[tokio::test]
async fn a_broken_middle_piece_splits_the_window_and_a_point_in_the_hole_is_refused() {
    let start: Timestamp = "2026-06-01T06:00:00Z".parse().expect("time");
    let Some(world) = World::simulated(
        "window-hole",
        &["tenant1"],
        GIB,
        (start, SPEED),
        simulator::profile(),
    )
    .await
    else {
        return;
    };
    world.apply(strategy("src", json!({}))).await;
    world.archiving("src", "tenant1").await;
    full_backup(&world, "full1").await;
    // Two days and more of archive (one piece a day), then a second full in the third piece.
    world
        .sim_until(world.sim_now() + SignedDuration::from_hours(54))
        .await;
    full_backup(&world, "full2").await;
    let before = eventually("one unbroken window past full2", WAIT, || async {
        let (windows, status, _) = windows_and_condition(&world).await?;
        (windows.len() == 1 && status == "True").then_some(windows)
    })
    .await;
    let all = pieces(&world);
    assert!(all.len() >= 3, "{all:?}");
    let (middle, hole_from, hole_to) = all[1];
    assert!(
        before[0].from.0 < hole_from,
        "full1's window starts before the middle piece: {before:?} {all:?}"
    );

    simulator::cluster(&world.node)
        .break_archive_piece("tenant1", Some(middle))
        .expect("the middle piece breaks");
    let (windows, message) = eventually("the window split at the broken piece", WAIT, || async {
        let (windows, status, message) = windows_and_condition(&world).await?;
        (windows.len() == 2 && status == "False").then_some((windows, message))
    })
    .await;
    // The hole opens where the broken piece starts and closes where full2 can be restored from.
    assert_eq!(windows[0].to.0.as_second(), hole_from.as_second());
    assert!(windows[1].from.0 > hole_to, "{windows:?} {all:?}");
    assert_eq!(
        message,
        format!(
            "no single unbroken recoverable window for: tenant1 (gap {} – {})",
            windows[0].to.0, windows[1].from.0
        )
    );

    // A point in the hole: Failed with the windows in the message, and OceanBase never hears of it.
    let inside = hole_from + SignedDuration::from_hours(12);
    world
        .apply(recovery(
            "in-hole",
            "hole1",
            json!({"time": inside.to_string()}),
            json!({}),
        ))
        .await;
    let refused = world
        .reaches::<RecoveryTask>("in-hole", RecoveryTaskPhase::Failed)
        .await;
    let failure = refused.failure.map(|f| f.message).expect("a failure");
    for window in &windows {
        let listed = format!("{} – {}", window.from.0, window.to.0);
        assert!(failure.contains(&listed), "{listed} not in: {failure}");
    }
    assert!(
        failure.contains("outside every recoverable window"),
        "{failure}"
    );
    assert_eq!(restores_of(&world, "hole1"), 0, "nothing reached OceanBase");
    world.done().await;
}
