//! The in-process test tier's API server: objects kept in memory by path, GET and LIST served from them,
//! status patches applied and recorded, Events recorded — in the same [`Journal`] the fake OceanBase writes
//! its statements to, so a test reads the order of every side effect. Anything else it is sent is answered
//! with an error and recorded as unexpected, so a reconcile that grows a new request fails its tests.

use crate::sync::lock;
use std::{
    collections::BTreeMap,
    sync::{Arc, Mutex},
    time::Duration,
};

use http::{Method, Request, Response, StatusCode};
use kube::{Client, client::Body};
use serde_json::{Value, json};

use crate::oceanbase::fake::{Entry, Journal};

/// The API group path of the operator's kinds.
pub const GROUP: &str = "/apis/obbackup.dev/v1alpha1";

/// An API server in memory.
#[derive(Clone, Default)]
pub struct FakeApi {
    objects: Arc<Mutex<BTreeMap<String, Value>>>,
    unexpected: Arc<Mutex<Vec<String>>>,
    /// Every request answered, as `METHOD path`, in order.
    requests: Arc<Mutex<Vec<String>>>,
    /// Where status writes and Events go.
    pub journal: Journal,
}

impl FakeApi {
    /// An API server recording into `journal`.
    pub fn new(journal: Journal) -> Self {
        Self {
            journal,
            ..Self::default()
        }
    }

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

    /// The object under `path`, parsed as `K`.
    pub fn object<K: serde::de::DeserializeOwned>(&self, path: &str) -> K {
        serde_json::from_value(self.get(path).unwrap_or(Value::Null)).expect("a stored object")
    }

    /// The objects stored directly under `collection` (e.g. `/apis/obbackup.dev/v1alpha1/namespaces/ns/backuptasks`).
    pub fn items(&self, collection: &str) -> Vec<Value> {
        let prefix = format!("{collection}/");
        lock(&self.objects)
            .iter()
            .filter(|(path, _)| {
                path.strip_prefix(&prefix)
                    .is_some_and(|rest| !rest.contains('/'))
            })
            .map(|(_, object)| object.clone())
            .collect()
    }

    /// Every request answered so far, as `METHOD path`, in order.
    pub fn requests(&self) -> Vec<String> {
        lock(&self.requests).clone()
    }

    /// Requests nobody expected.
    pub fn unexpected(&self) -> Vec<String> {
        lock(&self.unexpected).clone()
    }

    async fn answer(&self, request: Request<Body>) -> Response<Body> {
        let method = request.method().clone();
        let path = request.uri().path().to_string();
        lock(&self.requests).push(format!("{method} {path}"));
        let body = request
            .into_body()
            .collect_bytes()
            .await
            .map(|b| b.to_vec())
            .unwrap_or_default();
        let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
        match method {
            Method::GET => match self.get(&path) {
                Some(object) => reply(StatusCode::OK, &object),
                None if is_collection(&path) => reply(StatusCode::OK, &self.list(&path)),
                None => not_found(&path),
            },
            Method::PATCH if path.ends_with("/status") => {
                let object_path = path.trim_end_matches("/status").to_string();
                let Some(mut object) = self.get(&object_path) else {
                    return not_found(&object_path);
                };
                // A write that names the version it goes over is refused once the object has changed.
                if let Some(over) = body["metadata"]["resourceVersion"].as_str()
                    && object["metadata"]["resourceVersion"].as_str() != Some(over)
                {
                    return reply(StatusCode::CONFLICT, &status(409, "Conflict", &object_path));
                }
                object["status"] = body["status"].clone();
                let version = object["metadata"]["resourceVersion"]
                    .as_str()
                    .and_then(|v| v.parse::<u64>().ok())
                    .unwrap_or(0);
                object["metadata"]["resourceVersion"] = json!((version + 1).to_string());
                self.put(&object_path, object.clone());
                self.journal.push(Entry::Status {
                    object: object_path,
                    status: body["status"].clone(),
                });
                reply(StatusCode::OK, &object)
            }
            Method::PATCH => reply(StatusCode::OK, &self.apply(&path, &body)),
            Method::DELETE => match lock(&self.objects).remove(&path) {
                Some(object) => reply(StatusCode::OK, &object),
                None => not_found(&path),
            },
            Method::POST if path.ends_with("/events") => {
                self.journal.push(Entry::Event {
                    reason: body["reason"].as_str().unwrap_or_default().to_string(),
                });
                reply(StatusCode::CREATED, &body)
            }
            _ => {
                lock(&self.unexpected).push(format!("{method} {path}"));
                reply(
                    StatusCode::METHOD_NOT_ALLOWED,
                    &status(405, "MethodNotAllowed", &path),
                )
            }
        }
    }

    /// Server-side apply of the whole object `body` at `path`, as far as a reconcile needs it: the parts it
    /// names replace the stored ones; a new object gets its namespace, uid and creation time.
    fn apply(&self, path: &str, body: &Value) -> Value {
        let mut object = self.get(path).unwrap_or_else(|| {
            let namespace = path.split('/').skip_while(|s| *s != "namespaces").nth(1);
            json!({"metadata": {
                "namespace": namespace, "uid": format!("uid-{path}"), "generation": 1,
                "creationTimestamp": jiff::Timestamp::now().to_string(),
            }})
        });
        for part in ["apiVersion", "kind", "spec"] {
            if !body[part].is_null() {
                object[part] = body[part].clone();
            }
        }
        for part in ["name", "labels", "annotations", "ownerReferences"] {
            if !body["metadata"][part].is_null() {
                object["metadata"][part] = body["metadata"][part].clone();
            }
        }
        let version = object["metadata"]["resourceVersion"]
            .as_str()
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0);
        object["metadata"]["resourceVersion"] = json!((version + 1).to_string());
        self.put(path, object.clone());
        object
    }

    /// The objects directly under a collection path, as a list.
    fn list(&self, collection: &str) -> Value {
        let items = self.items(collection);
        json!({"apiVersion": "v1", "kind": "List", "metadata": {"resourceVersion": "1"}, "items": items})
    }
}

/// Whether `path` names a collection: `…/namespaces/ns/<plural>` has an odd number of segments after the
/// group version.
pub fn is_collection(path: &str) -> bool {
    let rest = path
        .strip_prefix(GROUP)
        .or_else(|| path.strip_prefix("/api/v1"))
        .unwrap_or(path);
    rest.split('/').filter(|s| !s.is_empty()).count() % 2 == 1
}

fn reply(code: StatusCode, body: &Value) -> Response<Body> {
    let mut response = Response::new(Body::from(serde_json::to_vec(body).unwrap_or_default()));
    *response.status_mut() = code;
    response
}

fn status(code: u16, reason: &str, path: &str) -> Value {
    json!({"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": reason, "code": code,
           "message": format!("{path}: {reason}")})
}

fn not_found(path: &str) -> Response<Body> {
    reply(StatusCode::NOT_FOUND, &status(404, "NotFound", path))
}

/// Polls `probe` every 10 ms until it gives a value, failing the test after 10 s.
pub async fn eventually<T>(what: &str, mut probe: impl FnMut() -> Option<T>) -> T {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(value) = probe() {
            return value;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{what}: not within 10 s"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}
