//! A logical strategy's restore drill (docs/guide/restore-drills.md): after its load into `drill_`
//! databases, every table of the copy is checked against the dump (`Verifying`, [`crate::logical::verify`]),
//! then the copy's databases are dropped (`Dropping`) and the task ends Completed when every table equals
//! the dump, Failed when not. A load that failed fails the drill and drops what it wrote; `keepFailed`
//! keeps it. The three are background work under their own keys; each stage forgets the one before.

use jiff::Timestamp;

use super::decide::drill::{dropped, ended_health, failed_status, judged, to_verify};
use crate::{
    api::{
        RecoveryTask, RecoveryTaskPhase, RecoveryTaskStatus,
        drill::{CheckResult, DrillStatus, DrillVerdict},
    },
    background::Key,
    controller::{Context, conditions::Health, logical::Decided, logical::work::Standing},
    logical::jobs::{Finished, JobState, LoadJob, Work},
    reason::Reason,
    timing::{DRILL_NEXT_STAGE, RETRY_TRANSIENT_AFTER},
};

/// The work a drill's stage runs, under its key: the load, the check of the copy, or its drop. Entering a
/// stage forgets the work of the one before. Before a drill's load starts in this process, what an earlier
/// process may have loaded (it stopped mid-load) is dropped under a key of its own: loaded again over it,
/// the load would be refused, and the drill fail for the restart.
pub fn work(
    ctx: &Context,
    task: &RecoveryTask,
    base: &RecoveryTaskStatus,
    load: LoadJob,
    load_key: Key,
) -> (Key, Work) {
    let part = |name: &str| Key::part(&load_key.namespace, &load_key.name, name.to_string());
    match base.phase {
        Some(RecoveryTaskPhase::Verifying) => {
            ctx.logical_work.forget(&load_key);
            (part("drill-verify"), Work::Verify(load))
        }
        Some(RecoveryTaskPhase::Dropping) => {
            ctx.logical_work.forget(&load_key);
            ctx.logical_work.forget(&part("drill-verify"));
            (part("drill-drop"), Work::DropCopy(load))
        }
        _ if task.spec.drill.is_some() => {
            let reset = part(RESET);
            let reset_done = matches!(ctx.logical_work.state(&reset), Some(JobState::Done(_)));
            if ctx.logical_work.state(&load_key).is_none() && !reset_done {
                return (reset, Work::DropCopy(load));
            }
            ctx.logical_work.forget(&reset);
            (load_key, Work::Load(load))
        }
        _ => (load_key, Work::Load(load)),
    }
}

/// The key part of the drop of a partial copy before a drill's load starts again.
const RESET: &str = "drill-reset";

/// The decision at a drill's own stage (`None` before it: the load's decision applies, then [`after_load`]).
pub fn stage(
    task: &RecoveryTask,
    base: &RecoveryTaskStatus,
    standing: &Standing<'_>,
    now: Timestamp,
) -> Option<Decided<RecoveryTaskStatus>> {
    let drill = task.spec.drill.as_ref()?;
    let late = crate::drill::deadline(task).is_some_and(|d| now >= d);
    match base.phase {
        Some(RecoveryTaskPhase::Dropping) => Some(dropping(task, base.clone(), standing, now)),
        _ if matches!(standing, Standing::Done(Finished::Dropped(_))) => {
            Some(reset(task, base.clone()))
        }
        _ if late => {
            let message = format!("the drill did not finish within its {}", drill.timeout);
            Some(fail(task, base.clone(), message, now))
        }
        Some(RecoveryTaskPhase::Verifying) => Some(verifying(task, base.clone(), standing)),
        _ => None,
    }
}

/// The load's decision, for a drill: a load that completed goes on to the check of the copy; one that
/// failed fails the drill.
pub fn after_load(
    task: &RecoveryTask,
    load: Decided<RecoveryTaskStatus>,
    now: Timestamp,
) -> Decided<RecoveryTaskStatus> {
    if task.spec.drill.is_none() {
        return load;
    }
    match load.status.phase {
        Some(RecoveryTaskPhase::Completed) => Decided {
            status: to_verify(load.status),
            health: checking(task),
            extra: load.extra,
            wait: Some(DRILL_NEXT_STAGE),
        },
        Some(RecoveryTaskPhase::Failed | RecoveryTaskPhase::Canceled) => {
            let message = load.status.failure.as_ref().map_or_else(
                || "the load ended without success".to_string(),
                |f| format!("the load failed: {}", f.message),
            );
            fail(task, load.status, message, now)
        }
        _ => load,
    }
}

/// Nothing of an earlier load is left: the load starts, Pending.
fn reset(task: &RecoveryTask, base: RecoveryTaskStatus) -> Decided<RecoveryTaskStatus> {
    let status = RecoveryTaskStatus {
        phase: Some(RecoveryTaskPhase::Pending),
        ..base
    };
    let health = Health::Progressing {
        reason: Reason::Pending,
        message: format!(
            "no copy of an earlier attempt is left in tenant {}: the load starts",
            task.spec.target.tenant
        ),
    };
    wait(status, health, Some(DRILL_NEXT_STAGE))
}

fn checking(task: &RecoveryTask) -> Health {
    Health::Progressing {
        reason: Reason::Verifying,
        message: format!(
            "checking every table of the copy in tenant {} against the dump",
            task.spec.target.tenant
        ),
    }
}

/// The check of the copy under way, or its verdict.
fn verifying(
    task: &RecoveryTask,
    base: RecoveryTaskStatus,
    standing: &Standing<'_>,
) -> Decided<RecoveryTaskStatus> {
    match standing {
        Standing::Done(Finished::Verified(tables)) => verdict(task, base, tables),
        Standing::Running(_) | Standing::Done(_) => wait(base, checking(task), None),
        Standing::Interrupted { message, .. } => {
            let health = Health::Progressing {
                reason: Reason::Verifying,
                message: format!("the check of the copy was interrupted ({message}); trying again"),
            };
            wait(base, health, Some(RETRY_TRANSIENT_AFTER))
        }
        other => fail(
            task,
            base,
            format!("the copy could not be checked: {}", said(other)),
            crate::clock::now(),
        ),
    }
}

/// The verdict of the tables' checks.
fn verdict(
    task: &RecoveryTask,
    base: RecoveryTaskStatus,
    tables: &[crate::logical::verify::TableCheck],
) -> Decided<RecoveryTaskStatus> {
    let checks: Vec<CheckResult> = tables
        .iter()
        .map(|t| CheckResult {
            name: t.table.clone(),
            passed: t.passed,
            message: t.message.clone(),
        })
        .collect();
    let base = RecoveryTaskStatus {
        drill: Some(DrillStatus {
            checks: checks.clone(),
            ..base.drill.clone().unwrap_or_default()
        }),
        ..base
    };
    match checks.iter().find(|c| !c.passed) {
        Some(bad) => {
            let message = format!("table {} differs from the dump: {}", bad.name, bad.message);
            fail(task, base, message, crate::clock::now())
        }
        None => {
            let message = format!(
                "loaded, and every table ({}) equals the dump taken at its snapshot",
                checks.len()
            );
            let status = judged(base, DrillVerdict::Passed, message);
            let health = drop_health(task);
            wait(status, health, Some(DRILL_NEXT_STAGE))
        }
    }
}

/// A failed drill: its copy dropped, or kept on `keepFailed`.
fn fail(
    task: &RecoveryTask,
    base: RecoveryTaskStatus,
    message: String,
    now: Timestamp,
) -> Decided<RecoveryTaskStatus> {
    let prefix = task
        .spec
        .target
        .logical
        .as_ref()
        .and_then(|l| l.database_prefix.clone())
        .unwrap_or_default();
    let kept = format!(
        "the databases {prefix}* in tenant {} are kept for inspection (keepFailed): drop them yourself",
        task.spec.target.tenant
    );
    match failed_status(task, base, message, true, &kept, now) {
        (status, Some(health)) => wait(status, health, None),
        (status, None) => wait(status, drop_health(task), Some(DRILL_NEXT_STAGE)),
    }
}

fn drop_health(task: &RecoveryTask) -> Health {
    Health::Progressing {
        reason: Reason::DroppingScratch,
        message: format!(
            "dropping the drill's databases in tenant {}",
            task.spec.target.tenant
        ),
    }
}

/// The drop of the copy under way, or done: the drill ends.
fn dropping(
    task: &RecoveryTask,
    base: RecoveryTaskStatus,
    standing: &Standing<'_>,
    now: Timestamp,
) -> Decided<RecoveryTaskStatus> {
    match standing {
        Standing::Done(Finished::Dropped(_)) => {
            let status = dropped(base, now);
            let health = ended_health(&status);
            Decided {
                status,
                health,
                extra: None,
                wait: None,
            }
        }
        Standing::Running(_) | Standing::Done(_) => wait(base, drop_health(task), None),
        Standing::Interrupted { .. } => wait(base, drop_health(task), Some(RETRY_TRANSIENT_AFTER)),
        other => {
            let health = Health::Stalled {
                reason: Reason::DrillFailed,
                message: format!(
                    "the drill's databases in tenant {} could not be dropped: {}; the drop is tried again",
                    task.spec.target.tenant,
                    said(other)
                ),
            };
            wait(base, health, Some(RETRY_TRANSIENT_AFTER))
        }
    }
}

fn wait(
    status: RecoveryTaskStatus,
    health: Health,
    wait: Option<std::time::Duration>,
) -> Decided<RecoveryTaskStatus> {
    Decided {
        status,
        health,
        extra: None,
        wait,
    }
}

/// What a stopped piece of work said.
fn said(standing: &Standing<'_>) -> String {
    match standing {
        Standing::AccessDenied(message) | Standing::Interrupted { message, .. } => {
            (*message).to_string()
        }
        Standing::Refused { message, .. } => (*message).to_string(),
        Standing::Failed(failure) => failure.message.clone(),
        Standing::Canceled => "canceled".into(),
        Standing::Running(_) | Standing::Done(_) => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

    use super::*;
    use crate::logical::verify::TableCheck;

    fn at(text: &str) -> Timestamp {
        text.parse().expect("time")
    }

    fn task(keep_failed: bool) -> RecoveryTask {
        let mut task: RecoveryTask = serde_json::from_value(serde_json::json!({
            "apiVersion": "obbackup.dev/v1alpha1", "kind": "RecoveryTask",
            "metadata": {"name": "d", "namespace": "ns", "creationTimestamp": "2026-11-26T03:00:00Z"},
            "spec": {
                "source": {"tenant": "tenant1", "logical": {"backupTask": "dump"}},
                "target": {"cluster": {"name": "ob", "connectionSecret": "ob"}, "tenant": "tenant1",
                           "logical": {"credentialsSecret": "loader", "databasePrefix": "drill_tenant1_20261126030000_"}},
                "drill": {"credentialsSecret": "loader", "timeout": "1h", "keepFailed": keep_failed},
            },
        }))
        .expect("task");
        task.metadata.creation_timestamp = Some(Time(at("2026-11-26T03:00:00Z")));
        task
    }

    fn phase(phase: RecoveryTaskPhase) -> RecoveryTaskStatus {
        RecoveryTaskStatus {
            phase: Some(phase),
            ..RecoveryTaskStatus::default()
        }
    }

    fn table(passed: bool) -> TableCheck {
        TableCheck {
            table: "shop.orders".into(),
            passed,
            message: if passed {
                "equal"
            } else {
                "chunk 2 of 3 differs"
            }
            .into(),
        }
    }

    const NOW: &str = "2026-11-26T03:10:00Z";

    #[test]
    fn a_completed_load_goes_on_to_the_check_and_an_equal_copy_to_the_drop_then_the_end() {
        let task = task(false);
        let loaded = Decided {
            status: phase(RecoveryTaskPhase::Completed),
            health: checking(&task),
            extra: None,
            wait: None,
        };
        let verifying = after_load(&task, loaded, at(NOW));
        assert_eq!(verifying.status.phase, Some(RecoveryTaskPhase::Verifying));
        assert_eq!(
            verifying.wait,
            Some(DRILL_NEXT_STAGE),
            "the check is started at once"
        );
        let verified = Finished::Verified(vec![table(true)]);
        let judged = stage(
            &task,
            &verifying.status,
            &Standing::Done(&verified),
            at(NOW),
        )
        .expect("a stage");
        assert_eq!(judged.status.phase, Some(RecoveryTaskPhase::Dropping));
        let drill = judged.status.drill.clone().expect("drill");
        assert_eq!(drill.verdict, Some(DrillVerdict::Passed));
        assert_eq!(drill.checks.len(), 1);
        let gone = Finished::Dropped(vec!["drill_tenant1_20261126030000_shop".into()]);
        let ended = stage(&task, &judged.status, &Standing::Done(&gone), at(NOW)).expect("a stage");
        assert_eq!(ended.status.phase, Some(RecoveryTaskPhase::Completed));
        assert!(ended.status.drill.is_some_and(|d| d.dropped));
    }

    #[test]
    fn a_copy_that_differs_fails_and_is_dropped_unless_kept() {
        let differs = Finished::Verified(vec![table(false)]);
        let base = phase(RecoveryTaskPhase::Verifying);
        let dropped =
            stage(&task(false), &base, &Standing::Done(&differs), at(NOW)).expect("a stage");
        assert_eq!(dropped.status.phase, Some(RecoveryTaskPhase::Dropping));
        let message = dropped
            .status
            .drill
            .and_then(|d| d.message)
            .unwrap_or_default();
        assert!(
            message.contains("table shop.orders differs from the dump"),
            "{message}"
        );
        let kept = stage(&task(true), &base, &Standing::Done(&differs), at(NOW)).expect("a stage");
        assert_eq!(kept.status.phase, Some(RecoveryTaskPhase::Failed));
        let message = kept
            .status
            .drill
            .and_then(|d| d.message)
            .unwrap_or_default();
        assert!(
            message.contains("drill_tenant1_20261126030000_*"),
            "{message}"
        );
    }

    #[test]
    fn a_drill_past_its_timeout_fails_and_drops_and_a_drop_is_never_cut_short() {
        let running = phase(RecoveryTaskPhase::InProgress);
        let late = at("2026-11-26T04:00:01Z");
        let progress = crate::logical::Progress::default();
        let timed_out =
            stage(&task(false), &running, &Standing::Running(&progress), late).expect("a stage");
        assert_eq!(timed_out.status.phase, Some(RecoveryTaskPhase::Dropping));
        // Dropping past the deadline still drops, and ends.
        let dropping = timed_out.status;
        let gone = Finished::Dropped(Vec::new());
        let ended = stage(&task(false), &dropping, &Standing::Done(&gone), late).expect("a stage");
        assert_eq!(ended.status.phase, Some(RecoveryTaskPhase::Failed));
        // A task that is no drill has no stage of its own.
        let mut plain = task(false);
        plain.spec.drill = None;
        assert!(stage(&plain, &running, &Standing::Running(&progress), late).is_none());
    }
}
