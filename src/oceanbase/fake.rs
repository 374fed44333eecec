//! A scripted OceanBase for the in-process tests: it serves the snapshot the test sets, records every batch
//! of statements in a [`Journal`] it shares with the fake API (so a test sees what went where in what order),
//! and answers statements with the outcomes the test queued (success when none is queued). Tests describe
//! the snapshots they need with [`snapshot`] (a [`SnapshotBuilder`]) and the rows [`tenant`] and [`round`].

use crate::sync::lock;
use std::{
    collections::VecDeque,
    sync::{Arc, Mutex},
};

use futures::future::BoxFuture;
use serde_json::Value;

use super::{
    ArchiveDest, ArchiveRound, BackupJobRow, BackupProgress, BackupSetRow, CleanJobRow, Connect,
    ConnectionInfo, ObError, OceanBase, RestoreJobRow, Snapshot, SnapshotRequest, State, TenantRow,
};

/// One side effect, in the order it happened.
#[derive(Clone, Debug, PartialEq)]
pub enum Entry {
    /// A status written to the API: the object's path and the status sent.
    Status { object: String, status: Value },
    /// An Event published, by reason.
    Event { reason: String },
    /// A batch of statements sent to OceanBase.
    Sql(Vec<String>),
}

/// What the fakes saw, shared between them.
#[derive(Clone, Debug, Default)]
pub struct Journal(Arc<Mutex<Vec<Entry>>>);

impl Journal {
    /// Records `entry`.
    pub fn push(&self, entry: Entry) {
        lock(&self.0).push(entry);
    }

    /// Everything recorded so far.
    pub fn entries(&self) -> Vec<Entry> {
        lock(&self.0).clone()
    }

    /// How many entries were recorded so far (to look at what came after).
    pub fn len(&self) -> usize {
        lock(&self.0).len()
    }

    /// Whether nothing was recorded.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The statements sent so far, each batch joined with `; `.
    pub fn statements(&self) -> Vec<String> {
        lock(&self.0)
            .iter()
            .filter_map(|e| match e {
                Entry::Sql(batch) => Some(batch.join("; ")),
                _ => None,
            })
            .collect()
    }
}

/// A cluster serving a scripted snapshot.
#[derive(Debug, Default)]
pub struct FakeCluster {
    snapshot: Mutex<Snapshot>,
    outcomes: Mutex<VecDeque<Result<(), ObError>>>,
    /// The reach of each read so far.
    reads: Mutex<Vec<super::Reach>>,
    journal: Journal,
    identity: Mutex<super::ClusterIdentity>,
    /// While set, every read and batch fails as an unreachable cluster's does (each read still counted in
    /// `reads`; a batch not journalled, as it never reached the cluster).
    down: Mutex<bool>,
}

impl FakeCluster {
    /// A cluster showing `snapshot`, recording into `journal`.
    pub fn new(snapshot: Snapshot, journal: Journal) -> Arc<Self> {
        Arc::new(Self {
            snapshot: Mutex::new(snapshot),
            journal,
            ..Self::default()
        })
    }

    /// Makes the cluster say it is `identity` from now on.
    pub fn set_identity(&self, identity: super::ClusterIdentity) {
        *lock(&self.identity) = identity;
    }

    /// Changes what the cluster shows from the next read on.
    pub fn change(&self, edit: impl FnOnce(&mut Snapshot)) {
        edit(&mut lock(&self.snapshot));
    }

    /// The next batch of statements gets `outcome` (batches after it succeed unless queued too).
    pub fn answer_next(&self, outcome: Result<(), ObError>) {
        lock(&self.outcomes).push_back(outcome);
    }

    /// Makes every read and batch fail as an unreachable cluster's does (`true`), or succeed again.
    pub fn set_down(&self, down: bool) {
        *lock(&self.down) = down;
    }

    /// How many snapshots were read (or tried, while down) so far.
    pub fn reads(&self) -> u64 {
        lock(&self.reads).len() as u64
    }

    /// The reach of each read so far, in order.
    pub fn reaches(&self) -> Vec<super::Reach> {
        lock(&self.reads).clone()
    }
}

impl OceanBase for FakeCluster {
    fn snapshot<'a>(
        &'a self,
        request: SnapshotRequest<'a>,
    ) -> BoxFuture<'a, Result<Snapshot, ObError>> {
        lock(&self.reads).push(request.reach);
        if *lock(&self.down) {
            return Box::pin(async { Err(refused()) });
        }
        let mut snapshot = lock(&self.snapshot).clone();
        // As the real reader: only what was asked for is known to be absent.
        snapshot.searched = request.descriptions.iter().cloned().collect();
        snapshot.restores_read = request.reads_restores();
        snapshot.drop_unread_parts(request.reach);
        Box::pin(async move { Ok(snapshot) })
    }

    fn execute<'a>(&'a self, statements: &'a [String]) -> BoxFuture<'a, Result<(), ObError>> {
        if *lock(&self.down) {
            return Box::pin(async { Err(refused()) });
        }
        self.journal.push(Entry::Sql(statements.to_vec()));
        let outcome = lock(&self.outcomes).pop_front().unwrap_or(Ok(()));
        Box::pin(async move { outcome })
    }

    fn round_trips(&self) -> (u64, u64) {
        (0, 0)
    }

    fn identity(&self) -> BoxFuture<'_, Result<super::ClusterIdentity, ObError>> {
        let identity = lock(&self.identity).clone();
        Box::pin(async move { Ok(identity) })
    }
}

/// What a read or batch of a cluster that is down gets.
fn refused() -> ObError {
    ObError::Unreachable("connection refused".into())
}

/// Connects every cluster to one [`FakeCluster`].
pub struct FakeConnect(pub Arc<FakeCluster>);

impl Connect for FakeConnect {
    fn connect(&self, _: &ConnectionInfo) -> Arc<dyn OceanBase> {
        self.0.clone()
    }
}

/// A snapshot for a test, described row by row; what a test does not name is as in `Snapshot::default()`,
/// so a field added to the snapshot is added here, not in every test.
#[derive(Clone, Debug, Default)]
pub struct SnapshotBuilder(Snapshot);

/// An empty snapshot to describe.
pub fn snapshot() -> SnapshotBuilder {
    SnapshotBuilder::default()
}

impl SnapshotBuilder {
    /// `ob_version()`.
    pub fn version(mut self, version: &str) -> Self {
        self.0.version = version.into();
        self
    }

    /// A user tenant.
    pub fn tenant(mut self, row: TenantRow) -> Self {
        self.0.tenants.push(row);
        self
    }

    /// A tenant's archive round.
    pub fn round(mut self, row: ArchiveRound) -> Self {
        self.0.rounds.push(row);
        self
    }

    /// A tenant's log archive destination.
    pub fn archive_dest(mut self, tenant_id: i64, dest: ArchiveDest) -> Self {
        self.0.archive_dests.push((tenant_id, dest));
        self
    }

    /// A unit of the tenant on the server at `ip`.
    pub fn unit(mut self, tenant_id: i64, ip: &str) -> Self {
        self.0.units.push((tenant_id, ip.into()));
        self
    }

    /// A tenant's data backup destination.
    pub fn data_dest(mut self, tenant_id: i64, uri: &str) -> Self {
        self.0.data_dests.push((tenant_id, uri.into()));
        self
    }

    /// Backup jobs.
    pub fn jobs(mut self, jobs: Vec<BackupJobRow>) -> Self {
        self.0.jobs.extend(jobs);
        self
    }

    /// A backup job's task row.
    pub fn progress(mut self, row: BackupProgress) -> Self {
        self.0.progress.push(row);
        self
    }

    /// A backup set.
    pub fn set(mut self, row: BackupSetRow) -> Self {
        self.0.sets.push(row);
        self
    }

    /// Delete jobs.
    pub fn clean_jobs(mut self, jobs: Vec<CleanJobRow>) -> Self {
        self.0.clean_jobs.extend(jobs);
        self
    }

    /// Restores (read: see [`Self::restores_read`]).
    pub fn restores(mut self, restores: Vec<RestoreJobRow>) -> Self {
        self.0.restores.extend(restores);
        self
    }

    /// A description this read looked for.
    pub fn searched(mut self, description: &str) -> Self {
        self.0.searched.insert(description.into());
        self
    }

    /// This read read restores.
    pub fn restores_read(mut self) -> Self {
        self.0.restores_read = true;
        self
    }

    /// The snapshot described.
    pub fn build(self) -> Snapshot {
        self.0
    }
}

/// Tenant `name` (`id`): NORMAL, PRIMARY, archiving. A test changes what it needs with `..tenant(…)`.
pub fn tenant(id: i64, name: &str) -> TenantRow {
    TenantRow {
        id,
        name: name.into(),
        status: State::of("NORMAL"),
        role: State::of("PRIMARY"),
        archivelog: true,
    }
}

/// Round 1 of tenant `tenant_id` in `status`, from SCN 1 to the checkpoint SCN 2, under `file:///archive`.
pub fn round(tenant_id: i64, status: &str) -> ArchiveRound {
    ArchiveRound {
        tenant_id,
        round_id: 1,
        status: State::of(status),
        start_scn: 1,
        checkpoint_scn: 2,
        path: "file:///archive".into(),
        comment: String::new(),
    }
}
