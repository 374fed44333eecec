//! The OceanBase clusters of a run, and the fleet target of issue 38: 500 clusters × 10 tenants on one
//! operator within 256 MiB, one connection per cluster at most, the idle SQL per cluster unchanged.

use std::{collections::BTreeSet, sync::Arc, time::Duration};

use kube::Client;
use obsim::sim::Node;

use super::{
    TENANTS_PER_CLUSTER,
    estate::Estate,
    measure::{mib, verdict},
};
use crate::support::simulator::{self, connection_secret};

/// The fleet target's size.
const FLEET_CLUSTERS: usize = 500;
/// Its memory bound, steady.
const FLEET_MEMORY: u64 = 256 << 20;
/// How far the idle SQL per cluster may stray from one observer cycle per active poll.
const SQL_TOLERANCE: f64 = 0.05;

/// The OceanBase clusters of a run, [`TENANTS_PER_CLUSTER`] tenants each, in order: tenant `t{i}` is on
/// cluster `ob{(i - 1) / 10 + 1}`, reached through the Secret of that name in its tenants' namespace.
pub struct Fleet {
    nodes: Vec<Arc<Node>>,
}

impl Fleet {
    /// Starts the clusters holding `tenants` and writes their connection Secrets. Real-time clocks, so
    /// archiving advances; 1 GiB tenants, so the one backup that runs to completion for the template takes
    /// seconds. The running tasks are held by obsim's stall fault.
    pub async fn start(admin: &Client, estate: &Estate, tenants: &[String]) -> Self {
        let mut nodes = Vec::new();
        for (k, share) in tenants.chunks(TENANTS_PER_CLUSTER).enumerate() {
            let name = format!("ob{}", k + 1);
            let share: Vec<&str> = share.iter().map(String::as_str).collect();
            let node = simulator::start(&name, &share, 1 << 30, 1.0).await;
            connection_secret(admin, estate.namespace_of(share[0]), &name, &node).await;
            nodes.push(node);
        }
        Self { nodes }
    }

    /// Connections each cluster has accepted so far (obsim's count: every client's, the setup operator's
    /// too; a connection refused is not counted).
    pub fn connections(&self) -> Vec<u64> {
        self.nodes.iter().map(|n| n.link.accepted()).collect()
    }

    /// What the clusters have answered so far, all together (obsim's counts, whoever sent it and whether
    /// or not the client counted it): commands (each a round trip), the statements they carried, and
    /// the rows sent back.
    pub fn served(&self) -> Served {
        self.nodes.iter().fold(Served::default(), |sum, n| Served {
            commands: sum.commands + n.link.commands(),
            statements: sum.statements + n.link.statements(),
            rows: sum.rows + n.link.rows(),
        })
    }

    /// The cluster holding `tenant`.
    pub fn node(&self, tenant: &str) -> &Arc<Node> {
        &self.nodes[cluster_index(tenant)]
    }
}

/// What clusters answered ([`Fleet::served`]).
#[derive(Clone, Copy, Debug, Default)]
pub struct Served {
    pub commands: u64,
    pub statements: u64,
    pub rows: u64,
}

impl Served {
    /// Per minute over `minutes` since `before`, per cluster of `clusters`: (commands, statements, rows).
    pub fn rates_since(self, before: Served, minutes: f64, clusters: usize) -> (f64, f64, f64) {
        let rate = |now: u64, then: u64| (now - then) as f64 / minutes / clusters as f64;
        (
            rate(self.commands, before.commands),
            rate(self.statements, before.statements),
            rate(self.rows, before.rows),
        )
    }
}

/// Which cluster of the [`Fleet`] holds tenant `t{i}`.
pub fn cluster_index(tenant: &str) -> usize {
    let i: usize = tenant
        .trim_start_matches('t')
        .parse()
        .expect("a tenant named t<number>");
    (i - 1) / TENANTS_PER_CLUSTER
}

/// What the fleet target is judged on, measured over one single-operator run.
pub struct FleetFigures {
    /// The measured operator's largest RSS sampled in the quiet window.
    pub steady: u64,
    /// Connections each cluster accepted from the measured operator's start to the run's end.
    pub accepted: Vec<u64>,
    /// The clusters the run sent statements to after the start (a sample started a backup there).
    pub with_statements: BTreeSet<usize>,
    /// SQL round trips a minute per cluster in the quiet window.
    pub sql_per_cluster: f64,
}

/// Prints the fleet target's lines; judged only at its size (the figures of a smaller run say nothing of
/// 500 clusters), labelled with the run's size otherwise.
pub fn report(fleet: &FleetFigures) {
    let clusters = fleet.accepted.len();
    let at_size = clusters >= FLEET_CLUSTERS;
    let judge = |met: bool| {
        if at_size {
            verdict(met).to_string()
        } else {
            "not judged below the target's size".to_string()
        }
    };
    println!(
        "  fleet, at this run's size ({clusters} clusters × up to {TENANTS_PER_CLUSTER} tenants, one operator; \
         the target's is {FLEET_CLUSTERS} × {TENANTS_PER_CLUSTER}: BENCH_TASKS=5000 BENCH_TASKS_PER_TENANT=1):"
    );
    let memory = fleet.steady <= FLEET_MEMORY;
    println!(
        "    memory: steady RSS {} (max over the window); target ≤ {} — {}",
        mib(fleet.steady),
        mib(FLEET_MEMORY),
        judge(memory)
    );
    let connections = report_connections(fleet, &judge);
    let poll = ob_backup_operator::timing::ACTIVE_POLL;
    let expected = Duration::from_secs(60).as_secs_f64() / poll.as_secs_f64();
    let sql = (fleet.sql_per_cluster - expected).abs() <= expected * SQL_TOLERANCE;
    println!(
        "    idle SQL: {:.1} round trips a minute per cluster in the quiet window; one observer cycle per {:.0} s \
         active poll (each cluster has a task running) is {expected:.1}; target within {:.0} % — {}",
        fleet.sql_per_cluster,
        poll.as_secs_f64(),
        SQL_TOLERANCE * 100.0,
        judge(sql)
    );
    println!(
        "  target: {FLEET_CLUSTERS} OceanBase clusters × {TENANTS_PER_CLUSTER} tenants on one operator ≤ {}, \
         one connection per cluster at most, idle SQL per cluster unchanged — {}",
        mib(FLEET_MEMORY),
        judge(memory && connections && sql)
    );
}

/// Prints the connections the clusters accepted from the measured operator; whether the reads kept to one.
/// The target is about what the operator holds open: the observer's one pooled connection per cluster. A
/// batch of statements runs on a session of its own (its session state, e.g. `SET ENCRYPTION`, must never
/// reach a pooled read), opened for the batch and closed after it; those are shown, not judged.
fn report_connections(fleet: &FleetFigures, judge: &dyn Fn(bool) -> String) -> bool {
    let max_of = |statements: bool| {
        (0..fleet.accepted.len())
            .filter(|k| fleet.with_statements.contains(k) == statements)
            .map(|k| fleet.accepted[k])
            .max()
    };
    let reads = max_of(false);
    let show = |n: Option<u64>| {
        n.map_or("- (every cluster got a statement)".into(), |n| {
            n.to_string()
        })
    };
    println!(
        "    connections accepted by a cluster the run sent no statement to (the observer's reads), the measured \
         operator's start to the run's end: at most {}; target ≤ 1 — {}",
        show(reads),
        judge(reads.is_none_or(|n| n <= 1))
    );
    println!(
        "      and {} clusters where a sample started a backup: at most {} (the read connection, and one session \
         per batch of statements, closed after it)",
        fleet.with_statements.len(),
        max_of(true).map_or("-".into(), |n| n.to_string())
    );
    reads.is_none_or(|n| n <= 1)
}
