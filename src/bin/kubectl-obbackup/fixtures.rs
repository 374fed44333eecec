//! The unit tests' strategy and command lines.

use std::{
    collections::BTreeMap,
    sync::{Arc, Mutex},
};

use http::{Method, Request, Response, StatusCode};
use kube::{Client, client::Body};

use ob_backup_operator::api::BackupStrategy;
use serde_json::{Value, json};

/// A physical strategy `demo` over tenant1 and Tenant2, with `extra` merged into its spec.
pub fn strategy(extra: Value) -> BackupStrategy {
    let mut spec = json!({
        "cluster": {"name": "ob", "connectionSecret": "ob-sys"}, "tenants": ["tenant1", "Tenant2"],
        "dataDestination": {"uri": "file:///d"}, "logDestination": {"uri": "file:///a"},
        "schedule": {"timeZone": "UTC", "full": "0 1 * * 0"},
    });
    if let (Some(spec), Some(extra)) = (spec.as_object_mut(), extra.as_object()) {
        spec.extend(extra.clone());
    }
    serde_json::from_value(json!({
        "apiVersion": "obbackup.dev/v1alpha1", "kind": "BackupStrategy",
        "metadata": {"name": "demo"}, "spec": spec,
    }))
    .expect("strategy")
}

/// `kubectl obbackup restore demo <line>`, parsed.
pub fn parse_restore(line: &str) -> Result<crate::Cli, clap::Error> {
    use clap::Parser;
    let words = ["kubectl-obbackup", "restore", "demo"]
        .into_iter()
        .chain(line.split_whitespace());
    crate::Cli::try_parse_from(words)
}

/// The arguments of `kubectl obbackup restore demo <line>`.
pub fn restore_args(line: &str) -> crate::restore::RestoreArgs {
    match parse_restore(line).expect("parsed").command {
        crate::Command::Restore(args) => *args,
        other => panic!("{other:?}"),
    }
}

/// A logical strategy `demo` over tenant1 and Tenant2 keeping dumps for two days.
pub fn logical_strategy() -> BackupStrategy {
    strategy(json!({
        "method": "Logical", "logical": {"credentialsSecret": "dumper"},
        "retention": {"recoveryWindow": "2d"},
    }))
}

/// A Completed logical dump `name` of `tenant` through `demo`, begun at `started` with data as of
/// `snapshot`.
pub fn logical_dump(
    name: &str,
    tenant: &str,
    started: &str,
    snapshot: &str,
) -> ob_backup_operator::api::BackupTask {
    serde_json::from_value(json!({
        "apiVersion": "obbackup.dev/v1alpha1", "kind": "BackupTask",
        "metadata": {"name": name},
        "spec": {"strategyRef": {"name": "demo"}, "tenant": tenant, "mode": "Full", "method": "Logical",
                 "logical": {"credentialsSecret": "dumper"}},
        "status": {"phase": "Completed", "startedAt": started, "endedAt": snapshot,
                   "logical": {"snapshotScn": "1", "snapshotTime": snapshot}},
    }))
    .expect("a dump")
}

/// An API server in memory for the plugin's actions: objects kept by path; GET (of a namespaced collection:
/// a List of the objects under it, filtered by a `labelSelector` of `key=value` terms), create (dry runs
/// checked, not stored), merge patches (a stale `resourceVersion` refused with 409) and deletes (held by
/// finalizers, as the API server holds them); every request recorded in order with its body.
#[derive(Clone, Default)]
pub struct FakeApi {
    objects: Arc<Mutex<BTreeMap<String, Value>>>,
    requests: Arc<Mutex<Vec<(String, Value)>>>,
}

impl FakeApi {
    /// A client of this server (one task answers its requests until the client is dropped).
    pub fn client(&self) -> Client {
        let (service, mut handle) = tower_test::mock::pair::<Request<Body>, Response<Body>>();
        let api = self.clone();
        tokio::spawn(async move {
            while let Some((request, respond)) = handle.next_request().await {
                respond.send_response(api.answer(request).await);
            }
        });
        Client::new(service, "ns")
    }

    /// Stores `object` under `path` (e.g. `/api/v1/namespaces/ns/secrets/db`).
    pub fn put(&self, path: &str, object: Value) {
        lock(&self.objects).insert(path.to_string(), object);
    }

    /// The object stored under `path`.
    pub fn get(&self, path: &str) -> Option<Value> {
        lock(&self.objects).get(path).cloned()
    }

    /// Every request so far: `METHOD path` (` dry-run` added to dry runs) and its body.
    pub fn requests(&self) -> Vec<(String, Value)> {
        lock(&self.requests).clone()
    }

    /// The requests that change something (or would: dry runs), in order.
    pub fn writes(&self) -> Vec<String> {
        self.requests()
            .into_iter()
            .map(|(line, _)| line)
            .filter(|line| !line.starts_with("GET "))
            .collect()
    }

    async fn answer(&self, request: Request<Body>) -> Response<Body> {
        let method = request.method().clone();
        let path = request.uri().path().to_string();
        let query = request.uri().query().unwrap_or_default().to_string();
        let dry_run = query.contains("dryRun");
        let body = request
            .into_body()
            .collect_bytes()
            .await
            .map(|b| b.to_vec())
            .unwrap_or_default();
        let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
        let line = format!("{method} {path}{}", if dry_run { " dry-run" } else { "" });
        lock(&self.requests).push((line, body.clone()));
        match method {
            Method::GET => match self.get(&path) {
                Some(object) => reply(StatusCode::OK, &object),
                None if is_collection(&path) => reply(StatusCode::OK, &self.list(&path, &query)),
                None => failure(404, "NotFound", &path),
            },
            Method::POST => self.create(&path, body, dry_run),
            Method::PATCH => self.patch(&path, &body),
            Method::DELETE => self.delete(&path),
            _ => failure(405, "MethodNotAllowed", &path),
        }
    }

    /// The objects right under `collection` whose labels hold every `key=value` of the query's
    /// `labelSelector`, as a List.
    fn list(&self, collection: &str, query: &str) -> Value {
        let selector = query
            .split('&')
            .find_map(|pair| pair.strip_prefix("labelSelector="))
            .map(percent_decoded)
            .unwrap_or_default();
        let terms: Vec<(&str, &str)> = selector
            .split(',')
            .filter_map(|term| term.split_once('='))
            .collect();
        let prefix = format!("{collection}/");
        let items: Vec<Value> = lock(&self.objects)
            .iter()
            .filter(|(path, _)| path.strip_prefix(&prefix).is_some_and(|n| !n.contains('/')))
            .map(|(_, object)| object.clone())
            .filter(|object| {
                terms
                    .iter()
                    .all(|(key, value)| object["metadata"]["labels"][*key] == json!(value))
            })
            .collect();
        json!({"apiVersion": "v1", "kind": "List", "metadata": {"resourceVersion": "1"}, "items": items})
    }

    fn create(&self, collection: &str, mut object: Value, dry_run: bool) -> Response<Body> {
        let name = object["metadata"]["name"].as_str().unwrap_or_default();
        let path = format!("{collection}/{name}");
        if self.get(&path).is_some() {
            return failure(409, "AlreadyExists", &path);
        }
        object["metadata"]["resourceVersion"] = json!("1");
        object["metadata"]["generation"] = json!(1);
        if !dry_run {
            self.put(&path, object.clone());
        }
        reply(StatusCode::CREATED, &object)
    }

    fn patch(&self, path: &str, patch: &Value) -> Response<Body> {
        let Some(mut object) = self.get(path) else {
            return failure(404, "NotFound", path);
        };
        let version = object["metadata"]["resourceVersion"].clone();
        let asked = &patch["metadata"]["resourceVersion"];
        if !asked.is_null() && *asked != version {
            return failure(409, "Conflict", path);
        }
        merge(&mut object, patch);
        let next = version
            .as_str()
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
            + 1;
        object["metadata"]["resourceVersion"] = json!(next.to_string());
        self.store_or_release(path, object.clone());
        reply(StatusCode::OK, &object)
    }

    fn delete(&self, path: &str) -> Response<Body> {
        let Some(mut object) = self.get(path) else {
            return failure(404, "NotFound", path);
        };
        object["metadata"]["deletionTimestamp"] = json!("2026-01-01T00:00:00Z");
        self.store_or_release(path, object.clone());
        reply(StatusCode::OK, &object)
    }

    /// Keeps `object`, unless it is deleted and no finalizer holds it.
    fn store_or_release(&self, path: &str, object: Value) {
        let held = object["metadata"]["finalizers"]
            .as_array()
            .is_some_and(|f| !f.is_empty());
        if object["metadata"]["deletionTimestamp"].is_null() || held {
            self.put(path, object);
        } else {
            lock(&self.objects).remove(path);
        }
    }
}

/// Whether `path` names a namespaced collection (`…/namespaces/NS/PLURAL`), not one object.
fn is_collection(path: &str) -> bool {
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    segments.len() >= 3 && segments[segments.len() - 3] == "namespaces"
}

/// A query value with its `%XX` escapes (and `+`) decoded.
fn percent_decoded(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let escaped = (bytes[i] == b'%')
            .then(|| text.get(i + 1..i + 3))
            .flatten()
            .and_then(|hex| u8::from_str_radix(hex, 16).ok());
        match (bytes[i], escaped) {
            (_, Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (b'+', None) => {
                out.push(b' ');
                i += 1;
            }
            (byte, None) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// RFC 7386: `patch` merged into `target` (null removes, objects merge, anything else replaces).
fn merge(target: &mut Value, patch: &Value) {
    let Some(fields) = patch.as_object() else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = json!({});
    }
    if let Some(object) = target.as_object_mut() {
        for (key, value) in fields {
            if value.is_null() {
                object.remove(key);
            } else {
                merge(object.entry(key.clone()).or_insert(Value::Null), value);
            }
        }
    }
}

fn reply(code: StatusCode, body: &Value) -> Response<Body> {
    let mut response = Response::new(Body::from(serde_json::to_vec(body).unwrap_or_default()));
    *response.status_mut() = code;
    response
}

fn failure(code: u16, reason: &str, path: &str) -> Response<Body> {
    let status = json!({"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": reason,
                        "code": code, "message": format!("{path}: {reason}")});
    reply(
        StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        &status,
    )
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}

/// The strategy `demo` in namespace `ns` (uid `demo-uid`) with a nightly restore drill, `drill` merged into
/// its `restoreDrill`.
pub fn drill_strategy(drill: Value) -> BackupStrategy {
    let mut declared = json!({
        "schedule": "0 3 * * *", "timeZone": "UTC", "credentialsSecret": "app",
        "target": {"resources": {"unitName": "small", "zones": ["zone1"]}},
    });
    if let (Some(declared), Some(drill)) = (declared.as_object_mut(), drill.as_object()) {
        declared.extend(drill.clone());
    }
    let mut strategy = strategy(json!({ "restoreDrill": declared }));
    strategy.metadata.namespace = Some("ns".into());
    strategy.metadata.uid = Some("demo-uid".into());
    strategy
}

/// The drill of `tenant` through `strategy` at `at` (asked as `asked` says), with `status` (JSON) as its
/// status.
pub fn drill_task(
    strategy: &BackupStrategy,
    tenant: &str,
    at: &str,
    asked: ob_backup_operator::drill::Asked,
    status: Value,
) -> ob_backup_operator::api::RecoveryTask {
    let at: jiff::Timestamp = at.parse().expect("a time");
    let mut made =
        ob_backup_operator::drill::task(strategy, tenant, at, asked, None).expect("a drill");
    made.status = serde_json::from_value(status).expect("a status");
    made
}

/// The path of RecoveryTask `name` in namespace `ns`.
pub fn recovery_path(name: &str) -> String {
    format!("/apis/obbackup.dev/v1alpha1/namespaces/ns/recoverytasks/{name}")
}
