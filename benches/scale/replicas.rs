//! The measured operator: one process as deployed, or `BENCH_REPLICAS` replicas sharing `BENCH_SHARDS` shards
//! (`--shards`, `--replicas`), started cold at once; what each holds, and the takeover of a killed one's
//! shards.

use std::{
    path::Path,
    time::{Duration, Instant},
};

use kube::Client;
use ob_backup_operator::shards::lease_name;

use super::{WAIT, estate::Estate, measure};
use crate::support::cluster::{ControlPlane, OperatorProcess, eventually, leader_of};

/// The measured replicas, in start order; a killed one stays in place, marked.
pub struct Replicas {
    processes: Vec<OperatorProcess>,
    identities: Vec<String>,
    killed: Option<usize>,
    /// The shards' Leases are named after this (shard 0's is this name).
    lease: String,
    shards: u32,
}

impl Replicas {
    /// Starts `replicas` replicas at once over the estate's namespaces, with the deployed settings
    /// ([`ControlPlane::start_operator_production_in`]); one replica over one shard is the deployment
    /// without sharding, started exactly as the single-replica run always was.
    pub fn start(plane: &ControlPlane, estate: &Estate, replicas: u32, shards: u32) -> Self {
        Self::launch(plane, estate, (replicas, shards), None)
    }

    /// One replica without sharding, as [`Self::start`] starts it, running `binary` instead, named for the
    /// `run`-th start over the estate (1 and on: the first start is [`Self::start`]'s).
    pub fn start_binary(plane: &ControlPlane, estate: &Estate, binary: &Path, run: usize) -> Self {
        Self::launch(plane, estate, (1, 1), Some((binary, run)))
    }

    fn launch(
        plane: &ControlPlane,
        estate: &Estate,
        (replicas, shards): (u32, u32),
        binary: Option<(&Path, usize)>,
    ) -> Self {
        let lease = estate.namespaces[0].clone();
        let extra: Vec<String> = if replicas == 1 && shards == 1 {
            Vec::new()
        } else {
            [
                "--shards",
                &shards.to_string(),
                "--replicas",
                &replicas.to_string(),
            ]
            .map(String::from)
            .to_vec()
        };
        let identities: Vec<String> = match (replicas, binary) {
            (1, None) => vec![format!("{lease}-a")],
            (1, Some((_, run))) => vec![format!("{lease}-a{run}")],
            (n, _) => (1..=n).map(|k| format!("{lease}-r{k}")).collect(),
        };
        let processes = identities
            .iter()
            .map(|identity| {
                plane.start_operator_binary_in(
                    binary.map(|(path, _)| path.as_os_str()),
                    &estate.watched(),
                    &lease,
                    identity,
                    &extra,
                )
            })
            .collect();
        Self {
            processes,
            identities,
            killed: None,
            lease,
            shards,
        }
    }

    /// Stops every live replica (SIGTERM: each gives its Leases back).
    pub async fn stop(&mut self) {
        for (k, process) in self.processes.iter_mut().enumerate() {
            if Some(k) != self.killed {
                process.terminate(Duration::from_secs(30)).await;
            }
        }
    }

    /// Whether one of them was killed.
    pub fn killed(&self) -> bool {
        self.killed.is_some()
    }

    pub fn len(&self) -> usize {
        self.processes.len()
    }

    pub fn identity(&self, k: usize) -> &str {
        &self.identities[k]
    }

    /// The replicas still running, with their index.
    pub fn live(&self) -> impl Iterator<Item = (usize, &OperatorProcess)> {
        self.processes
            .iter()
            .enumerate()
            .filter(|(k, _)| Some(*k) != self.killed)
    }

    /// How long each replica took to answer `/readyz` with 200, from `start`.
    pub async fn ready_after(&self, start: Instant) -> Vec<Duration> {
        let mut ready: Vec<Option<Duration>> = vec![None; self.len()];
        eventually("every replica's /readyz", WAIT, || {
            for (k, operator) in self.processes.iter().enumerate() {
                if ready[k].is_none() && operator.get("/readyz").map(|(c, _)| c) == Some(200) {
                    ready[k] = Some(start.elapsed());
                }
            }
            let all: Option<Vec<Duration>> = ready.iter().copied().collect();
            async move { all }
        })
        .await
    }

    /// Waits until the live replicas' gauge `metric` (`obbackup_shards_held`, `obbackup_shards_filled`) adds
    /// up to every shard.
    pub async fn until_every_shard(&self, metric: &str, what: &str) {
        eventually(what, WAIT, || async {
            let shards: f64 = self
                .live()
                .map(|(_, r)| r.metric(metric).unwrap_or(0.0))
                .sum();
            (shards == f64::from(self.shards)).then_some(())
        })
        .await;
    }

    /// The shards each replica holds, by the Leases' holders.
    pub async fn held(&self, admin: &Client, lease_namespace: &str) -> Vec<Vec<u32>> {
        let mut held = vec![Vec::new(); self.len()];
        for shard in 0..self.shards {
            let holder = leader_of(admin, lease_namespace, &lease_name(&self.lease, shard)).await;
            if let Some(k) = self
                .identities
                .iter()
                .position(|i| Some(i) == holder.as_ref())
            {
                held[k].push(shard);
            }
        }
        held
    }

    /// The sum over the live replicas of `read`.
    pub fn sum(&self, read: impl Fn(&OperatorProcess) -> f64) -> f64 {
        self.live().map(|(_, r)| read(r)).sum()
    }

    /// Reconciles of `kind` so far, all replicas (each counts only its own shards' objects).
    pub fn reconciles(&self, kind: &str) -> f64 {
        self.sum(|r| measure::reconciles(r, kind))
    }

    /// Kills replica `k` with SIGKILL (its Leases are not given back) and returns when.
    pub fn kill(&mut self, k: usize) -> Instant {
        self.processes[k].kill();
        self.killed = Some(k);
        Instant::now()
    }
}
