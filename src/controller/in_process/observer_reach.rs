//! How much each observer read asks for (`src/observer/cadence.rs`), seen at the scripted cluster: a
//! running backup alone has its job read at every cycle and tenants, rounds and delete jobs every few; an
//! object waiting on those has them read at every cycle.

use std::time::Duration;

use super::{Rig, ready_cluster};
use crate::{
    observer::{Interest, ObjectKey, PollIntervals},
    oceanbase::Reach,
    timing::CHANGING_EVERY,
};

fn object(kind: &'static str) -> ObjectKey {
    ObjectKey {
        kind,
        namespace: "ns".into(),
        name: "a".into(),
    }
}

/// The reaches of the reads after the first `from`, once `count` more were made (one a second: the
/// clock is paused, so the wait is not real).
async fn reaches_after(rig: &Rig, from: usize, count: usize) -> Vec<Reach> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(2 * count as u64 + 10);
    loop {
        let reaches = rig.cluster.reaches();
        if reaches.len() >= from + count {
            return reaches[from..from + count].to_vec();
        }
        assert!(tokio::time::Instant::now() < deadline, "{reaches:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(start_paused = true)]
async fn a_running_backup_alone_has_its_job_read_each_cycle_and_the_rest_every_few() {
    let rig = Rig::new("BackupTask", ready_cluster());
    let observers = &rig.ctx.observers;
    let observer = rig.observer();
    let running = Interest {
        tenant: "tenant1".into(),
        description: Some("uid-1".into()),
        active: true,
        since: Some(crate::clock::now()),
        ..Interest::default()
    };
    assert!(running.follows_a_job() && !running.waits_on_changes());
    observers.watch(&observer, object("BackupTask"), Some(running));
    let every = CHANGING_EVERY as usize;
    // The first read, and the one the watch asks for, are whole; nothing changes after them.
    let reaches = reaches_after(&rig, 0, 2 + 3 * every).await;
    assert_eq!(reaches[..2], [Reach::Whole, Reach::Whole]);
    let changing: Vec<usize> = (2..reaches.len())
        .filter(|&i| reaches[i] == Reach::Changing)
        .collect();
    assert_eq!(
        changing,
        [1 + every, 1 + 2 * every, 1 + 3 * every],
        "{reaches:?}"
    );
    assert!(
        reaches[2..].iter().all(|r| *r != Reach::Whole),
        "nothing changed: {reaches:?}"
    );
    assert_eq!(
        PollIntervals::default().changing(),
        Duration::from_secs(CHANGING_EVERY.into())
    );

    // A log backup starting waits on its round: every read carries it from now on.
    let starting = Interest {
        tenant: "tenant1".into(),
        active: true,
        ..Interest::default()
    };
    assert!(starting.waits_on_changes());
    observers.watch(&observer, object("LogBackup"), Some(starting));
    let from = rig.cluster.reaches().len() + 1;
    let reaches = reaches_after(&rig, from, 2 * every).await;
    assert!(reaches.iter().all(|r| *r >= Reach::Changing), "{reaches:?}");
}

/// A cluster that cannot be read is tried once per backoff step (2 s, 4 s, then every 5 s), however often the
/// objects watching it change what they watch: a poke does not cut the backoff short (each cut it short
/// before, one more connection attempt each, so a cluster down for minutes saw more than one a step).
#[tokio::test(start_paused = true)]
async fn an_unreachable_cluster_is_tried_once_per_backoff_step_however_often_it_is_poked() {
    let rig = Rig::new("LogBackup", ready_cluster());
    let observers = &rig.ctx.observers;
    let observer = rig.observer();
    let interest = |second: u64| Interest {
        tenant: "tenant1".into(),
        description: Some(format!("uid-{second}")),
        active: true,
        ..Interest::default()
    };
    observers.watch(&observer, object("LogBackup"), Some(interest(0)));
    reaches_after(&rig, 0, 2).await;
    rig.cluster.set_down(true);
    let before = rig.cluster.reads();
    let outage = 60;
    for second in 1..=outage {
        tokio::time::sleep(Duration::from_secs(1)).await;
        observers.watch(&observer, object("LogBackup"), Some(interest(second)));
    }
    let tried = rig.cluster.reads() - before;
    let steps = outage / crate::timing::UNREACHABLE_BACKOFF_MAX.as_secs() + 3;
    assert!(
        tried <= steps,
        "{tried} attempts in {outage} s, more than one per backoff step ({steps})"
    );
    rig.cluster.set_down(false);
    let after = rig.cluster.reaches().len();
    let back = reaches_after(&rig, after, 1).await;
    assert_eq!(back, [Reach::Whole], "the read after an outage is whole");
}
