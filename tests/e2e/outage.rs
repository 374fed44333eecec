//! Back within seconds (docs/operations/high-availability.md, "OceanBase outages"): after a cluster has
//! refused every connection for longer than the observer's backoff takes to reach its cap, status follows
//! again within 10 s of the cluster's return — the observer keeps trying every few seconds instead of
//! backing off to a minute — and it tries a cluster still down once per backoff step, no more.

use std::time::{Duration, Instant};

use ob_backup_operator::{
    api::{LogBackup, LogBackupPhase},
    timing::UNREACHABLE_BACKOFF_MAX,
};

use crate::support::{
    cluster::eventually,
    world::{GIB, WAIT, World, condition, log_backup},
};

/// Longer than the backoff's doubling takes to reach its cap (2 s, 4 s, then 5 s).
const OUTAGE: Duration = Duration::from_secs(40);
/// The promise.
const BACK_WITHIN: Duration = Duration::from_secs(10);

#[tokio::test]
async fn status_follows_again_within_ten_seconds_of_a_long_outages_end() {
    let Some(world) = World::new("outage", &["tenant1"], GIB, 30.0).await else {
        return;
    };
    world.apply(log_backup("tenant1-archive", "tenant1")).await;
    world
        .reaches::<LogBackup>("tenant1-archive", LogBackupPhase::InProgress)
        .await;
    let reachable = || async {
        condition(
            &world.status("LogBackup", "tenant1-archive").await,
            "ClusterReachable",
        )
    };

    let refused_before = world.node.link.refused();
    world.node.link.refuse_for(OUTAGE);
    world.node.link.drop_connections();
    eventually(
        "the archive to report the cluster unreachable",
        WAIT,
        || async { (reachable().await.as_deref() == Some("False")).then_some(()) },
    )
    .await;
    eventually("the outage to end", OUTAGE + WAIT, || async {
        (!world.node.link.refusing()).then_some(())
    })
    .await;
    let back = Instant::now();
    // Without hammering: a cluster still down sees one connection attempt per backoff step (2 s, 4 s, then
    // one each UNREACHABLE_BACKOFF_MAX), and one more each time the outage is noticed; two a step would
    // mean every retry connects twice.
    let attempts = world.node.link.refused() - refused_before;
    let steps = OUTAGE.as_secs() / UNREACHABLE_BACKOFF_MAX.as_secs() + 3;
    println!("the operator tried the cluster {attempts} times during the {OUTAGE:?} outage");
    assert!(
        attempts <= steps,
        "{attempts} connection attempts during a {OUTAGE:?} outage, more than one per backoff step ({steps})"
    );
    eventually("the archive to see the cluster again", WAIT, || async {
        (reachable().await.as_deref() == Some("True")).then_some(())
    })
    .await;
    let took = back.elapsed();
    println!("status followed {took:?} after a {OUTAGE:?} outage ended");
    assert!(took <= BACK_WITHIN, "status followed only after {took:?}");
    world.done().await;
}
