//! `cause`: the console's "View Cause" — why a task stands where it does: its status, OceanBase's error code
//! and comment when it failed, its conditions, and the events about it, oldest first.

use k8s_openapi::{
    api::events::v1::Event,
    apimachinery::pkg::apis::meta::v1::{Condition, Time},
};
use kube::{Api, Client, api::ListParams};
use ob_backup_operator::api::{BackupTask, CleanupTask, LogBackup, RecoveryTask, common::Failure};

use crate::render::{Clock, Table};

/// What a task's status says about why.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Why {
    pub kind: &'static str,
    pub phase: Option<String>,
    pub message: Option<String>,
    pub failure: Option<Failure>,
    pub conditions: Vec<Condition>,
}

fn why<S>(
    kind: &'static str,
    status: Option<S>,
    parts: impl Fn(
        S,
    ) -> (
        Option<String>,
        Option<String>,
        Option<Failure>,
        Vec<Condition>,
    ),
) -> Why {
    let (phase, message, failure, conditions) =
        status.map_or((None, None, None, Vec::new()), parts);
    Why {
        kind,
        phase,
        message,
        failure,
        conditions,
    }
}

fn label<T: std::fmt::Debug>(phase: Option<T>) -> Option<String> {
    phase.map(|p| format!("{p:?}"))
}

/// Finds the task `name` among the kinds that can fail.
pub async fn find(client: &Client, namespace: &str, name: &str) -> Result<Why, String> {
    let get_error = |e: kube::Error| format!("cannot read {name}: {e}");
    let backup: Api<BackupTask> = Api::namespaced(client.clone(), namespace);
    if let Some(t) = backup.get_opt(name).await.map_err(get_error)? {
        return Ok(why("BackupTask", t.status, |s| {
            (label(s.phase), s.message, s.failure, s.conditions)
        }));
    }
    let recovery: Api<RecoveryTask> = Api::namespaced(client.clone(), namespace);
    if let Some(t) = recovery.get_opt(name).await.map_err(get_error)? {
        return Ok(why("RecoveryTask", t.status, |s| {
            (label(s.phase), s.message, s.failure, s.conditions)
        }));
    }
    let cleanup: Api<CleanupTask> = Api::namespaced(client.clone(), namespace);
    if let Some(t) = cleanup.get_opt(name).await.map_err(get_error)? {
        return Ok(why("CleanupTask", t.status, |s| {
            (label(s.phase), s.message, s.failure, s.conditions)
        }));
    }
    let log: Api<LogBackup> = Api::namespaced(client.clone(), namespace);
    if let Some(t) = log.get_opt(name).await.map_err(get_error)? {
        return Ok(why("LogBackup", t.status, |s| {
            (label(s.phase), s.message, s.failure, s.conditions)
        }));
    }
    Err(format!(
        "no BackupTask, RecoveryTask, CleanupTask or LogBackup {name} in namespace {namespace}"
    ))
}

/// The events about `name`, oldest first.
pub async fn events(client: &Client, namespace: &str, name: &str) -> Result<Vec<Event>, String> {
    let api: Api<Event> = Api::namespaced(client.clone(), namespace);
    let mut events = api
        .list(&ListParams::default().fields(&format!("regarding.name={name}")))
        .await
        .map_err(|e| format!("cannot list events: {e}"))?
        .items;
    events.sort_by_key(|e| when(e).map(|t| t.0));
    Ok(events)
}

/// When the event (or its latest repetition) happened.
fn when(event: &Event) -> Option<Time> {
    event
        .series
        .as_ref()
        .map(|s| Time(s.last_observed_time.0))
        .or_else(|| event.event_time.as_ref().map(|t| Time(t.0)))
        .or_else(|| event.deprecated_last_timestamp.clone())
        .or_else(|| event.metadata.creation_timestamp.clone())
}

/// The cause as text.
pub fn render(name: &str, why: &Why, events: &[Event], clock: &Clock, colour: bool) -> String {
    let mut text = format!(
        "{} {name}: {}\n",
        why.kind,
        why.phase.as_deref().unwrap_or("no status yet")
    );
    if let Some(failure) = &why.failure {
        match failure.code {
            Some(code) => text.push_str(&format!("OceanBase error {code}: {}\n", failure.message)),
            None => text.push_str(&format!("Failure: {}\n", failure.message)),
        }
    }
    if let Some(message) = &why.message {
        text.push_str(&format!("Message: {message}\n"));
    }
    let mut conditions = Table::new(&["CONDITION", "STATUS", "REASON", "SINCE", "MESSAGE"]);
    for c in &why.conditions {
        conditions.push(vec![
            c.type_.clone(),
            c.status.clone(),
            c.reason.clone(),
            clock.show(Some(&c.last_transition_time)),
            c.message.clone(),
        ]);
    }
    if !conditions.rows.is_empty() {
        text.push('\n');
        text.push_str(&conditions.render(colour));
    }
    let mut table = Table::new(&["TIME", "TYPE", "REASON", "COUNT", "NOTE"]);
    for event in events {
        let count = event
            .series
            .as_ref()
            .map(|s| s.count)
            .or(event.deprecated_count)
            .unwrap_or(1);
        table.push(vec![
            clock.show(when(event).as_ref()),
            event.type_.clone().unwrap_or_default(),
            event.reason.clone().unwrap_or_default(),
            count.to_string(),
            event.note.clone().unwrap_or_default(),
        ]);
    }
    if !table.rows.is_empty() {
        text.push('\n');
        text.push_str(&table.render(colour));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failure_shows_oceanbases_code_and_comment_then_conditions() {
        let why = Why {
            kind: "BackupTask",
            phase: Some("Failed".into()),
            message: Some("the backup failed".into()),
            failure: Some(Failure {
                code: Some(-9081),
                message: "backup format file not match".into(),
            }),
            conditions: Vec::new(),
        };
        let text = render("t", &why, &[], &Clock::new(true), false);
        assert_eq!(
            text,
            "BackupTask t: Failed\nOceanBase error -9081: backup format file not match\n\
             Message: the backup failed\n"
        );
    }
}
