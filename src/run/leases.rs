//! The shards' Leases (docs/operations/scaling.md): a replica contends for at most its share of the
//! shards (`ceil(shards / replicas)`), starting from a shard its identity picks so that replicas starting
//! together try different ones; it stops contending for a shard another replica holds, and takes a shard
//! beyond its share only once it has been free for a whole lease duration (its replica is gone, and the
//! survivors already hold their share). A replica that comes back within that time takes its shards again.
//! One Lease manager per contended shard does the holding and renewing; losing a held shard ends the
//! replica ([`super::RunError::LostLeadership`]), so no two replicas ever act on one shard.

use std::{collections::BTreeMap, sync::Arc, time::Duration};

use k8s_openapi::api::coordination::v1::Lease;
use kube::{Api, Client};
use kube_lease_manager::{LeaseManager, LeaseManagerBuilder, LeaseManagerError};
use tokio::{sync::watch, task::JoinHandle, time::Instant};

use super::{RunConfig, RunError};
use crate::shards::{Shards, lease_field_manager, lease_name};

/// The Lease managers of the shards this replica contends for.
pub struct ShardLeases {
    client: Client,
    config: RunConfig,
    shards: Arc<Shards>,
    /// How many shards this replica takes while every replica runs.
    share: u32,
    contending: BTreeMap<u32, Contender>,
    /// Since when each shard not contended was seen free.
    free_since: BTreeMap<u32, Instant>,
    /// How many shards the last round found held by other replicas.
    held_elsewhere: u32,
}

struct Contender {
    leading: watch::Receiver<bool>,
    task: JoinHandle<Result<LeaseManager, LeaseManagerError>>,
}

impl ShardLeases {
    /// The leases of `shards` for this replica (one of `config.replicas`).
    pub fn new(client: Client, config: RunConfig, shards: Arc<Shards>) -> Self {
        let share = shards.count().div_ceil(config.replicas.max(1));
        Self {
            client,
            config,
            shards,
            share,
            contending: BTreeMap::new(),
            free_since: BTreeMap::new(),
            held_elsewhere: 0,
        }
    }

    /// One round: records the shards won, stops contending for those another replica holds, and starts
    /// contending for free ones as the share allows. Fails only when a held shard was lost.
    pub async fn step(&mut self) -> Result<(), RunError> {
        self.follow_contenders().await?;
        let leases: Api<Lease> = Api::namespaced(self.client.clone(), &self.config.lease_namespace);
        let count = self.shards.count();
        let start = self.shards.of(&self.config.identity);
        self.held_elsewhere = 0;
        for shard in (0..count).map(|i| (start + i) % count) {
            if self.contending.contains_key(&shard) {
                continue;
            }
            if held_by_another(&leases, &self.config, shard).await {
                self.free_since.remove(&shard);
                self.held_elsewhere += 1;
                continue;
            }
            let since = *self.free_since.entry(shard).or_insert_with(Instant::now);
            let orphaned = since.elapsed() >= self.config.lease_duration;
            if self.contended() < self.share || orphaned {
                match self.contend(shard).await {
                    Ok(()) => {
                        self.free_since.remove(&shard);
                    }
                    Err(error) => {
                        tracing::warn!(shard, %error, "cannot contend for the shard's lease")
                    }
                }
            }
        }
        Ok(())
    }

    /// Whether the last round found every shard held by other replicas (this one is a standby).
    pub fn all_held_elsewhere(&self) -> bool {
        self.held_elsewhere == self.shards.count()
    }

    /// Records the shards won; fails when a held one was lost; stops contending for a shard another
    /// replica holds.
    async fn follow_contenders(&mut self) -> Result<(), RunError> {
        let leases: Api<Lease> = Api::namespaced(self.client.clone(), &self.config.lease_namespace);
        let mut given_up = Vec::new();
        for (shard, contender) in &mut self.contending {
            // A manager that stopped (its task failed) holds nothing any more.
            let leading = *contender.leading.borrow_and_update() && !contender.task.is_finished();
            match (leading, self.shards.is_held(*shard)) {
                (true, false) => {
                    tracing::info!(shard, "took the shard's lease");
                    self.shards.take(*shard);
                }
                (false, true) => return Err(RunError::LostLeadership),
                (false, false)
                    if contender.task.is_finished()
                        || held_by_another(&leases, &self.config, *shard).await =>
                {
                    given_up.push(*shard);
                }
                _ => {}
            }
        }
        for shard in given_up {
            if let Some(contender) = self.contending.remove(&shard) {
                drop(contender.leading);
                contender.task.abort();
            }
        }
        Ok(())
    }

    /// How many shards this replica contends for (held or not).
    fn contended(&self) -> u32 {
        u32::try_from(self.contending.len()).unwrap_or(u32::MAX)
    }

    /// Starts holding `shard`'s Lease as soon as it is free.
    async fn contend(&mut self, shard: u32) -> Result<(), LeaseManagerError> {
        let config = &self.config;
        let manager =
            LeaseManagerBuilder::new(self.client.clone(), lease_name(&config.lease_name, shard))
                .with_namespace(&config.lease_namespace)
                .with_identity(&config.identity)
                .with_field_manager(lease_field_manager(&config.identity))
                .with_duration(config.lease_duration.as_secs())
                .with_grace(config.lease_grace.as_secs())
                .build()
                .await?;
        let (leading, task) = manager.watch().await;
        self.contending.insert(shard, Contender { leading, task });
        Ok(())
    }

    /// Waits until a contended Lease changes hands or `every` has passed.
    pub async fn changed(&mut self, every: Duration) {
        if self.contending.is_empty() {
            tokio::time::sleep(every).await;
            return;
        }
        let changes = self
            .contending
            .values_mut()
            .map(|c| Box::pin(c.leading.changed()));
        let _ = tokio::time::timeout(every, futures::future::select_all(changes)).await;
    }

    /// Gives every Lease back (each manager releases its own on the way out), waiting up to `timeout`.
    pub async fn release(self, timeout: Duration) {
        let tasks: Vec<_> = self
            .contending
            .into_values()
            .map(|c| {
                drop(c.leading);
                c.task
            })
            .collect();
        match tokio::time::timeout(timeout, futures::future::join_all(tasks)).await {
            Ok(results) => {
                for result in results {
                    match result {
                        Ok(Ok(_)) => {}
                        Ok(Err(error)) => tracing::warn!(%error, "could not release a lease"),
                        Err(error) => tracing::warn!(%error, "a lease task failed"),
                    }
                }
                tracing::info!("leases released");
            }
            Err(_) => {
                tracing::warn!(?timeout, "gave up releasing the leases; they will expire");
            }
        }
    }
}

/// Whether another replica holds `shard`'s Lease and has renewed it within its duration.
pub async fn held_by_another(leases: &Api<Lease>, config: &RunConfig, shard: u32) -> bool {
    let Ok(Some(lease)) = leases.get_opt(&lease_name(&config.lease_name, shard)).await else {
        return false;
    };
    let Some(spec) = lease.spec else {
        return false;
    };
    let holder = spec.holder_identity.unwrap_or_default();
    let duration = spec
        .lease_duration_seconds
        .map_or(config.lease_duration, |s| {
            Duration::from_secs(u64::try_from(s).unwrap_or_default())
        });
    let renewed = spec.renew_time.map(|t| t.0);
    !holder.is_empty()
        && holder != config.identity
        && renewed.is_some_and(|at| {
            jiff::Timestamp::now().duration_since(at)
                < jiff::SignedDuration::try_from(duration).unwrap_or_default()
        })
}
