//! A strategy's destinations looked at again from the operator's pod every `--destination-check-seconds`
//! (5 minutes by default), without waiting for a backup to fail: a bucket removed, keys revoked or a
//! directory replaced after OceanBase accepted the destination turns `DestinationReady` False (with a
//! Warning event) within that interval, and True again at the first check after it is fixed
//! (docs/guide/strategies.md).
//!
//! Each tenant's data and log directory is checked: on object storage the operator writes a small object
//! (`.obbackup/destination-check`) with the destination's keys and deletes it — two requests per directory
//! per check; on a `file://` share it sees (`--file-destination-root`, mounted read-only by default) it
//! checks that the directory is a directory it can read; a `file://` destination without that mount is not
//! checked. The last check's time and outcome are kept in this process's memory, per strategy, not in the
//! status: strategies reconcile every few seconds while they archive, and a status field would cost an API
//! write per check for a value nobody reads; a restarted operator checks once more at once.

use kube::{
    ResourceExt,
    runtime::events::{Event, EventType},
};

use super::super::{Context, Error, references};
use crate::{
    api::{BackupStrategy, common::StorageDestination},
    oceanbase::{AccessKeys, Redactor},
    reason::Reason,
    storage::{Location, Scheme, StorageError},
};

pub use crate::controller::destination_checks::Problems;

/// The strategy's key in the destination checks' memory.
pub fn key(namespace: &str, strategy: &BackupStrategy) -> String {
    format!("{namespace}/{}", strategy.name_any())
}

/// The problems the destination check finds for `tenants`: the last check's while it is fresh, else a
/// new check's (a Warning event when it finds something new).
pub async fn recheck(
    ctx: &Context,
    namespace: &str,
    strategy: &BackupStrategy,
    tenants: &[String],
) -> Result<Problems, Error> {
    let spec = &strategy.spec;
    let Some(log) = &spec.log_destination else {
        return Ok(Vec::new());
    };
    let key = key(namespace, strategy);
    let what = format!(
        "{} {} {}",
        spec.data_destination.uri,
        log.uri,
        tenants.join(",")
    );
    let every = ctx.settings.destination_check;
    if let Some(problems) = ctx.destination_checks.fresh(&key, &what, every) {
        return Ok(problems);
    }
    let mut directories = Vec::new();
    for (root, kind) in [(&spec.data_destination, "data"), (log, "log")] {
        let keys = references::access_keys(ctx, namespace, root).await?;
        for tenant in tenants {
            directories.push((tenant.clone(), kind, root.for_tenant(tenant), keys.clone()));
        }
    }
    let problems = check_all(directories, ctx.settings.file_root).await;
    let before = ctx.destination_checks.record(&key, what, problems.clone());
    if let Some((tenant, problem)) = problems.first()
        && before.as_ref() != Some(&problems)
    {
        warn(ctx, strategy, &format!("tenant {tenant}: {problem}")).await;
    }
    Ok(problems)
}

/// Checks every directory at once (a few at a time), all by one deadline: a strategy of many tenants on an
/// endpoint that never answers holds its reconcile for [`crate::timing::DESTINATION_CHECK_TIMEOUT`], not
/// that long per directory. Returns the tenants' problems, in the order given.
async fn check_all(
    directories: Vec<(String, &'static str, StorageDestination, Option<AccessKeys>)>,
    file_root: Option<&std::path::Path>,
) -> Problems {
    use futures::StreamExt;
    let deadline = tokio::time::Instant::now() + crate::timing::DESTINATION_CHECK_TIMEOUT;
    let mut checks = Vec::with_capacity(directories.len());
    for (tenant, kind, directory, keys) in directories {
        checks.push(check_one(
            tenant, kind, directory, keys, file_root, deadline,
        ));
    }
    let found: Vec<Option<(String, String)>> = futures::stream::iter(checks)
        .buffered(DIRECTORIES_AT_ONCE)
        .collect()
        .await;
    found.into_iter().flatten().collect()
}

/// One tenant's directory checked by `deadline`: its problem, if it has one.
async fn check_one(
    tenant: String,
    kind: &'static str,
    directory: StorageDestination,
    keys: Option<AccessKeys>,
    file_root: Option<&std::path::Path>,
    deadline: tokio::time::Instant,
) -> Option<(String, String)> {
    let checked = check_directory(&directory, keys.as_ref(), file_root);
    let outcome = tokio::time::timeout_at(deadline, checked)
        .await
        .unwrap_or_else(|_| {
            Err(format!(
                "no answer within {}s",
                crate::timing::DESTINATION_CHECK_TIMEOUT.as_secs()
            ))
        });
    outcome
        .err()
        .map(|why| (tenant, words(kind, &directory, keys.as_ref(), &why)))
}

/// How many directories are checked at once.
const DIRECTORIES_AT_ONCE: usize = 16;

/// What is wrong with a tenant's directory, and what to do, without its keys.
fn words(
    kind: &str,
    directory: &StorageDestination,
    keys: Option<&AccessKeys>,
    why: &str,
) -> String {
    let redactor = Redactor::new(
        keys.iter()
            .flat_map(|k| [k.access_id.clone(), k.access_key.clone()]),
    );
    let uri = crate::storage::without_query(&directory.uri);
    redactor.redact(&format!(
        "the {kind} destination {uri} cannot be used: {why}; OceanBase's next backup or archive there would \
         fail: make it reachable and writable again (its bucket or directory, the keys in its credentials \
         Secret)"
    ))
}

/// Checks one tenant's directory: written to and cleaned on object storage; a readable directory on a
/// `file://` share this pod sees; not at all on a share it does not. The error says why it cannot be used.
async fn check_directory(
    directory: &StorageDestination,
    keys: Option<&AccessKeys>,
    file_root: Option<&std::path::Path>,
) -> Result<(), String> {
    let location = Location::parse(&directory.uri).map_err(|e| e.to_string())?;
    if location.scheme == Scheme::File {
        return match file_root {
            Some(base) => {
                readable_directory(&base.join(location.root.trim_start_matches('/'))).await
            }
            None => Ok(()),
        };
    }
    let storage =
        crate::storage::open(&directory.uri, keys, file_root).map_err(|e| e.to_string())?;
    let failed = |e: opendal::Error| StorageError::io(&e).to_string();
    storage
        .write(PROBE, PROBE_TEXT.as_bytes().to_vec())
        .await
        .map_err(failed)?;
    storage.delete(PROBE).await.map_err(failed)
}

/// A directory this pod can list, or nothing there yet (OceanBase writes it at its first backup or archive).
async fn readable_directory(path: &std::path::Path) -> Result<(), String> {
    match tokio::fs::metadata(path).await {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e.to_string()),
        Ok(meta) if !meta.is_dir() => return Err("it is not a directory".into()),
        Ok(_) => {}
    }
    tokio::fs::read_dir(path)
        .await
        .map(|_| ())
        .map_err(|e| format!("it cannot be read: {e}"))
}

/// The object a check writes and deletes in each tenant's directory on object storage.
const PROBE: &str = ".obbackup/destination-check";
const PROBE_TEXT: &str =
    "written and deleted by ob-backup-operator to check this destination is writable\n";

/// A Warning event on the strategy: what the check found.
async fn warn(ctx: &Context, strategy: &BackupStrategy, message: &str) {
    ctx.publish(
        strategy,
        Event {
            type_: EventType::Warning,
            reason: Reason::DestinationUnusable.to_string(),
            note: Some(message.to_string()),
            action: "CheckDestination".into(),
            secondary: None,
        },
    )
    .await;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(uri: &str) -> StorageDestination {
        StorageDestination {
            uri: uri.into(),
            credentials_secret: None,
        }
    }

    #[tokio::test]
    async fn a_directory_replaced_by_a_file_is_found_and_a_fresh_one_is_not_a_problem() {
        let share = std::env::temp_dir().join(format!("obbackup-destcheck-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&share);
        std::fs::create_dir_all(share.join("b/data/tenant1")).expect("dir");
        let root = Some(share.as_path());
        let dir = file("file:///b/data/tenant1");
        assert_eq!(check_directory(&dir, None, root).await, Ok(()));
        assert_eq!(
            check_directory(&file("file:///b/data/tenant2"), None, root).await,
            Ok(()),
            "nothing written there yet"
        );
        std::fs::remove_dir_all(share.join("b/data/tenant1")).expect("rm");
        std::fs::write(share.join("b/data/tenant1"), b"x").expect("a file in its place");
        assert_eq!(
            check_directory(&dir, None, root).await,
            Err("it is not a directory".to_string())
        );
        assert_eq!(
            check_directory(&dir, None, None).await,
            Ok(()),
            "a share this pod does not mount is not checked"
        );
        let _ = std::fs::remove_dir_all(&share);
    }

    /// An endpoint that takes connections and never answers: forty directories behind it hold the check
    /// for one timeout, not forty (the clock is paused: the test takes no time).
    #[tokio::test(start_paused = true)]
    async fn directories_behind_a_silent_endpoint_are_checked_together_by_one_deadline() {
        let silent = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("listener");
        let port = silent.local_addr().expect("address").port();
        let held = tokio::spawn(async move {
            let mut open = Vec::new();
            while let Ok((stream, _)) = silent.accept().await {
                open.push(stream);
            }
        });
        let keys = AccessKeys {
            access_id: "AKIDSILENT".into(),
            access_key: "SILENTKEY".into(),
        };
        let directories: Vec<_> = (0..20)
            .flat_map(|i| {
                let tenant = format!("tenant{i}");
                ["data", "log"].map(|kind| {
                    let uri = format!("s3://bucket/{kind}/{tenant}?host=http://127.0.0.1:{port}");
                    (tenant.clone(), kind, file(&uri), Some(keys.clone()))
                })
            })
            .collect();
        let started = tokio::time::Instant::now();
        let problems = check_all(directories, None).await;
        let took = started.elapsed();
        held.abort();
        assert_eq!(problems.len(), 40, "{problems:?}");
        assert!(
            took <= crate::timing::DESTINATION_CHECK_TIMEOUT + std::time::Duration::from_secs(1),
            "{took:?}"
        );
        assert!(
            problems
                .iter()
                .all(|(_, p)| p.contains("no answer within 30s") && !p.contains("SILENTKEY")),
            "{problems:?}"
        );
    }

    #[test]
    fn the_message_names_the_directory_and_the_fix_without_keys() {
        let keys = AccessKeys {
            access_id: "AKIDSECRET".into(),
            access_key: "sEcReT".into(),
        };
        let directory = file("s3://b/data/tenant1?host=h&s3_region=r");
        let said = words(
            "data",
            &directory,
            Some(&keys),
            "NoSuchBucket for AKIDSECRET",
        );
        assert!(
            said.starts_with("the data destination s3://b/data/tenant1 cannot be used: "),
            "{said}"
        );
        assert!(said.contains("credentials Secret"), "{said}");
        assert!(
            !said.contains("AKIDSECRET") && !said.contains("sEcReT"),
            "{said}"
        );
    }
}
