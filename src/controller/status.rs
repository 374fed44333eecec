//! Writing status: server-side apply under the operator's field manager, only when the desired status
//! differs from the current one, with an Event for every phase change and every new stall.

use k8s_openapi::{NamespaceResourceScope, apimachinery::pkg::apis::meta::v1::Condition};
use kube::{
    Api, Resource, ResourceExt,
    api::{Patch, PatchParams},
    runtime::events::{Event, EventType},
};
use serde::{Serialize, de::DeserializeOwned};
use std::fmt::Debug;

use super::{Context, FIELD_MANAGER, conditions::STALLED, error::Error, namespace_of};

/// Longest Event note the API accepts is 1 KiB; longer causes are cut.
const MAX_NOTE: usize = 1000;

/// What the status writer needs to know of every kind's status.
pub trait StatusView: Serialize + PartialEq {
    /// The phase as written in YAML (e.g. `InProgress`), if any.
    fn phase_label(&self) -> Option<&'static str>;
    /// Whether the phase is one a task never leaves (Completed, Failed, Canceled); never for an object
    /// that is no task (a LogBackup whose archiving failed may archive again).
    fn ended(&self) -> bool;
    /// The generation of the spec this status describes.
    fn observed_generation(&self) -> Option<i64>;
    /// The status conditions.
    fn conditions(&self) -> &[Condition];
    /// The human-readable summary.
    fn message(&self) -> Option<&str>;
    /// Replaces the conditions and the summary.
    fn set_health(&mut self, conditions: Vec<Condition>, message: String);
    /// Events of the kind's own that writing this status over `current` deserves, beside a phase change
    /// and a stall's.
    fn news(&self, _current: Option<&Self>) -> Vec<Event> {
        Vec::new()
    }
    /// This status without the figures that move by themselves (a log checkpoint, a delay, the bytes and
    /// window end that follow them), for a kind that shows such figures: a write that changes nothing
    /// else refreshes them, and waits behind work under way ([`write_priority`]).
    fn steady_part(&self) -> Option<Self>
    where
        Self: Sized,
    {
        None
    }
}

/// Implements [`StatusView`] for a kind's status type, whose phase has ended when `$ended` says so (each
/// kind registers its own, in its module: this layer names no kind).
macro_rules! status_view {
    (@impl $status:ty, $ended:expr, { $($news:tt)* }) => {
        impl $crate::controller::status::StatusView for $status {
            fn phase_label(&self) -> Option<&'static str> {
                self.phase.map(<&'static str>::from)
            }
            fn ended(&self) -> bool {
                self.phase.is_some_and($ended)
            }
            fn observed_generation(&self) -> Option<i64> {
                self.observed_generation
            }
            fn conditions(&self) -> &[k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition] {
                &self.conditions
            }
            fn message(&self) -> Option<&str> {
                self.message.as_deref()
            }
            fn set_health(
                &mut self,
                conditions: Vec<k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition>,
                message: String,
            ) {
                self.conditions = conditions;
                self.message = Some(message);
            }
            $($news)*
        }
    };
    ($status:ty, $ended:expr $(, news = $news:path)? $(, steady = $steady:path)?) => {
        $crate::controller::status::status_view!(@impl $status, $ended, {
            $(
                fn news(&self, current: Option<&Self>) -> Vec<kube::runtime::events::Event> {
                    $news(current, self)
                }
            )?
            $(
                fn steady_part(&self) -> Option<Self> {
                    Some($steady(self))
                }
            )?
        });
    };
}
pub(crate) use status_view;

/// The status with `health` as its Ready/Reconciling/Stalled conditions (plus `extra`, or without it the
/// other conditions it had) and the health's message.
pub fn with_health<S: StatusView>(
    mut status: S,
    generation: Option<i64>,
    health: &super::conditions::Health,
    extra: Option<Vec<Condition>>,
    now: jiff::Timestamp,
) -> S {
    let conditions =
        super::conditions::with_extra(status.conditions(), health, extra, generation, now);
    status.set_health(conditions, health.message().to_string());
    status
}

/// An object whose status the operator writes: a namespaced kind the API serves, read back as itself.
pub trait StatusObject:
    Resource<DynamicType = (), Scope = NamespaceResourceScope> + Clone + DeserializeOwned + Debug
{
}

impl<K> StatusObject for K where
    K: Resource<DynamicType = (), Scope = NamespaceResourceScope>
        + Clone
        + DeserializeOwned
        + Debug
{
}

/// What a status write came to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Written {
    /// The stored status already says as much: nothing was sent.
    Unchanged,
    /// Stored; the object's resourceVersion after the write.
    Stored(Option<String>),
    /// Not stored: the object changed after the version the write was to go over.
    Stale,
}

/// Applies `desired` as the status of `obj` unless it equals `current`. Returns whether it wrote.
pub async fn write<K: StatusObject, S: StatusView>(
    ctx: &Context,
    obj: &K,
    current: Option<&S>,
    desired: &S,
) -> Result<bool, Error> {
    let written = write_over(ctx, obj, current, desired, None).await?;
    Ok(matches!(written, Written::Stored(_)))
}

/// Applies `desired` as the status of `obj` unless it equals `current` — with `over`, only over that
/// resourceVersion of the object: if anything changed the object since (a status another reconcile wrote,
/// a label), the API refuses the write (409) and this says [`Written::Stale`].
pub async fn write_over<K: StatusObject, S: StatusView>(
    ctx: &Context,
    obj: &K,
    current: Option<&S>,
    desired: &S,
    over: Option<&str>,
) -> Result<Written, Error> {
    if current.is_some_and(|current| stored_alike(current, desired)) {
        return Ok(Written::Unchanged);
    }
    let namespace = namespace_of(obj)?;
    // Before any task of the namespace can end (a strategy's first status comes before its first task's).
    ctx.metrics.tasks_may_finish_in(&namespace);
    let api: Api<K> = Api::namespaced(ctx.client.clone(), &namespace);
    ctx.writes.acquire(write_priority(current, desired)).await;
    crate::crash::status(ctx.controller, false);
    let stored = match api
        .patch_status(
            &obj.name_any(),
            &PatchParams::apply(FIELD_MANAGER).force(),
            &Patch::Apply(&apply_body::<K, S>(desired, over)),
        )
        .await
    {
        Ok(stored) => stored,
        Err(kube::Error::Api(refusal)) if refusal.code == 409 && over.is_some() => {
            return Ok(Written::Stale);
        }
        Err(error) => return Err(error.into()),
    };
    crate::crash::status(ctx.controller, true);
    let version = stored.resource_version();
    let key = format!("{namespace}/{}", obj.name_any());
    ctx.own_writes.record(&key, version.as_deref());
    written(ctx, obj, &namespace, current, desired).await;
    Ok(Written::Stored(version))
}

/// The server-side apply body that stores `desired` as the status of a `K`; with `over`, it carries that
/// resourceVersion, which makes the API server store it only over that version of the object.
pub fn apply_body<K: Resource<DynamicType = ()>, S: Serialize>(
    desired: &S,
    over: Option<&str>,
) -> serde_json::Value {
    let mut body = serde_json::json!({
        "apiVersion": K::api_version(&()),
        "kind": K::kind(&()),
        "status": desired,
    });
    if let Some(version) = over {
        body["metadata"] = serde_json::json!({ "resourceVersion": version });
    }
    body
}

/// What follows a stored status: the metrics, a debug line, and the Events the change deserves.
async fn written<K, S>(ctx: &Context, obj: &K, namespace: &str, current: Option<&S>, desired: &S)
where
    K: Resource<DynamicType = ()>,
    S: StatusView,
{
    ctx.metrics.status_written(ctx.controller);
    if let Some(phase) = finished_now(current, desired) {
        ctx.metrics.task_finished(namespace, ctx.controller, phase);
    }
    // Serializing both statuses to name the changed fields is only worth it when someone reads it.
    if tracing::enabled!(tracing::Level::DEBUG) {
        tracing::debug!(
            object = %obj.name_any(),
            phase = ?desired.phase_label(),
            changed = ?changed_fields(current, desired),
            "status written"
        );
    }
    for event in events_for(current, desired)
        .into_iter()
        .chain(desired.news(current))
    {
        ctx.publish(obj, event).await;
    }
}

/// The final phase a task reaches with this write, if it reaches one (counted in
/// `obbackup_tasks_finished_total`).
fn finished_now<S: StatusView>(current: Option<&S>, desired: &S) -> Option<&'static str> {
    let phase = desired.phase_label().filter(|_| desired.ended())?;
    (current.and_then(StatusView::phase_label) != Some(phase)).then_some(phase)
}

/// Rewriting a finished object's status (same final phase), or refreshing figures that move by themselves
/// and nothing else, can wait; anything else is part of work under way or news a user waits for. (Refreshes
/// came to half the budget at 100 000 tasks; as urgent writes they queued ahead of tasks' phase changes.)
fn write_priority<S: StatusView>(
    current: Option<&S>,
    desired: &S,
) -> super::write_budget::Priority {
    let finished =
        desired.ended() && current.and_then(StatusView::phase_label) == desired.phase_label();
    let refresh = current
        .and_then(StatusView::steady_part)
        .is_some_and(|steady| Some(steady) == desired.steady_part());
    if finished || refresh {
        super::write_budget::Priority::Background
    } else {
        super::write_budget::Priority::Urgent
    }
}

/// Whether writing `desired` over `current` would store nothing new. Compared as the API stores them: a
/// status that differs only below what its JSON keeps (a time's fraction of a second) is the same status,
/// and rewriting it would be a write without an observed change.
fn stored_alike<S: StatusView>(current: &S, desired: &S) -> bool {
    current == desired
        || matches!(
            (serde_json::to_value(current), serde_json::to_value(desired)),
            (Ok(a), Ok(b)) if a == b
        )
}

/// The top-level status fields that differ (for debugging unexpected writes).
fn changed_fields<S: StatusView>(current: Option<&S>, desired: &S) -> Vec<String> {
    let object = |value: Option<serde_json::Value>| match value {
        Some(serde_json::Value::Object(fields)) => fields,
        _ => serde_json::Map::new(),
    };
    let before = object(current.and_then(|c| serde_json::to_value(c).ok()));
    let after = object(serde_json::to_value(desired).ok());
    // Fields set or changed, and fields dropped (an omitted field is removed by server-side apply).
    let keys: std::collections::BTreeSet<&String> = before.keys().chain(after.keys()).collect();
    keys.into_iter()
        .filter(|k| before.get(k.as_str()) != after.get(k.as_str()))
        .cloned()
        .collect()
}

/// The Events a status change deserves: Normal for a new phase, Warning for a new stall.
fn events_for<S: StatusView>(current: Option<&S>, desired: &S) -> Vec<Event> {
    let mut events = Vec::new();
    let new_phase = desired.phase_label();
    if new_phase.is_some() && new_phase != current.and_then(StatusView::phase_label) {
        events.push(Event {
            type_: EventType::Normal,
            reason: new_phase.unwrap_or_default().to_string(),
            note: desired.message().map(truncate),
            action: "UpdatePhase".into(),
            secondary: None,
        });
    }
    let stall = |s: &S| {
        s.conditions()
            .iter()
            .find(|c| c.type_ == STALLED && c.status == "True")
            .cloned()
    };
    if let Some(stalled) = stall(desired)
        && current.and_then(stall).map(|c| c.reason) != Some(stalled.reason.clone())
    {
        events.push(Event {
            type_: EventType::Warning,
            reason: stalled.reason,
            note: Some(truncate(&stalled.message)),
            action: "Reconcile".into(),
            secondary: None,
        });
    }
    events
}

/// Cuts a message to what an Event note may hold.
pub fn truncate(message: &str) -> String {
    if message.len() <= MAX_NOTE {
        return message.to_string();
    }
    let mut end = MAX_NOTE;
    while !message.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &message[..end])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reason::Reason;
    use crate::{
        api::{BackupTaskPhase, BackupTaskStatus},
        controller::conditions::{Health, merge},
    };

    fn status(phase: BackupTaskPhase, health: Health) -> BackupTaskStatus {
        BackupTaskStatus {
            phase: Some(phase),
            message: Some(health.message().to_string()),
            conditions: merge(&[], health.conditions(Some(1)), jiff::Timestamp::UNIX_EPOCH),
            ..BackupTaskStatus::default()
        }
    }

    fn stalled(reason: Reason) -> Health {
        Health::Stalled {
            reason,
            message: format!("because {reason}"),
        }
    }

    #[test]
    fn a_task_is_counted_finished_once_and_a_failed_log_backup_is_no_finished_task() {
        use crate::api::{LogBackupPhase, LogBackupStatus};
        let running = status(BackupTaskPhase::InProgress, stalled(Reason::InvalidInput));
        let failed = status(BackupTaskPhase::Failed, stalled(Reason::BackupFailed));
        assert_eq!(finished_now(Some(&running), &failed), Some("Failed"));
        assert_eq!(finished_now(Some(&failed), &failed), None, "counted once");
        assert_eq!(finished_now(None, &running), None);
        // An interrupted archive is Failed until archiving starts again: it is no task that ended.
        let archiving = LogBackupStatus {
            phase: Some(LogBackupPhase::InProgress),
            ..LogBackupStatus::default()
        };
        let interrupted = LogBackupStatus {
            phase: Some(LogBackupPhase::Failed),
            ..LogBackupStatus::default()
        };
        assert!(!interrupted.ended());
        assert_eq!(finished_now(Some(&archiving), &interrupted), None);
    }

    #[test]
    fn only_rewriting_a_finished_status_waits_behind_work_under_way() {
        use super::super::write_budget::Priority;
        let pending = status(BackupTaskPhase::Pending, stalled(Reason::SecretNotFound));
        let running = status(BackupTaskPhase::InProgress, stalled(Reason::InvalidInput));
        let done = status(BackupTaskPhase::Completed, stalled(Reason::InvalidInput));
        let done_again = BackupTaskStatus {
            message: Some("rewritten".into()),
            ..done.clone()
        };
        assert_eq!(
            write_priority(None, &pending),
            Priority::Urgent,
            "a first status"
        );
        assert_eq!(
            write_priority(Some(&pending), &running),
            Priority::Urgent,
            "a phase change"
        );
        assert_eq!(
            write_priority(Some(&running), &running),
            Priority::Urgent,
            "a running task's status (an intent, progress)"
        );
        assert_eq!(
            write_priority(Some(&running), &done),
            Priority::Urgent,
            "it ended"
        );
        assert_eq!(
            write_priority(Some(&done), &done_again),
            Priority::Background,
            "a finished task's status rewritten"
        );
    }

    /// A LogBackup's or a strategy's status rewritten for its checkpoint and delay alone waits behind
    /// work under way (at 100 000 tasks such refreshes were half the budget, and as urgent writes they
    /// queued ahead of tasks' phase changes); anything else it writes is urgent.
    #[test]
    fn refreshing_the_figures_that_move_by_themselves_waits_behind_work_under_way() {
        use super::super::write_budget::Priority;
        use crate::api::{
            BackupStrategyStatus, LogBackupPhase, LogBackupStatus,
            backup_strategy::TenantBackupStatus, common::TimeWindow,
        };
        use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
        let at = |s: i64| Time(jiff::Timestamp::from_second(1_800_000_000 + s).expect("time"));
        let log = |checkpoint: i64, phase| LogBackupStatus {
            phase: Some(phase),
            checkpoint_time: Some(at(checkpoint)),
            delay_seconds: Some(2),
            ..LogBackupStatus::default()
        };
        let archiving = log(0, LogBackupPhase::InProgress);
        assert_eq!(
            write_priority(Some(&archiving), &log(60, LogBackupPhase::InProgress)),
            Priority::Background,
            "the checkpoint alone"
        );
        assert_eq!(
            write_priority(Some(&archiving), &log(60, LogBackupPhase::Failed)),
            Priority::Urgent,
            "a phase change with it"
        );
        assert_eq!(
            write_priority(None, &archiving),
            Priority::Urgent,
            "a first status"
        );
        let line = |checkpoint: i64, name: &str| TenantBackupStatus {
            name: name.into(),
            status: None,
            method: None,
            last_data_backup_time: None,
            last_full_backup_time: None,
            log_checkpoint_time: Some(at(checkpoint)),
            log_delay_seconds: Some(2),
            recoverable_windows: vec![TimeWindow {
                from: at(-100),
                to: at(checkpoint),
            }],
            data_backup_bytes: Some(1),
            log_backup_bytes: Some(checkpoint),
        };
        let strategy = |checkpoint: i64, name: &str| BackupStrategyStatus {
            tenants: vec![line(checkpoint, name)],
            log_checkpoint_time: Some(at(checkpoint)),
            backup_size: Some(format!("{checkpoint} B")),
            ..BackupStrategyStatus::default()
        };
        assert_eq!(
            write_priority(Some(&strategy(0, "t1")), &strategy(60, "t1")),
            Priority::Background,
            "checkpoints, bytes and the window's end"
        );
        assert_eq!(
            write_priority(Some(&strategy(0, "t1")), &strategy(60, "t2")),
            Priority::Urgent,
            "another tenant"
        );
    }

    #[test]
    fn a_status_that_differs_only_below_what_is_stored_is_not_rewritten() {
        use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
        let stored = BackupTaskStatus {
            ended_at: Some(Time("2026-11-23T06:47:17Z".parse().expect("time"))),
            ..status(BackupTaskPhase::Canceled, stalled(Reason::InvalidInput))
        };
        let recomputed = BackupTaskStatus {
            ended_at: Some(Time("2026-11-23T06:47:17.936143Z".parse().expect("time"))),
            ..stored.clone()
        };
        assert_ne!(stored, recomputed);
        assert!(stored_alike(&stored, &recomputed));
        let later = BackupTaskStatus {
            ended_at: Some(Time("2026-11-23T06:47:18Z".parse().expect("time"))),
            ..stored.clone()
        };
        assert!(!stored_alike(&stored, &later));
    }

    #[test]
    fn the_debug_line_names_fields_set_changed_and_dropped() {
        let first = status(BackupTaskPhase::Pending, stalled(Reason::SecretNotFound));
        let named = changed_fields(None, &first);
        assert!(
            named.contains(&"phase".to_string()) && named.contains(&"conditions".to_string()),
            "a first status names its fields: {named:?}"
        );
        let with_job = BackupTaskStatus {
            job_id: Some(7),
            ..first.clone()
        };
        assert_eq!(changed_fields(Some(&with_job), &first), ["jobId"]);
    }

    #[test]
    fn first_status_announces_its_phase_and_its_stall() {
        let desired = status(BackupTaskPhase::Pending, stalled(Reason::SecretNotFound));
        let events = events_for(None, &desired);
        let summary: Vec<_> = events
            .iter()
            .map(|e| (e.type_, e.reason.as_str()))
            .collect();
        assert_eq!(
            summary,
            [
                (EventType::Normal, "Pending"),
                (EventType::Warning, "SecretNotFound")
            ]
        );
    }

    #[test]
    fn same_phase_and_same_stall_announce_nothing_new() {
        let current = status(BackupTaskPhase::Pending, stalled(Reason::SecretNotFound));
        let desired = status(BackupTaskPhase::Pending, stalled(Reason::SecretNotFound));
        assert!(events_for(Some(&current), &desired).is_empty());
    }

    #[test]
    fn a_different_stall_is_announced() {
        let current = status(BackupTaskPhase::Pending, stalled(Reason::SecretNotFound));
        let desired = status(BackupTaskPhase::Pending, stalled(Reason::StrategyNotFound));
        let reasons: Vec<_> = events_for(Some(&current), &desired)
            .into_iter()
            .map(|e| e.reason)
            .collect();
        assert_eq!(reasons, [Reason::StrategyNotFound]);
    }

    #[test]
    fn long_notes_are_cut_on_a_character_boundary() {
        let long = "é".repeat(MAX_NOTE);
        let cut = truncate(&long);
        assert!(cut.len() <= MAX_NOTE + "…".len());
        assert!(cut.ends_with('…'));
    }

    /// The phase a metric and an Event show is the phase the status shows: the static name of each variant
    /// is its name in YAML.
    #[test]
    fn every_phase_label_is_the_phase_as_written_in_yaml() {
        fn each<P: strum::IntoEnumIterator + Serialize + Into<&'static str>>() {
            for phase in P::iter() {
                let yaml = serde_json::to_value(&phase).expect("serialised");
                let label: &'static str = phase.into();
                assert_eq!(yaml.as_str(), Some(label));
            }
        }
        each::<crate::api::StrategyPhase>();
        each::<BackupTaskPhase>();
        each::<crate::api::CleanupTaskPhase>();
        each::<crate::api::LogBackupPhase>();
        each::<crate::api::RecoveryTaskPhase>();
    }
}
