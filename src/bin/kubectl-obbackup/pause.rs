//! The console's "Pause" and resume of a strategy: its `spec.suspend` is set or cleared, and the operator
//! stops or starts scheduling its automatic backups (log archiving keeps running; "Back up Now" still
//! works). The strategy stays the one place that says so, so GitOps sees the change as a change of it.

use kube::Api;
use ob_backup_operator::api::BackupStrategy;
use serde_json::{Value, json};

use crate::{actions, render::Reply};

/// The merge patch that pauses (`pause`) or resumes the strategy, or `None` when it already is so.
pub fn suspend_patch(strategy: &BackupStrategy, pause: bool) -> Option<Value> {
    (strategy.spec.suspend != pause).then(|| json!({"spec": {"suspend": pause}}))
}

/// Runs `pause STRATEGY` (`pause`) or `resume STRATEGY`.
pub async fn run(
    client: &kube::Client,
    namespace: &str,
    name: &str,
    pause: bool,
) -> Result<Reply, String> {
    let api: Api<BackupStrategy> = Api::namespaced(client.clone(), namespace);
    let (strategy, changed) =
        actions::change_strategy(&api, name, |s| Ok(suspend_patch(s, pause))).await?;
    let said = match (changed, pause) {
        // What was done is the spec's change; the operator acts on it at its next look (phase Paused).
        (true, true) => {
            "asked to pause (spec.suspend: true): no scheduled backup starts until resumed"
        }
        (true, false) => "asked to resume (spec.suspend: false)",
        (false, true) => "already asked to pause",
        (false, false) => "not paused",
    };
    Reply::new(format!("backupstrategy/{name} {said}\n")).with(&strategy)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strategy(suspend: bool) -> BackupStrategy {
        serde_json::from_value(json!({
            "apiVersion": "obbackup.dev/v1alpha1", "kind": "BackupStrategy",
            "metadata": {"name": "demo"},
            "spec": {
                "cluster": {"name": "ob", "connectionSecret": "ob"}, "tenants": ["tenant1"],
                "dataDestination": {"uri": "file:///d"}, "logDestination": {"uri": "file:///l"},
                "schedule": {"timeZone": "UTC", "full": "0 1 * * 0"}, "suspend": suspend,
            },
        }))
        .expect("strategy")
    }

    #[test]
    fn pause_sets_suspend_resume_clears_it_and_neither_writes_what_is_already_so() {
        assert_eq!(
            suspend_patch(&strategy(false), true),
            Some(json!({"spec": {"suspend": true}}))
        );
        assert_eq!(
            suspend_patch(&strategy(true), false),
            Some(json!({"spec": {"suspend": false}}))
        );
        assert_eq!(suspend_patch(&strategy(true), true), None);
        assert_eq!(suspend_patch(&strategy(false), false), None);
    }
}
