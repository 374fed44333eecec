//! What one cached object costs in memory, counted (not timed), so that a change that grows it fails here
//! rather than in the benchmark (docs/contributing/benchmarks.md): a finished BackupTask as the operator caches
//! it — deserialized from the API's JSON and trimmed as its controllers trim every cached object — counted by
//! an allocator that adds up what is allocated. A finished task is what a large estate holds by the thousand.
//! Its own test binary: the counting allocator is the process's.

use std::alloc::System;

use ob_backup_operator::controller::guarded::Guarded;
use ob_backup_operator::{api::BackupTask, controller::runtime::trim_cached};
use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};

#[global_allocator]
static ALLOCATOR: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

/// The most a cached finished BackupTask may cost, in bytes requested from the allocator (the allocator's
/// own overhead comes on top). Measured 2026-11-26: 1 780 bytes, 872 of them the struct itself (metadata
/// 360, spec 144, status 368) and the rest its strings, maps and lists. It was 3 581 (struct 1 392) while the
/// cache kept every annotation and a settled task's conditions, and the spec's and status's optional parts
/// (cluster, logical spec, second copy, logical status) were held inline rather than boxed. Lower it when a
/// change makes the object smaller; raise it only with a reason written here.
const MOST_BYTES_PER_TASK: isize = 1_850;

const OBJECTS: isize = 1_000;

#[test]
fn a_cached_finished_backup_task_costs_at_most_its_budget() {
    let json: serde_json::Value =
        serde_json::from_str(include_str!("cache_bytes/finished-backuptask.json")).expect("JSON");
    let region = Region::new(ALLOCATOR);
    let cached: Vec<Guarded<BackupTask>> = (0..OBJECTS)
        .map(|i| {
            let mut object = json.clone();
            object["metadata"]["name"] = format!("nightly-tenant1-{i}").into();
            // As a watch receives it: text.
            let text = object.to_string();
            drop(object);
            let mut task: Guarded<BackupTask> = serde_json::from_str(&text).expect("a BackupTask");
            trim_cached(&mut task);
            task
        })
        .collect();
    let change = region.change();
    // stats_alloc counts a reallocation's growth (or shrinking) in the allocated (or deallocated) bytes
    // already: adding `bytes_reallocated` would count it twice.
    let live = change.bytes_allocated as isize - change.bytes_deallocated as isize;
    let per_task = live / OBJECTS;
    if let Some(Err(error)) = cached.first().map(|t| &t.0) {
        panic!("the fixture is no BackupTask: {error:?}");
    }
    println!(
        "a cached finished BackupTask: {per_task} bytes, {} of them the struct itself",
        std::mem::size_of::<Guarded<BackupTask>>()
    );
    assert!(
        per_task <= MOST_BYTES_PER_TASK,
        "a cached finished BackupTask costs {per_task} bytes, over its budget of {MOST_BYTES_PER_TASK}"
    );
}
