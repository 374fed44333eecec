//! From a job ending in OceanBase to its task's status saying Completed, at random moments; with replicas,
//! one of them killed halfway, the samples before the kill and after the survivors' takeover reported apart.

use std::{
    collections::HashMap,
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use futures::StreamExt;
use kube::{
    Client,
    runtime::{WatchStreamExt, watcher},
};
use obsim::sim::Node;

use super::{
    ACTIVE_POLL, LATENCY_P99, WAIT,
    estate::{Estate, api, apply_task, phase},
    fleet::Fleet,
    measure::verdict,
    replicas::Replicas,
};
use crate::support::{cluster::eventually, rng::Rng, simulator::cluster};

/// What the samples run over.
pub struct Sampling<'a> {
    pub admin: &'a Client,
    pub estate: &'a Estate,
    pub fleet: &'a Fleet,
    pub tenants: &'a [String],
    pub samples: usize,
    /// Where the shards' Leases are (to name the killed replica's shards).
    pub lease_namespace: &'a str,
}

/// One latency sample: which task, when its job was let finish, and how long until its status said so.
pub struct Sample {
    pub tenant: String,
    task: String,
    released_at: jiff::Timestamp,
    changed: Instant,
    done: Instant,
}

impl Sample {
    fn latency(&self) -> Duration {
        self.done.saturating_duration_since(self.changed)
    }
}

/// A replica killed mid-run and the survivors' takeover of its shards.
struct Takeover {
    victim: String,
    shards: Vec<u32>,
    after_samples: usize,
    killed_at: Instant,
    /// When the survivors held every shard, and when they had every shard's tasks cached (and so
    /// reconciled them).
    held_at: Instant,
    filled_at: Instant,
}

/// Takes the samples, 10 at a time; with `kill`, kills a replica once half of them are in and keeps
/// sampling. Prints the figures; returns the samples.
pub async fn run(sampling: &Sampling<'_>, replicas: &mut Replicas, kill: bool) -> Vec<Sample> {
    let (completed, watches) = watch_completions(sampling.admin, sampling.estate).await;
    let finished = AtomicUsize::new(0);
    let started = Instant::now();
    let lanes = sampling.tenants.len().min(10);
    let sampled = take_samples(sampling, &completed, &finished, lanes);
    let (samples, takeover) = if kill {
        let killer = kill_midway(sampling, replicas, &finished);
        let (samples, takeover) = tokio::join!(sampled, killer);
        (samples, Some(takeover))
    } else {
        (sampled.await, None)
    };
    for watch in watches {
        watch.abort();
    }
    println!(
        "  OceanBase job ends → BackupTask Completed ({} samples over {:.0}s, {lanes} at a time, random \
         phases of the {:.0} s active poll; {} tasks running; seen through a watch):",
        samples.len(),
        started.elapsed().as_secs_f64(),
        ACTIVE_POLL.as_secs_f64(),
        sampling.tenants.len()
    );
    match &takeover {
        None => print_latencies("", &samples.iter().collect::<Vec<_>>(), true),
        Some(takeover) => report_takeover(takeover, &samples),
    }
    let all: Vec<&Sample> = samples.iter().collect();
    print_slowest(&all, "into the sampling", started);
    samples
}

/// Watches the run's BackupTasks (a watch per namespace) and records when each was first seen Completed;
/// returns once every watch has listed.
async fn watch_completions(
    admin: &Client,
    estate: &Estate,
) -> (
    Arc<Mutex<HashMap<String, Instant>>>,
    Vec<tokio::task::JoinHandle<()>>,
) {
    let completed: Arc<Mutex<HashMap<String, Instant>>> = Arc::default();
    let mut listed = Vec::new();
    let mut watches = Vec::new();
    for namespace in &estate.namespaces {
        let done = Arc::new(AtomicBool::new(false));
        listed.push(done.clone());
        watches.push(tokio::spawn(watch_one(
            api(admin, namespace, "BackupTask"),
            completed.clone(),
            done,
        )));
    }
    // The watches' first lists (every task: 11 MB at 10 000) must be over before the first sample: a change
    // made while one pages is only seen once it ends, and its load is the bench's, not the operator's.
    eventually("the measuring watches to have listed", WAIT, || async {
        listed
            .iter()
            .all(|l| l.load(Ordering::SeqCst))
            .then_some(())
    })
    .await;
    (completed, watches)
}

/// One namespace's watch. It outlives the API server's errors (an overloaded etcd times requests out): it
/// backs off and lists again instead of ending, which would leave every later sample waiting for an event
/// never seen.
async fn watch_one(
    tasks: kube::Api<kube::api::DynamicObject>,
    seen: Arc<Mutex<HashMap<String, Instant>>>,
    listed: Arc<AtomicBool>,
) {
    watcher(tasks, watcher::Config::default())
        .default_backoff()
        .for_each(move |event| {
            let (seen, listed) = (seen.clone(), listed.clone());
            async move {
                let Ok(event) = event else {
                    return;
                };
                if matches!(event, watcher::Event::InitDone) {
                    listed.store(true, Ordering::SeqCst);
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
        })
        .await;
}

/// The samples, `lanes` at a time, each lane over its own tenants; counts each one done in `finished`.
async fn take_samples(
    sampling: &Sampling<'_>,
    completed: &Mutex<HashMap<String, Instant>>,
    finished: &AtomicUsize,
    lanes: usize,
) -> Vec<Sample> {
    let rounds: Vec<usize> = (0..sampling.samples).collect();
    futures::stream::iter(rounds.chunks(sampling.samples.div_ceil(lanes)))
        .enumerate()
        .map(|(lane, chunk)| {
            let own: Vec<String> = sampling
                .tenants
                .iter()
                .skip(lane)
                .step_by(lanes)
                .cloned()
                .collect();
            lane_samples(sampling, completed, finished, lane, own, chunk.len())
        })
        .buffer_unordered(lanes)
        .concat()
        .await
}

/// One lane: `count` samples over the tenants `own`, in turn.
async fn lane_samples(
    sampling: &Sampling<'_>,
    completed: &Mutex<HashMap<String, Instant>>,
    finished: &AtomicUsize,
    lane: usize,
    own: Vec<String>,
    count: usize,
) -> Vec<Sample> {
    let mut rng = Rng::new(0x5eed + lane as u64);
    let mut generation: HashMap<String, usize> = HashMap::new();
    let mut out = Vec::new();
    for k in 0..count {
        let tenant = &own[k % own.len()];
        let n = generation.entry(tenant.clone()).or_default();
        let pause = Duration::from_millis(rng.below(2 * ACTIVE_POLL.as_millis() as u64));
        // A random phase of the poll: the moment the job ends is drawn, not waited for.
        tokio::time::sleep(pause).await;
        out.push(one_sample(sampling, completed, tenant, *n).await);
        finished.fetch_add(1, Ordering::SeqCst);
        *n += 1;
        next_task(sampling, tenant, *n).await;
    }
    out
}

/// Releases `tenant`'s stalled job (of its task of generation `n`) and waits for the task to say Completed.
async fn one_sample(
    sampling: &Sampling<'_>,
    completed: &Mutex<HashMap<String, Instant>>,
    tenant: &str,
    n: usize,
) -> Sample {
    let task = format!("run-{tenant}-{n}");
    let released_at = jiff::Timestamp::now();
    let changed = release(sampling.fleet.node(tenant), tenant);
    let done = eventually("the task to complete", WAIT, || async {
        completed.lock().expect("lock").get(&task).copied()
    })
    .await;
    Sample {
        tenant: tenant.to_string(),
        task,
        released_at,
        changed,
        done,
    }
}

/// Gives `tenant` its next running task (generation `n`), its job stalled, and waits until it runs.
async fn next_task(sampling: &Sampling<'_>, tenant: &str, n: usize) {
    let tasks = sampling.estate.api(sampling.admin, tenant, "BackupTask");
    let next = format!("run-{tenant}-{n}");
    cluster(sampling.fleet.node(tenant))
        .set_stalled(tenant, true)
        .expect("stall");
    apply_task(&tasks, &next, tenant, &sampling.estate.shard_label(tenant)).await;
    eventually("the next task running", WAIT, || async {
        let task = tasks.get(&next).await.ok()?;
        (phase(&task) == "InProgress").then_some(())
    })
    .await;
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

/// Once half the samples are in, SIGKILLs a replica and waits until the survivors hold every shard and have
/// its tasks cached.
async fn kill_midway(
    sampling: &Sampling<'_>,
    replicas: &mut Replicas,
    finished: &AtomicUsize,
) -> Takeover {
    let half = sampling.samples / 2;
    // A guard against a hang, not a timing: a sample takes seconds.
    let deadline = WAIT.max(Duration::from_secs(10) * u32::try_from(half).unwrap_or(u32::MAX));
    eventually("half the samples", deadline, || async {
        (finished.load(Ordering::SeqCst) >= half).then_some(())
    })
    .await;
    let held = replicas
        .held(sampling.admin, sampling.lease_namespace)
        .await;
    // The replica holding the most shards (the first of those), so that the kill leaves work to take over.
    let victim = (0..held.len())
        .rev()
        .max_by_key(|k| held[*k].len())
        .unwrap_or(0);
    let after_samples = finished.load(Ordering::SeqCst);
    let killed_at = replicas.kill(victim);
    replicas
        .until_every_shard("obbackup_shards_held", "the survivors to hold every shard")
        .await;
    let held_at = Instant::now();
    replicas
        .until_every_shard(
            "obbackup_shards_filled",
            "the survivors to cache every shard's tasks",
        )
        .await;
    Takeover {
        victim: replicas.identity(victim).to_string(),
        shards: held[victim].clone(),
        after_samples,
        killed_at,
        held_at,
        filled_at: Instant::now(),
    }
}

/// The samples before the kill, after the takeover (the survivors reconcile every shard), and in between
/// (expected slow: shown, not dropped).
fn report_takeover(takeover: &Takeover, samples: &[Sample]) {
    let since_kill = |at: Instant| at.duration_since(takeover.killed_at).as_secs_f64();
    println!(
        "    replica {} (shards {:?}) killed with SIGKILL once {} samples were in; the survivors held every \
         shard {:.1}s later, and had their tasks cached {:.1}s after the kill",
        takeover.victim,
        takeover.shards,
        takeover.after_samples,
        since_kill(takeover.held_at),
        since_kill(takeover.filled_at),
    );
    let before: Vec<&Sample> = samples
        .iter()
        .filter(|s| s.done < takeover.killed_at)
        .collect();
    let after: Vec<&Sample> = samples
        .iter()
        .filter(|s| s.changed >= takeover.filled_at)
        .collect();
    let gap: Vec<&Sample> = samples
        .iter()
        .filter(|s| s.done >= takeover.killed_at && s.changed < takeover.filled_at)
        .collect();
    print_latencies("before the kill: ", &before, true);
    print_latencies("after the takeover: ", &after, true);
    print_slowest(&after, "after the takeover", takeover.filled_at);
    println!(
        "    {} samples fell in the takeover gap (their job ended before the survivors had every shard's tasks \
         cached and they completed after the kill; expected slow):",
        gap.len()
    );
    print_latencies("in the gap: ", &gap, false);
}

/// Percentiles of `samples` (and the target's verdict on their p99 when `judged`), or a line saying none.
fn print_latencies(label: &str, samples: &[&Sample], judged: bool) {
    let mut sorted: Vec<Duration> = samples.iter().map(|s| s.latency()).collect();
    sorted.sort();
    let Some(max) = sorted.last() else {
        println!("    {label}no samples");
        return;
    };
    let pick = |q: f64| sorted[((sorted.len() as f64 - 1.0) * q).round() as usize];
    let p99 = pick(0.99);
    let target = if judged {
        format!(
            "; target p99 ≤ {:.1}s — {}",
            LATENCY_P99.as_secs_f64(),
            verdict(p99 <= LATENCY_P99)
        )
    } else {
        String::new()
    };
    println!(
        "    {label}{} samples: p50 {:.2}s  p90 {:.2}s  p99 {:.2}s  max {:.2}s{target}",
        sorted.len(),
        pick(0.5).as_secs_f64(),
        pick(0.9).as_secs_f64(),
        p99.as_secs_f64(),
        max.as_secs_f64(),
    );
}

/// The five slowest of `samples`, to find in the operator's log (its lines are stamped in UTC too), each
/// with when its job ended after `since` (named `what`).
fn print_slowest(samples: &[&Sample], what: &str, since: Instant) {
    let mut slowest = samples.to_vec();
    slowest.sort_by_key(|s| std::cmp::Reverse(s.latency()));
    for sample in slowest.iter().take(5) {
        println!(
            "    slow: {} released {} ({:.1}s {what}) → Completed after {:.2}s",
            sample.task,
            sample.released_at,
            sample
                .changed
                .saturating_duration_since(since)
                .as_secs_f64(),
            sample.latency().as_secs_f64()
        );
    }
}
