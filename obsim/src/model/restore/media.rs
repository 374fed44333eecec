//! What a restore reads (docs/reference/oceanbase-interface.md §6.2): the source tenant whose backup sets
//! and archive pieces lie under the `FROM` URIs — where this cluster wrote them, or a copy of them read
//! from its files — with the tenant's users, which a physical restore brings back as data of the tenant.

use std::collections::BTreeMap;

use super::super::{
    Cluster, Tenant, TenantType, Version, archive::Piece, backup::BackupSet, strip_credentials,
};

/// What a cluster holds under a restore's FROM URIs: one source tenant's backup sets and archive pieces.
#[derive(Clone, Debug)]
pub struct RestoreMedia {
    pub cluster_name: String,
    pub cluster_version: Version,
    pub tenant_name: String,
    pub tenant_id: i64,
    pub data_bytes: u64,
    /// Sets under the data URI, each with the password it was encrypted with.
    pub sets: Vec<(BackupSet, Option<String>)>,
    /// Pieces under the archive URI.
    pub pieces: Vec<Piece>,
    /// Pieces the views list whose files are gone from the destination (the `lose-archive-piece` fault):
    /// a restore finds out only when its log restore reads one.
    pub lost_pieces: Vec<i64>,
    /// The source tenant's users and their passwords: a physical restore brings them back, as data of the
    /// tenant (docs/reference/oceanbase-interface.md §6.7). Simplified: the users as they are when the
    /// restore starts, not as of its restore point.
    pub users: BTreeMap<String, String>,
}

impl RestoreMedia {
    /// The media of `tenant` of `cluster`: its sets and pieces, to be filled in.
    fn of(cluster: &Cluster, tenant: &Tenant) -> Self {
        Self {
            cluster_name: cluster.name.clone(),
            cluster_version: cluster.version,
            tenant_name: tenant.name.clone(),
            tenant_id: tenant.id,
            data_bytes: tenant.data_bytes,
            sets: Vec::new(),
            pieces: Vec::new(),
            lost_pieces: Vec::new(),
            users: tenant.users.clone(),
        }
    }
}

impl Cluster {
    /// The source tenant whose data backups and archive live under the FROM URIs, if this cluster has one.
    pub fn restore_media(&self, from: &[String]) -> Option<RestoreMedia> {
        let uris: Vec<String> = from
            .iter()
            .map(|u| strip_credentials(u).trim_end_matches('/').to_string())
            .collect();
        self.media_where_written(&uris)
            .or_else(|| self.media_copied(from))
    }

    /// The source tenant whose sets and pieces this cluster wrote under the URIs.
    fn media_where_written(&self, uris: &[String]) -> Option<RestoreMedia> {
        let under = |path: &str| {
            uris.iter()
                .any(|u| path == u || path.starts_with(&format!("{u}/")))
        };
        self.tenants
            .iter()
            .filter(|t| t.kind == TenantType::User)
            .find_map(|tenant| {
                let sets: Vec<_> = tenant
                    .backups
                    .sets
                    .iter()
                    .filter(|s| under(&s.path))
                    .map(|s| (s.clone(), set_password(tenant, s.backup_set_id, true)))
                    .collect();
                let pieces: Vec<_> = tenant
                    .archive
                    .pieces()
                    .into_iter()
                    .filter(|p| under(&strip_credentials(&p.path)))
                    .collect();
                (!sets.is_empty() && !pieces.is_empty()).then(|| RestoreMedia {
                    sets,
                    pieces,
                    lost_pieces: tenant.archive.lost_pieces.clone(),
                    ..RestoreMedia::of(self, tenant)
                })
            })
    }

    /// A copy of a tenant's sets and pieces (a second destination) under the FROM URIs (with their keys),
    /// read from its files: the sets copied whole, the pieces up to the checkpoint the copy holds. What the
    /// copy lacks is not found at all, so nothing in it is lost.
    fn media_copied(&self, from: &[String]) -> Option<RestoreMedia> {
        let found = self.files.as_ref()?.read_tree(from)?;
        let tenant = self
            .tenants
            .iter()
            .find(|t| t.id == found.tenant_id && t.kind == TenantType::User)?;
        let sets = tenant
            .backups
            .sets
            .iter()
            .filter(|s| found.sets.contains(&s.backup_set_id) && s.status == "SUCCESS")
            .map(|s| {
                let copied = BackupSet {
                    file_status: "AVAILABLE",
                    ..s.clone()
                };
                (copied, set_password(tenant, s.backup_set_id, false))
            })
            .collect();
        let pieces: Vec<Piece> = tenant
            .archive
            .pieces()
            .into_iter()
            .filter_map(|p| {
                let (_, checkpoint) = found.pieces.iter().find(|(id, _)| *id == p.piece_id)?;
                Some(Piece {
                    checkpoint_scn: p.checkpoint_scn.min(*checkpoint).max(p.start_scn),
                    file_status: "AVAILABLE",
                    ..p
                })
            })
            .collect();
        (!pieces.is_empty()).then(|| RestoreMedia {
            sets,
            pieces,
            ..RestoreMedia::of(self, tenant)
        })
    }
}

/// The password backup set `id` of `tenant` was encrypted with, from the job that wrote it (a running job
/// too when `running`).
fn set_password(tenant: &Tenant, id: i64, running: bool) -> Option<String> {
    let running: &[_] = if running { &tenant.backups.jobs } else { &[] };
    tenant
        .backups
        .history
        .iter()
        .chain(running)
        .find(|j| j.backup_set_id == id)
        .and_then(|j| j.password.clone())
}
