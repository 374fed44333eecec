//! Back within seconds (issue 38, target 5): one OceanBase cluster refuses every connection for
//! `BENCH_OUTAGE_SECONDS` while the others keep working, then comes back; the time from its return to its
//! tenant's LogBackup saying `ClusterReachable` again, against 10 s. Also printed: how often the operator
//! tried the cluster while it was down (each attempt a connection the cluster refused), so that following
//! fast does not come from hammering a cluster that is still down.

use std::time::{Duration, Instant};

use kube::{Api, Client, api::DynamicObject};

use super::{WAIT, estate::Estate, fleet::Fleet, measure::verdict};
use crate::support::{cluster::eventually, world::condition};

/// The promise: status follows again within this long of the cluster's return.
const BACK_WITHIN: Duration = Duration::from_secs(10);

/// Takes the cluster of `tenant` away for `outage`, then measures how soon its status follows again.
pub async fn run(admin: &Client, estate: &Estate, fleet: &Fleet, tenant: &str, outage: Duration) {
    let logs = estate.api(admin, tenant, "LogBackup");
    let name = archive_of(&logs, tenant).await;
    let reachable = || async {
        let archive = logs.get(&name).await.ok()?;
        condition(&archive.data["status"], "ClusterReachable")
    };
    let node = fleet.node(tenant);
    let refused_before = node.link.refused();
    let down = Instant::now();
    node.link.refuse_for(outage);
    node.link.drop_connections();
    eventually(
        "the archive to report its cluster unreachable",
        WAIT,
        || async { (reachable().await.as_deref() == Some("False")).then_some(()) },
    )
    .await;
    let noticed = down.elapsed();
    eventually("the outage to end", outage + WAIT, || async {
        (!node.link.refusing()).then_some(())
    })
    .await;
    // The moment the cluster accepts again (the wait above polls, so it may see it a little late); taken
    // before `refuse_for`, so the time to follow is counted from a hair early, never late.
    let back = down + outage;
    let attempts = node.link.refused() - refused_before;
    eventually("the archive to see its cluster again", WAIT, || async {
        (reachable().await.as_deref() == Some("True")).then_some(())
    })
    .await;
    let took = back.elapsed();
    let minutes = outage.as_secs_f64() / 60.0;
    println!(
        "  outage: cluster of {tenant} refused every connection for {} s (reported unreachable after {:.1} s); \
         the operator tried it {attempts} times meanwhile ({:.1} a minute)",
        outage.as_secs(),
        noticed.as_secs_f64(),
        attempts as f64 / minutes
    );
    println!(
        "    status followed {:.2} s after the cluster came back; target ≤ {} s — {}",
        took.as_secs_f64(),
        BACK_WITHIN.as_secs(),
        verdict(took <= BACK_WITHIN)
    );
}

/// The name of `tenant`'s LogBackup (its strategy made it).
async fn archive_of(logs: &Api<DynamicObject>, tenant: &str) -> String {
    eventually("the tenant's LogBackup", WAIT, || async {
        let list = logs.list(&Default::default()).await.ok()?;
        list.items
            .into_iter()
            .find(|l| l.data["spec"]["tenant"] == tenant)
            .and_then(|l| l.metadata.name)
    })
    .await
}
