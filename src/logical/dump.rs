//! Taking a logical dump: plan (schema, snapshot, chunks — [`plan`]), then the chunks in parallel
//! ([`chunk`]), then the manifest. A dump that restarts reads its plan back and writes only the chunks
//! without a `.done` record.

pub(super) mod chunk;
mod plan;

use std::collections::HashMap;

use futures::{StreamExt, TryStreamExt};
use opendal::Operator;
use tokio_util::sync::CancellationToken;

use super::{
    DumpReport, DumpRequest, LogicalError, Progress,
    layout::{
        ChunkDone, DumpOwner, FORMAT_VERSION, Manifest, ObjectManifest, Plan, chunk_done_path,
        load_order, load_order_path, manifest_path, plan_path,
    },
    records::{read_record, write_bytes, write_json},
    session::Sessions,
};

/// A chunk of the plan: its object's index and its own.
type ChunkKey = (usize, usize);

/// Dumps what `request` names into `dir` on `storage`, or finishes the dump an earlier run began there.
/// `progress` is called as chunks finish.
pub async fn dump(
    request: &DumpRequest,
    storage: &Operator,
    dir: &str,
    cancel: &CancellationToken,
    progress: &(dyn Fn(&Progress) + Send + Sync),
) -> Result<DumpReport, LogicalError> {
    let dir = dir.trim_matches('/');
    claim(storage, dir, request.owner.as_ref()).await?;
    if let Some(manifest) = read_record::<Manifest>(storage, &manifest_path(dir)).await? {
        let chunks = manifest.objects.iter().map(|o| o.chunks.len()).sum();
        return Ok(DumpReport {
            manifest,
            chunks_written: 0,
            chunks_resumed: chunks,
        });
    }
    let sessions = Sessions::reading(&request.connection, request.parallel);
    let result = run(&sessions, request, storage, dir, cancel, progress).await;
    sessions.close().await;
    result
}

async fn run(
    sessions: &Sessions,
    request: &DumpRequest,
    storage: &Operator,
    dir: &str,
    cancel: &CancellationToken,
    progress: &(dyn Fn(&Progress) + Send + Sync),
) -> Result<DumpReport, LogicalError> {
    let (plan, made_plan) = plan_or_resume(sessions, request, storage, dir).await?;
    let mut done = finished_chunks(storage, dir, &plan, request.parallel).await?;
    let resumed = done.len();
    let mut tally = Tally::start(&plan, &done, made_plan);
    progress(&tally.state);
    let todo: Vec<ChunkKey> = chunk_keys(&plan)
        .filter(|key| !done.contains_key(key))
        .collect();
    let plan_ref = &plan;
    let mut chunks = futures::stream::iter(todo)
        .map(|(o, c)| async move {
            let written =
                chunk::write_chunk(sessions, storage, dir, plan_ref, o, c, cancel).await?;
            Ok::<_, LogicalError>(((o, c), written))
        })
        .buffer_unordered(request.parallel.max(1));
    while let Some(finished) = chunks.next().await {
        let (key, written) = finished?;
        tally.add(key, &written);
        progress(&tally.state);
        done.insert(key, written);
    }
    drop(chunks);
    let manifest = finish(storage, dir, &plan, &done).await?;
    Ok(DumpReport {
        chunks_written: tally.state.chunks_done - resumed,
        chunks_resumed: resumed,
        manifest,
    })
}

/// The plan an earlier run wrote, or a new one, written with the schema before any chunk; and whether it
/// is new (this run has reached the database).
async fn plan_or_resume(
    sessions: &Sessions,
    request: &DumpRequest,
    storage: &Operator,
    dir: &str,
) -> Result<(Plan, bool), LogicalError> {
    if let Some(plan) = read_record::<Plan>(storage, &plan_path(dir)).await? {
        return Ok((plan, false));
    }
    // No plan, or one cut off while written: no chunk was written under it, but clear what a
    // plan before it may have left, so that no old chunk is ever taken for one of this plan.
    storage
        .delete_with(&format!("{dir}/data/"))
        .recursive(true)
        .await
        .map_err(|e| LogicalError::storage(&e))?;
    let plan = plan::make_plan(sessions, request).await?;
    plan::write_schema(storage, dir, &plan).await?;
    write_json(storage, &plan_path(dir), &plan).await?;
    crate::crash::point("logical/plan/after");
    Ok((plan, true))
}

/// Every chunk of the plan, object by object.
fn chunk_keys(plan: &Plan) -> impl Iterator<Item = ChunkKey> + '_ {
    plan.objects
        .iter()
        .enumerate()
        .flat_map(|(o, object)| (0..object.chunks.len()).map(move |c| (o, c)))
}

/// The progress of a dump under way, and the chunks left per object: an object is done when none is.
struct Tally {
    state: Progress,
    left: Vec<usize>,
}

impl Tally {
    /// The progress of a dump of `plan` whose `done` chunks are written.
    fn start(plan: &Plan, done: &HashMap<ChunkKey, ChunkDone>, database_reached: bool) -> Self {
        let left: Vec<usize> = plan
            .objects
            .iter()
            .enumerate()
            .map(|(o, object)| {
                (0..object.chunks.len())
                    .filter(|c| !done.contains_key(&(o, *c)))
                    .count()
            })
            .collect();
        let state = Progress {
            chunks_done: done.len(),
            chunks_total: plan.chunk_count(),
            rows_done: done.values().map(|d| d.rows).sum(),
            rows_total: plan.total_rows(),
            bytes_done: done.values().map(|d| d.bytes).sum(),
            stored_bytes: done.values().map(|d| d.stored_bytes).sum(),
            tables_done: left.iter().filter(|l| **l == 0).count(),
            tables_total: plan.objects.len(),
            snapshot: Some(plan.snapshot.clone()),
            server_version: Some(plan.server_version.clone()),
            databases: plan.databases.len(),
            database_reached,
        };
        Self { state, left }
    }

    /// Counts the chunk `key`, just written.
    fn add(&mut self, key: ChunkKey, written: &ChunkDone) {
        let state = &mut self.state;
        state.database_reached = true;
        state.chunks_done += 1;
        state.rows_done += written.rows;
        state.bytes_done += written.bytes;
        state.stored_bytes += written.stored_bytes;
        self.left[key.0] -= 1;
        if self.left[key.0] == 0 {
            state.tables_done += 1;
        }
    }
}

/// Writes the load order and then the manifest, which makes the dump finished; returns the manifest.
async fn finish(
    storage: &Operator,
    dir: &str,
    plan: &Plan,
    done: &HashMap<ChunkKey, ChunkDone>,
) -> Result<Manifest, LogicalError> {
    let manifest = manifest(plan, done)?;
    let order = load_order(plan).join("\n") + "\n";
    write_bytes(storage, &load_order_path(dir), order.into_bytes()).await?;
    write_json(storage, &manifest_path(dir), &manifest).await?;
    Ok(manifest)
}

/// Refuses a directory whose plan or manifest records an owner other than `owner`: another task's dump is
/// never resumed, reported as this one's, overwritten or deleted. A dump of an earlier version (no owner
/// recorded) or a dump taken without an owner is not refused.
pub async fn claim(
    storage: &Operator,
    dir: &str,
    owner: Option<&DumpOwner>,
) -> Result<(), LogicalError> {
    let Some(owner) = owner else {
        return Ok(());
    };
    let dir = dir.trim_matches('/');
    let recorded = match read_record::<Manifest>(storage, &manifest_path(dir)).await? {
        Some(manifest) => manifest.owner,
        None => read_record::<Plan>(storage, &plan_path(dir))
            .await?
            .and_then(|plan| plan.owner),
    };
    match recorded {
        Some(other) if !other.same(owner) => Err(LogicalError::Owned(format!(
            "the dump's directory {dir} holds the dump of {other}; it is neither resumed, \
             overwritten nor deleted by {owner}"
        ))),
        _ => Ok(()),
    }
}

/// The `.done` records of the plan's chunks that have one.
async fn finished_chunks(
    storage: &Operator,
    dir: &str,
    plan: &Plan,
    parallel: usize,
) -> Result<HashMap<ChunkKey, ChunkDone>, LogicalError> {
    let keys: Vec<ChunkKey> = chunk_keys(plan).collect();
    let found: Vec<(ChunkKey, Option<ChunkDone>)> = futures::stream::iter(keys)
        .map(|(o, c)| async move {
            let path = chunk_done_path(dir, &plan.objects[o], c);
            Ok::<_, LogicalError>(((o, c), read_record::<ChunkDone>(storage, &path).await?))
        })
        .buffer_unordered(parallel.max(1) * 4)
        .try_collect()
        .await?;
    Ok(found
        .into_iter()
        .filter_map(|(k, d)| d.map(|d| (k, d)))
        .collect())
}

fn manifest(plan: &Plan, done: &HashMap<ChunkKey, ChunkDone>) -> Result<Manifest, LogicalError> {
    let mut objects = Vec::new();
    for (o, object) in plan.objects.iter().enumerate() {
        let chunks = (0..object.chunks.len())
            .map(|c| {
                done.get(&(o, c)).cloned().ok_or_else(|| {
                    LogicalError::Format(format!(
                        "chunk {c} of {}.{} is not written",
                        object.database, object.name
                    ))
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        objects.push(ObjectManifest {
            database: object.database.clone(),
            name: object.name.clone(),
            kind: object.kind,
            rows: chunks.iter().map(|c| c.rows).sum(),
            chunks,
        });
    }
    let sum = |f: fn(&ChunkDone) -> u64| objects.iter().flat_map(|o| &o.chunks).map(f).sum();
    Ok(Manifest {
        format_version: FORMAT_VERSION,
        snapshot: plan.snapshot.clone(),
        server_version: plan.server_version.clone(),
        started_at: plan.started_at.clone(),
        owner: plan.owner.clone(),
        compression: plan.compression,
        databases: plan.databases.iter().map(|d| d.name.clone()).collect(),
        rows: sum(|c| c.rows),
        bytes: sum(|c| c.bytes),
        stored_bytes: sum(|c| c.stored_bytes),
        objects,
    })
}
