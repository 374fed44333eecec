//! `cause`: the console's "View Cause" — why a task stands where it does: its status, OceanBase's error code
//! and comment when it failed, its conditions, and the events about it, oldest first.

use k8s_openapi::NamespaceResourceScope;
use k8s_openapi::{
    api::events::v1::Event,
    apimachinery::pkg::apis::meta::v1::{Condition, Time},
};
use kube::{Api, Client, Resource, api::ListParams};
use ob_backup_operator::api::{BackupTask, CleanupTask, LogBackup, RecoveryTask, common::Failure};

use crate::{
    render::{Table, TimeFormat},
    tasks::TaskTab,
};

/// What a task's status says about why, and the task itself (for scripts).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Why {
    pub kind: String,
    pub phase: Option<String>,
    pub message: Option<String>,
    pub failure: Option<Failure>,
    pub conditions: Vec<Condition>,
    pub object: serde_json::Value,
}

/// The `K` named `name` with what its status says about why, if there is one.
async fn why<K>(client: &Client, namespace: &str, name: &str) -> Result<Option<Why>, String>
where
    K: TaskTab
        + Resource<Scope = NamespaceResourceScope>
        + serde::de::DeserializeOwned
        + std::fmt::Debug,
{
    let Some(task) = get::<K>(client, namespace, name).await? else {
        return Ok(None);
    };
    let (message, failure, conditions) = task.cause();
    Ok(Some(Why {
        kind: K::kind(&()).into_owned(),
        phase: task.phase(),
        message,
        failure,
        conditions,
        object: serde_json::to_value(&task).map_err(|e| e.to_string())?,
    }))
}

/// The `K` named `name` in `namespace`, if there is one.
pub async fn get<K>(client: &Client, namespace: &str, name: &str) -> Result<Option<K>, String>
where
    K: Resource<DynamicType = (), Scope = NamespaceResourceScope>
        + Clone
        + serde::de::DeserializeOwned
        + std::fmt::Debug,
{
    Api::<K>::namespaced(client.clone(), namespace)
        .get_opt(name)
        .await
        .map_err(|e| format!("cannot read {} {name}: {e}", K::kind(&())))
}

/// Finds the task `name` among the kinds that can fail.
pub async fn find(client: &Client, namespace: &str, name: &str) -> Result<Why, String> {
    if let Some(found) = why::<BackupTask>(client, namespace, name).await? {
        return Ok(found);
    }
    if let Some(found) = why::<RecoveryTask>(client, namespace, name).await? {
        return Ok(found);
    }
    if let Some(found) = why::<CleanupTask>(client, namespace, name).await? {
        return Ok(found);
    }
    if let Some(found) = why::<LogBackup>(client, namespace, name).await? {
        return Ok(found);
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
pub fn render(name: &str, why: &Why, events: &[Event], clock: &TimeFormat, colour: bool) -> String {
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
    // A LogBackup's second copy: when it started, paused, resumed and stopped.
    let schedule = crate::copy::schedule(&why.object, clock);
    let tables = crate::render::sections([&conditions, &schedule, &table], colour);
    if !tables.is_empty() {
        text.push('\n');
        text.push_str(&tables);
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failure_shows_oceanbases_code_and_comment_then_conditions() {
        let why = Why {
            kind: "BackupTask".into(),
            phase: Some("Failed".into()),
            message: Some("the backup failed".into()),
            failure: Some(Failure {
                code: Some(-9081),
                message: "backup format file not match".into(),
            }),
            conditions: Vec::new(),
            object: serde_json::Value::Null,
        };
        let text = render("t", &why, &[], &TimeFormat::new(true), false);
        assert_eq!(
            text,
            "BackupTask t: Failed\nOceanBase error -9081: backup format file not match\n\
             Message: the backup failed\n"
        );
    }
}
