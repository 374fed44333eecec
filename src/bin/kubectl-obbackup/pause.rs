//! The console's "Pause" and resume of a strategy: its `spec.suspend` is set or cleared, and the operator
//! stops or starts scheduling its automatic backups (log archiving keeps running; "Back up Now" still
//! works). The strategy stays the one place that says so, so GitOps sees the change as a change of it.

use kube::{
    Api, ResourceExt,
    api::{Patch, PatchParams},
};
use ob_backup_operator::api::BackupStrategy;
use serde_json::{Value, json};

use crate::render::Reply;

/// The merge patch that pauses (`pause`) or resumes the strategy, or `None` when it already is so.
pub fn suspend_patch(strategy: &BackupStrategy, pause: bool) -> Option<Value> {
    (strategy.spec.suspend != pause).then(|| {
        json!({
            "metadata": {"resourceVersion": strategy.resource_version()},
            "spec": {"suspend": pause},
        })
    })
}

/// Runs `pause STRATEGY` (`pause`) or `resume STRATEGY`.
pub async fn run(
    client: &kube::Client,
    namespace: &str,
    name: &str,
    pause: bool,
) -> Result<Reply, String> {
    let api: Api<BackupStrategy> = Api::namespaced(client.clone(), namespace);
    let (asked, done) = if pause {
        (
            "paused",
            "scheduling paused: no automatic backup starts until resumed",
        )
    } else {
        ("resumed", "scheduling resumed")
    };
    // A change made by someone else between the read and the write is not overwritten: the write names
    // the version it was read at, and is made again from the newer one.
    let mut attempts = 0;
    loop {
        attempts += 1;
        let strategy = api
            .get_opt(name)
            .await
            .map_err(|e| format!("cannot read BackupStrategy {name}: {e}"))?
            .ok_or_else(|| format!("no BackupStrategy {name} in namespace {namespace}"))?;
        let Some(patch) = suspend_patch(&strategy, pause) else {
            return Reply::new(format!("backupstrategy/{name} already {asked}\n")).with(&strategy);
        };
        match api
            .patch(name, &PatchParams::default(), &Patch::Merge(&patch))
            .await
        {
            Ok(changed) => {
                return Reply::new(format!("backupstrategy/{name} {done}\n")).with(&changed);
            }
            Err(kube::Error::Api(e)) if e.code == 409 && attempts < 5 => continue,
            Err(e) => return Err(format!("cannot change BackupStrategy {name}: {e}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strategy(suspend: bool) -> BackupStrategy {
        serde_json::from_value(json!({
            "apiVersion": "obbackup.dev/v1alpha1", "kind": "BackupStrategy",
            "metadata": {"name": "demo", "resourceVersion": "7"},
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
            Some(json!({"metadata": {"resourceVersion": "7"}, "spec": {"suspend": true}}))
        );
        assert_eq!(
            suspend_patch(&strategy(true), false),
            Some(json!({"metadata": {"resourceVersion": "7"}, "spec": {"suspend": false}}))
        );
        assert_eq!(suspend_patch(&strategy(true), true), None);
        assert_eq!(suspend_patch(&strategy(false), false), None);
    }
}
