//! The operator over a large, old estate (issue 14): N BackupTasks in mixed phases, one strategy (and one
//! archiving tenant) per 100 tasks (`BENCH_TASKS_PER_TENANT`), ten tenants per OceanBase cluster, one task
//! per tenant running. The operator is started cold over them,
//! then left alone for a window that contains every periodic refresh, then timed from OceanBase changes to
//! status. Every figure is printed beside its target.
//!
//! API writes are counted by the API server itself (`apiserver_request_total`), not by the operator.

use std::{
    collections::{BTreeMap, HashMap},
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use futures::StreamExt;
use kube::{
    Api, Client,
    api::{DynamicObject, Patch, PatchParams, PostParams},
    runtime::{WatchStreamExt, watcher},
};
use obsim::sim::Node;
use serde_json::{Value, json};

use crate::support::{
    cluster::{ControlPlane, OperatorProcess, TEST_MANAGER, api_for, apply, eventually},
    rng::Rng,
    simulator::{self, cluster, connection_secret},
};

/// How the scenario is sized (environment variables override the defaults).
pub struct Scale {
    pub tasks: usize,
    /// BackupTasks per strategy (and per tenant).
    pub tasks_per_tenant: usize,
    /// Length of the quiet window, seconds (≥ 600 so that the 5-minute and 1-minute refreshes fall inside;
    /// the small form CI runs takes less and says its per-minute figures are not comparable).
    pub idle: u64,
    /// Latency samples to take.
    pub samples: usize,
}

const WAIT: Duration = Duration::from_secs(300);
/// The setup's waits grow with the tenants: each new strategy and LogBackup writes its status several times
/// in its first minute, through the operator's write budget (50 a second), and the tenants already archiving
/// take their share of the strategy controller's looks; 1 000 new strategies were not all archiving after 10
/// minutes on a loaded 2-core machine.
fn setup_wait(tenants: usize) -> Duration {
    WAIT.max(Duration::from_millis(1200) * u32::try_from(tenants).unwrap_or(u32::MAX))
}
/// Tenants per OceanBase cluster: an estate spreads its tenants over clusters (a cluster's tenants share its
/// servers), and the fleet target counts ten.
const TENANTS_PER_CLUSTER: usize = 10;
/// The operator's active poll (its default).
const ACTIVE_POLL: Duration = ob_backup_operator::timing::ACTIVE_POLL;
/// The latency target: a job's end in its task's status, p99.
const LATENCY_P99: Duration = Duration::from_millis(1500);
/// The readiness target, from the process's start.
const READY_WITHIN: Duration = Duration::from_secs(30);
/// The CPU target in the quiet window, seconds per minute.
const QUIET_CPU_PER_MINUTE: f64 = 5.0;

/// The memory target for `tasks` BackupTasks: 48 MiB up to 10 000, 256 MiB up to 100 000.
fn memory_target(tasks: usize) -> u64 {
    if tasks <= 10_000 { 48 << 20 } else { 256 << 20 }
}

pub async fn run(plane: &ControlPlane, scale: &Scale) {
    let tenants = (scale.tasks / scale.tasks_per_tenant.max(1)).max(1);
    let clusters = tenants.div_ceil(TENANTS_PER_CLUSTER);
    println!();
    println!(
        "== {} BackupTasks, {tenants} strategies (one archiving tenant each) on {clusters} OceanBase \
         clusters, {tenants} tasks running ==",
        scale.tasks
    );
    let admin = plane.admin().await;
    let namespace = plane.namespace("bench-scale").await;
    let names: Vec<String> = (1..=tenants).map(|i| format!("t{i}")).collect();
    let fleet = Fleet::start(&admin, &namespace, &names).await;

    // Setup, with an operator that is then stopped: strategies and their archiving, one completed task
    // whose status is the template of the history, and one running task per tenant.
    let mut setup = plane.start_operator_production(&namespace, &format!("{namespace}-setup"));
    for tenant in &names {
        apply(&admin, &namespace, &strategy(tenant))
            .await
            .expect("strategy");
    }
    let logs = api(&admin, &namespace, "LogBackup");
    let tasks = api(&admin, &namespace, "BackupTask");
    let archiving = Instant::now();
    eventually("every tenant archiving", setup_wait(tenants), || async {
        let items = logs.list(&Default::default()).await.ok()?.items;
        (items.len() == tenants && items.iter().all(|l| phase(l) == "InProgress")).then_some(())
    })
    .await;
    println!(
        "  setup: {tenants} new strategies archiving after {:.0}s",
        archiving.elapsed().as_secs_f64()
    );
    apply(&admin, &namespace, &task("template", "t1"))
        .await
        .expect("template");
    let template = eventually("the template task to complete", WAIT, || async {
        let task = tasks.get("template").await.ok()?;
        (phase(&task) == "Completed").then(|| task.data["status"].clone())
    })
    .await;
    for tenant in &names {
        cluster(fleet.node(tenant))
            .set_stalled(tenant, true)
            .expect("stall");
        apply(
            &admin,
            &namespace,
            &task(&format!("run-{tenant}-0"), tenant),
        )
        .await
        .expect("running task");
    }
    eventually(
        "every running task In Progress",
        setup_wait(tenants),
        || async {
            let items = tasks.list(&Default::default()).await.ok()?.items;
            let running = items.iter().filter(|t| phase(t) == "InProgress").count();
            (running == tenants).then_some(())
        },
    )
    .await;
    setup.terminate(Duration::from_secs(20)).await;

    // The history: finished tasks in mixed phases, statuses as the operator wrote them.
    let history = scale.tasks.saturating_sub(tenants + 1);
    let created = Instant::now();
    create_history(&admin, &namespace, &names, &template, history).await;
    // What every task must show whatever the timing: the history keeps the phases it was written with (a
    // finished task is never reconciled into another), the template stays Completed, each tenant's task runs.
    let mut expected = history_phases(history);
    *expected.entry("Completed".into()).or_default() += 1;
    *expected.entry("InProgress".into()).or_default() += tenants;
    println!(
        "  created {history} finished tasks (90% Completed, 5% Failed, 5% Canceled) in {:.0}s",
        created.elapsed().as_secs_f64()
    );
    let bytes = serde_json::to_vec(&tasks.get("history-1").await.expect("a task").data)
        .map_or(0, |b| b.len());
    println!("  one finished task as the API returns it: {bytes} bytes of JSON");

    // Cold start over all of it.
    let before = ApiServer::read(&admin).await;
    let start = Instant::now();
    let operator = plane.start_operator_production(&namespace, &format!("{namespace}-a"));
    let ready = eventually("/readyz", WAIT, || async {
        (operator.get("/readyz").map(|(c, _)| c) == Some(200)).then(|| start.elapsed())
    })
    .await;
    let synced = cache_sync_ms(&operator);
    let counts = [
        ("BackupTask", scale.tasks),
        ("LogBackup", tenants),
        ("BackupStrategy", tenants),
    ];
    let first_pass = eventually("every object reconciled once", WAIT, || async {
        counts
            .iter()
            .all(|(kind, n)| reconciles(&operator, kind) >= *n as f64)
            .then(|| start.elapsed())
    })
    .await;
    let after_start = ApiServer::read(&admin).await;
    let peak_start = memory(operator.pid()).1;
    println!(
        "  time to ready {:.2}s (last cache synced at {}); first full pass {:.1}s",
        ready.as_secs_f64(),
        synced.map_or("?".into(), |ms| format!("{:.2}s", ms as f64 / 1000.0)),
        first_pass.as_secs_f64()
    );
    println!(
        "    target: ready ≤ {} s after the start — {}",
        READY_WITHIN.as_secs(),
        verdict(ready <= READY_WITHIN)
    );
    let rejected = after_start.rejected() - before.rejected();
    println!(
        "  start: {} API requests answered 429 (flow control rejected {}); target none — {}",
        after_start.code_429() - before.code_429(),
        rejected,
        verdict(after_start.code_429() - before.code_429() == 0.0)
    );
    println!("  start: API writes by the operator's start, at the API server:");
    after_start.writes_since(&before).print("    ");

    // The quiet window: nothing changes but archiving's checkpoints.
    let window = Duration::from_secs(scale.idle);
    let (cpu0, rounds0, api0) = (
        cpu_seconds(operator.pid()),
        round_trips(&operator),
        ApiServer::read(&admin).await,
    );
    let connections0 = fleet.connections();
    let window_start = Instant::now();
    let mut steady_max = 0;
    // A measurement interval, not a wait for anything: RSS is sampled every 10 s of the window.
    while let Some(left) = window.checked_sub(window_start.elapsed())
        && !left.is_zero()
    {
        tokio::time::sleep(left.min(Duration::from_secs(10))).await;
        steady_max = steady_max.max(memory(operator.pid()).0);
    }
    let minutes = window_start.elapsed().as_secs_f64() / 60.0;
    let (cpu1, rounds1, api1) = (
        cpu_seconds(operator.pid()),
        round_trips(&operator),
        ApiServer::read(&admin).await,
    );
    let (rss, peak) = memory(operator.pid());
    println!(
        "  memory: peak RSS {} (at first pass {}), steady RSS {} (max over the window {}); target steady ≤ {} — {}",
        mib(peak),
        mib(peak_start),
        mib(rss),
        mib(steady_max),
        mib(memory_target(scale.tasks)),
        verdict(steady_max <= memory_target(scale.tasks))
    );
    println!("  {}", memory_split(operator.pid()));
    let cpu = (cpu1 - cpu0) / minutes;
    println!(
        "  quiet window of {minutes:.1} min: CPU {cpu:.2} s per minute (target ≤ {QUIET_CPU_PER_MINUTE} — {}), \
         {:.1} SQL round trips per minute ({:.1} per cluster)",
        verdict(cpu <= QUIET_CPU_PER_MINUTE),
        (rounds1 - rounds0) / minutes,
        (rounds1 - rounds0) / minutes / clusters as f64
    );
    let opened = fleet
        .connections()
        .iter()
        .zip(&connections0)
        .map(|(after, before)| after - before)
        .max()
        .unwrap_or(0);
    println!(
        "  connections opened to a cluster in the quiet window: at most {opened} (the observer's one \
         pooled connection stays open)"
    );
    let writes = api1.writes_since(&api0);
    println!(
        "  API writes per minute in the window, at the API server (verb resource/subresource):"
    );
    writes.per_minute(minutes).print("    ");
    let ours = writes.ours() / minutes;
    let bound = (2 * tenants) as f64 * 1.1;
    println!(
        "    status rule: one LogBackup and one strategy write a minute per archiving tenant = {} a minute; \
         measured {ours:.1} obbackup.dev writes a minute — {}",
        2 * tenants,
        verdict(ours <= bound)
    );
    if scale.idle < 600 {
        println!(
            "    (a window under 600 s does not hold every periodic refresh: its per-minute figures are not \
             comparable to a full run's)"
        );
    }
    let after_window = task_phases(&tasks).await;
    assert_eq!(
        after_window, expected,
        "every BackupTask in its expected phase after the quiet window"
    );
    println!("  every task in its expected phase after the window: {after_window:?}");

    latency(&admin, &namespace, &fleet, &names, scale.samples).await;
    // Each sample completed one running task and started the tenant's next one.
    *expected.entry("Completed".into()).or_default() += scale.samples;
    let phases = task_phases(&tasks).await;
    assert_eq!(
        phases, expected,
        "every BackupTask in its expected phase after the latency samples"
    );
    println!("  every task in its expected phase after the samples: {phases:?}");
    let (rss, peak) = memory(operator.pid());
    println!(
        "  after the latency samples: RSS {}, peak {}",
        mib(rss),
        mib(peak)
    );
    // Removed while its operator still runs: the LogBackups' finalizers need it, and a namespace left
    // terminating would keep writing (the namespace controller's retries) into the next run's window.
    crate::support::cluster::delete_namespace(&admin, &namespace).await;
    let namespaces: Api<k8s_openapi::api::core::v1::Namespace> = Api::all(admin.clone());
    // The namespace controller deletes the tasks one by one (100 000 were not gone within 300 s once).
    let deletion =
        WAIT.max(Duration::from_millis(10) * u32::try_from(scale.tasks).unwrap_or(u32::MAX));
    eventually("the run's namespace to be gone", deletion, || async {
        matches!(namespaces.get_opt(&namespace).await, Ok(None)).then_some(())
    })
    .await;
    drop(operator);
}

/// How many BackupTasks the API lists in each phase.
async fn task_phases(tasks: &Api<DynamicObject>) -> BTreeMap<String, usize> {
    let mut phases = BTreeMap::new();
    for task in tasks
        .list(&Default::default())
        .await
        .expect("list the BackupTasks")
        .items
    {
        *phases.entry(phase(&task).to_string()).or_default() += 1;
    }
    phases
}

/// The phases [`create_history`] gives its `count` tasks, counted.
fn history_phases(count: usize) -> BTreeMap<String, usize> {
    let mut phases = BTreeMap::new();
    for i in 1..=count {
        *phases.entry(history_phase(i).0.to_string()).or_default() += 1;
    }
    phases
}

/// The phase and Ready reason of the `i`-th finished task of the history.
fn history_phase(i: usize) -> (&'static str, &'static str) {
    match i % 20 {
        0 => ("Failed", "BackupFailed"),
        1 => ("Canceled", "Canceled"),
        _ => ("Completed", "Completed"),
    }
}

fn api(client: &Client, namespace: &str, kind: &str) -> Api<DynamicObject> {
    api_for(
        client,
        namespace,
        &json!({"apiVersion": "obbackup.dev/v1alpha1", "kind": kind}),
    )
    .0
}

fn phase(object: &DynamicObject) -> &str {
    object.data["status"]["phase"].as_str().unwrap_or_default()
}

/// The OceanBase clusters of a run, [`TENANTS_PER_CLUSTER`] tenants each, in order: tenant `t{i}` is on
/// cluster `ob{(i - 1) / 10 + 1}`, reached through the Secret of that name.
struct Fleet {
    nodes: Vec<Arc<Node>>,
}

impl Fleet {
    /// Starts the clusters holding `tenants` and writes their connection Secrets. Real-time clocks, so
    /// archiving advances; 1 GiB tenants, so the one backup that runs to completion for the template takes
    /// seconds. The running tasks are held by obsim's stall fault.
    async fn start(admin: &Client, namespace: &str, tenants: &[String]) -> Self {
        let mut nodes = Vec::new();
        for (k, share) in tenants.chunks(TENANTS_PER_CLUSTER).enumerate() {
            let name = format!("ob{}", k + 1);
            let share: Vec<&str> = share.iter().map(String::as_str).collect();
            let node = simulator::start(&name, &share, 1 << 30, 1.0).await;
            connection_secret(admin, namespace, &name, &node).await;
            nodes.push(node);
        }
        Self { nodes }
    }

    /// Connections each cluster has accepted so far.
    fn connections(&self) -> Vec<u64> {
        self.nodes.iter().map(|n| n.link.accepted()).collect()
    }

    /// The cluster holding `tenant`.
    fn node(&self, tenant: &str) -> &Arc<Node> {
        &self.nodes[cluster_index(tenant)]
    }
}

/// Which cluster of the [`Fleet`] holds tenant `t{i}`.
fn cluster_index(tenant: &str) -> usize {
    let i: usize = tenant
        .trim_start_matches('t')
        .parse()
        .expect("a tenant named t<number>");
    (i - 1) / TENANTS_PER_CLUSTER
}

fn strategy(tenant: &str) -> Value {
    let cluster = format!("ob{}", cluster_index(tenant) + 1);
    json!({
        "apiVersion": "obbackup.dev/v1alpha1", "kind": "BackupStrategy",
        "metadata": {"name": format!("s-{tenant}")},
        "spec": {
            "cluster": {"name": cluster, "connectionSecret": cluster},
            "tenants": [tenant],
            "dataDestination": {"uri": format!("file:///bench/{tenant}/data")},
            "logDestination": {"uri": format!("file:///bench/{tenant}/archive")},
            "schedule": {"timeZone": "UTC", "full": "0 1 1 1 *"},
        },
    })
}

fn task(name: &str, tenant: &str) -> Value {
    json!({
        "apiVersion": "obbackup.dev/v1alpha1", "kind": "BackupTask",
        "metadata": {"name": name},
        "spec": {"strategyRef": {"name": format!("s-{tenant}")}, "tenant": tenant, "mode": "Full"},
    })
}

/// Creates `count` finished tasks spread over the tenants, each with the template's status adjusted to its
/// phase, 16 requests at a time.
async fn create_history(
    admin: &Client,
    namespace: &str,
    tenants: &[String],
    template: &Value,
    count: usize,
) {
    let tasks = api(admin, namespace, "BackupTask");
    futures::stream::iter(1..=count)
        .map(|i| {
            let tasks = tasks.clone();
            let tenant = &tenants[i % tenants.len()];
            let mut status = template.clone();
            let (phase, reason) = history_phase(i);
            status["phase"] = json!(phase);
            status["jobId"] = json!(10_000 + i);
            status["backupSetId"] = json!(10_000 + i);
            if let Some(conditions) = status["conditions"].as_array_mut() {
                for condition in conditions.iter_mut().filter(|c| c["type"] == "Ready") {
                    condition["reason"] = json!(reason);
                }
            }
            async move {
                let name = format!("history-{i}");
                let manifest: DynamicObject =
                    serde_json::from_value(task(&name, tenant)).expect("task");
                tasks
                    .create(&PostParams::default(), &manifest)
                    .await
                    .expect("create");
                let patch = json!({"status": status});
                tasks
                    .patch_status(&name, &PatchParams::default(), &Patch::Merge(&patch))
                    .await
                    .expect("status");
            }
        })
        .buffer_unordered(16)
        .collect::<Vec<()>>()
        .await;
}

/// From a job ending in OceanBase to its task's status saying Completed, at random moments: a job is
/// released from its stall at a random time (so at a random phase of the observer's poll cycle), and the
/// status change is seen through a watch (no polling error). Then the tenant gets a new running task.
async fn latency(
    admin: &Client,
    namespace: &str,
    fleet: &Fleet,
    tenants: &[String],
    samples: usize,
) {
    let tasks = api(admin, namespace, "BackupTask");
    let completed: Arc<Mutex<HashMap<String, Instant>>> = Arc::default();
    let seen = completed.clone();
    let listed = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let listing_done = listed.clone();
    // The watch outlives the API server's errors (an overloaded etcd times requests out): it backs off and
    // lists again instead of ending, which would leave every later sample waiting for an event never seen.
    let watch = tokio::spawn(
        watcher(tasks.clone(), watcher::Config::default())
            .default_backoff()
            .for_each(move |event| {
                let seen = seen.clone();
                let listing_done = listing_done.clone();
                async move {
                    let Ok(event) = event else {
                        return;
                    };
                    if matches!(event, watcher::Event::InitDone) {
                        listing_done.store(true, std::sync::atomic::Ordering::SeqCst);
                    }
                    if let watcher::Event::Apply(task) | watcher::Event::InitApply(task) = event
                        && phase(&task) == "Completed"
                    {
                        let name = task.metadata.name.clone().unwrap_or_default();
                        seen.lock()
                            .expect("lock")
                            .entry(name)
                            .or_insert_with(Instant::now);
                    }
                }
            }),
    );
    // The watch's first list (every task: 11 MB at 10 000) must be over before the first sample: a change
    // made while it pages is only seen once it ends, and its load is the bench's, not the operator's.
    eventually("the measuring watch to have listed", WAIT, || async {
        listed
            .load(std::sync::atomic::Ordering::SeqCst)
            .then_some(())
    })
    .await;
    let started = Instant::now();
    let rounds: Vec<usize> = (0..samples).collect();
    let lanes = tenants.len().min(10);
    let latencies: Vec<Sample> = futures::stream::iter(rounds.chunks(samples.div_ceil(lanes)))
        .enumerate()
        .map(|(lane, chunk)| {
            let (tasks, completed) = (tasks.clone(), completed.clone());
            let own: Vec<String> = tenants.iter().skip(lane).step_by(lanes).cloned().collect();
            let count = chunk.len();
            async move {
                let mut rng = Rng::new(0x5eed + lane as u64);
                let mut generation: HashMap<String, usize> = HashMap::new();
                let mut out = Vec::new();
                for k in 0..count {
                    let tenant = &own[k % own.len()];
                    let n = generation.entry(tenant.clone()).or_default();
                    let name = format!("run-{tenant}-{n}");
                    let pause =
                        Duration::from_millis(rng.below(2 * ACTIVE_POLL.as_millis() as u64));
                    tokio::time::sleep(pause).await;
                    let released_at = jiff::Timestamp::now();
                    let changed = release(fleet.node(tenant), tenant);
                    let done = eventually("the task to complete", WAIT, || async {
                        completed.lock().expect("lock").get(&name).copied()
                    })
                    .await;
                    out.push(Sample {
                        latency: done.saturating_duration_since(changed),
                        task: name.clone(),
                        released_at,
                    });
                    *n += 1;
                    let next = format!("run-{tenant}-{n}");
                    cluster(fleet.node(tenant))
                        .set_stalled(tenant, true)
                        .expect("stall");
                    apply_task(&tasks, &next, tenant).await;
                    eventually("the next task running", WAIT, || async {
                        let task = tasks.get(&next).await.ok()?;
                        (phase(&task) == "InProgress").then_some(())
                    })
                    .await;
                }
                out
            }
        })
        .buffer_unordered(lanes)
        .concat()
        .await;
    watch.abort();
    let mut slowest = latencies;
    slowest.sort_by_key(|s| std::cmp::Reverse(s.latency));
    let mut sorted: Vec<Duration> = slowest.iter().map(|s| s.latency).collect();
    sorted.sort();
    let pick = |q: f64| sorted[((sorted.len() as f64 - 1.0) * q).round() as usize];
    let p99 = pick(0.99);
    println!(
        "  OceanBase job ends → BackupTask Completed ({} samples over {:.0}s, {lanes} at a time, random \
         phases of the {:.0} s active poll; {} tasks running; seen through a watch):",
        sorted.len(),
        started.elapsed().as_secs_f64(),
        ACTIVE_POLL.as_secs_f64(),
        tenants.len()
    );
    println!(
        "    p50 {:.2}s  p90 {:.2}s  p99 {:.2}s  max {:.2}s; target p99 ≤ {:.1}s — {}",
        pick(0.5).as_secs_f64(),
        pick(0.9).as_secs_f64(),
        p99.as_secs_f64(),
        sorted[sorted.len() - 1].as_secs_f64(),
        LATENCY_P99.as_secs_f64(),
        verdict(p99 <= LATENCY_P99)
    );
    // To find in the operator's log (its lines are stamped in UTC too).
    for sample in slowest.iter().take(5) {
        println!(
            "    slow: {} released {} → Completed after {:.2}s",
            sample.task,
            sample.released_at,
            sample.latency.as_secs_f64()
        );
    }
}

/// One latency sample: which task, when its job was let finish, and how long until its status said so.
struct Sample {
    latency: Duration,
    task: String,
    released_at: jiff::Timestamp,
}

/// Lets the stalled job of `tenant` finish now; returns when.
fn release(node: &Node, tenant: &str) -> Instant {
    let mut cluster = cluster(node);
    cluster.set_stalled(tenant, false).expect("unstall");
    let job = cluster
        .tenants
        .iter_mut()
        .find(|t| t.name == tenant)
        .and_then(|t| t.backups.jobs.iter_mut().find(|j| !j.status.is_final()))
        .expect("a running job");
    job.total_bytes = 1;
    Instant::now()
}

async fn apply_task(tasks: &Api<DynamicObject>, name: &str, tenant: &str) {
    let manifest: DynamicObject = serde_json::from_value(task(name, tenant)).expect("task");
    tasks
        .patch(
            name,
            &PatchParams::apply(TEST_MANAGER).force(),
            &Patch::Apply(&manifest),
        )
        .await
        .expect("task");
}

/// The API server's request counters.
struct ApiServer {
    /// (verb, resource/subresource, code) → count.
    requests: BTreeMap<(String, String, String), f64>,
    rejected: f64,
}

/// Write counts by (verb, resource/subresource).
struct Writes(BTreeMap<(String, String), f64>);

impl ApiServer {
    async fn read(admin: &Client) -> Self {
        let request = http::Request::get("/metrics")
            .body(Vec::new())
            .expect("request");
        let text = admin
            .request_text(request)
            .await
            .expect("apiserver metrics");
        let mut requests = BTreeMap::new();
        let mut rejected = 0.0;
        for line in text.lines() {
            if let Some(rest) = line.strip_prefix("apiserver_request_total{") {
                let Some((labels, value)) = rest.split_once("} ") else {
                    continue;
                };
                let labels = parse_labels(labels);
                let get = |k: &str| labels.get(k).cloned().unwrap_or_default();
                let resource = match get("subresource").as_str() {
                    "" => get("resource"),
                    sub => format!("{}/{sub}", get("resource")),
                };
                let key = (get("verb"), resource, get("code"));
                *requests.entry(key).or_default() += value.trim().parse::<f64>().unwrap_or(0.0);
            } else if let Some(rest) =
                line.strip_prefix("apiserver_flowcontrol_rejected_requests_total{")
            {
                rejected += rest
                    .rsplit(' ')
                    .next()
                    .and_then(|v| v.parse::<f64>().ok())
                    .unwrap_or(0.0);
            }
        }
        Self { requests, rejected }
    }

    fn code_429(&self) -> f64 {
        self.requests
            .iter()
            .filter(|((_, _, code), _)| code == "429")
            .map(|(_, n)| n)
            .sum()
    }

    fn rejected(&self) -> f64 {
        self.rejected
    }

    /// Writes since `before`, by verb and resource (the operator's kinds, Events, Leases).
    fn writes_since(&self, before: &Self) -> Writes {
        let mut writes = BTreeMap::new();
        for ((verb, resource, code), n) in &self.requests {
            let write = matches!(verb.as_str(), "POST" | "PUT" | "PATCH" | "DELETE" | "APPLY");
            let ours = resource.starts_with("backup")
                || resource.starts_with("logbackups")
                || resource.starts_with("cleanuptasks")
                || resource.starts_with("recoverytasks")
                || resource == "events"
                || resource == "leases";
            let delta = n - before
                .requests
                .get(&(verb.clone(), resource.clone(), code.clone()))
                .copied()
                .unwrap_or(0.0);
            if write && ours && delta > 0.0 {
                *writes.entry((verb.clone(), resource.clone())).or_default() += delta;
            }
        }
        Writes(writes)
    }
}

impl Writes {
    fn per_minute(&self, minutes: f64) -> Self {
        Self(
            self.0
                .iter()
                .map(|(k, n)| (k.clone(), n / minutes))
                .collect(),
        )
    }

    /// Writes to the operator's own kinds (statuses, children).
    fn ours(&self) -> f64 {
        self.0
            .iter()
            .filter(|((_, resource), _)| resource != "events" && resource != "leases")
            .fold(0.0, |sum, (_, n)| sum + n)
    }

    fn print(&self, indent: &str) {
        if self.0.is_empty() {
            println!("{indent}none");
        }
        for ((verb, resource), n) in &self.0 {
            println!("{indent}{verb:<6} {resource:<32} {n:>8.1}");
        }
    }
}

fn parse_labels(text: &str) -> HashMap<String, String> {
    text.split("\",")
        .filter_map(|pair| {
            let (k, v) = pair.split_once("=\"")?;
            Some((k.to_string(), v.trim_end_matches('"').to_string()))
        })
        .collect()
}

/// (VmRSS, VmHWM) of a process, in bytes.
fn memory(pid: u32) -> (u64, u64) {
    let field = status_fields(pid);
    (field("VmRSS:"), field("VmHWM:"))
}

/// A reader of the sizes in `/proc/PID/status`, in bytes (0 for a field it lacks).
fn status_fields(pid: u32) -> impl Fn(&str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    move |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
            .map_or(0, |kib| kib * 1024)
    }
}

/// Where a process's resident memory is: its heap and stacks (anonymous), the mapped binary and libraries
/// (file), shared memory; from `/proc/PID/status`.
fn memory_split(pid: u32) -> String {
    let field = status_fields(pid);
    format!(
        "resident: {} anonymous (heap, stacks), {} file-backed (the binary), {} shared",
        mib(field("RssAnon:")),
        mib(field("RssFile:")),
        mib(field("RssShmem:"))
    )
}

/// User plus system CPU time of a process, in seconds.
fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name (which is in parentheses): utime is the 14th field, stime the 15th.
    let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    // `after` starts at field 3 (state): utime (14) is index 11, stime (15) index 12.
    let hz = 100.0; // USER_HZ, 100 on Linux
    (ticks(11) + ticks(12)) / hz
}

fn reconciles(operator: &OperatorProcess, kind: &str) -> f64 {
    operator
        .metric(&format!(
            "obbackup_reconcile_duration_seconds_count{{controller=\"{kind}\"}}"
        ))
        .unwrap_or(0.0)
}

fn round_trips(operator: &OperatorProcess) -> f64 {
    operator
        .samples("obbackup_sql_round_trips_total")
        .iter()
        .map(|(_, v)| v)
        .sum()
}

/// When the operator's last cache synced, from its log (milliseconds after start).
fn cache_sync_ms(operator: &OperatorProcess) -> Option<u64> {
    operator
        .log_text()
        .lines()
        .filter(|l| l.contains("cache synced"))
        .filter_map(|l| {
            // The text log colours its field names: drop the escape sequences first.
            let plain = strip_ansi(l);
            let at = plain.split("after_ms=").nth(1)?;
            at.split_whitespace().next()?.parse().ok()
        })
        .max()
}

/// `text` without ANSI colour sequences (ESC `[` … `m`).
fn strip_ansi(text: &str) -> String {
    let mut plain = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            chars.by_ref().find(|c| *c == 'm');
        } else {
            plain.push(c);
        }
    }
    plain
}

fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / f64::from(1 << 20))
}

fn verdict(met: bool) -> &'static str {
    if met { "met" } else { "NOT MET" }
}
