//! How the controllers' watches read what already exists when they start: a paged list (every API server),
//! or a streaming list (a watch that first sends every object, then a bookmark marking the end of them),
//! which the API server serves from its watch cache as a stream the operator decodes while it arrives,
//! instead of a request per page that each side waits on in turn.
//!
//! Streaming lists need the API server's `WatchList` feature: on by default from Kubernetes 1.34, off in
//! 1.33, absent before 1.27. kube-runtime's watcher does not fall back by itself (a server without it
//! refuses the watch, and the watcher retries it for ever), so `auto` asks once at the start, with a watch
//! that selects nothing: the server either refuses it, or answers with the end-of-initial-events bookmark
//! at once. Anything else (an error, no bookmark within [`PROBE_WITHIN`]) means paged lists.

use std::time::Duration;

use futures::{StreamExt, TryStreamExt};
use kube::{
    Api,
    api::{WatchEvent, WatchParams},
    runtime::watcher,
};

use crate::api::BackupStrategy;
use crate::controller::guarded::Guarded;

/// How the controllers' watches list what exists: `--initial-list`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum InitialList {
    /// Streaming when the API server serves it (asked once at the start), else paged.
    #[default]
    Auto,
    /// Pages of objects, one request each: every API server.
    Paged,
    /// One watch that sends every object first (the API server's `WatchList` feature).
    Streaming,
}

/// How long the start waits for the API server's answer to the probe.
pub const PROBE_WITHIN: Duration = Duration::from_secs(10);

/// The annotation of the bookmark that ends a watch's initial events.
const INITIAL_EVENTS_END: &str = "k8s.io/initial-events-end";

/// A label no object carries: the probe's watch selects nothing, so its answer is the bookmark alone.
const SELECTS_NOTHING: &str = "obbackup.dev/list-probe=none";

impl InitialList {
    /// The watcher configuration this choice gives, asking `api` first when it is `Auto`.
    pub async fn resolve(self, api: Api<Guarded<BackupStrategy>>) -> watcher::Config {
        let streaming = match self {
            Self::Paged => false,
            Self::Streaming => true,
            Self::Auto => match tokio::time::timeout(PROBE_WITHIN, streams(&api)).await {
                Ok(Ok(())) => true,
                Ok(Err(why)) => {
                    tracing::info!(%why, "the API server does not serve streaming lists: listing in pages");
                    false
                }
                Err(_) => {
                    tracing::info!(
                        within = ?PROBE_WITHIN,
                        "no end of initial events from the API server: listing in pages"
                    );
                    false
                }
            },
        };
        if streaming {
            tracing::info!("initial lists are streamed");
            watcher::Config::default().streaming_lists()
        } else {
            tracing::info!("initial lists are paged");
            watcher::Config::default()
        }
    }
}

/// Whether the API server answers a streaming list: `Ok` once it sent the end-of-initial-events bookmark.
async fn streams(api: &Api<Guarded<BackupStrategy>>) -> Result<(), String> {
    let params = WatchParams::streaming_lists()
        .labels(SELECTS_NOTHING)
        .timeout(PROBE_WITHIN.as_secs().try_into().unwrap_or(u32::MAX));
    let events = api.watch(&params, "0").await.map_err(|e| e.to_string())?;
    let mut events = std::pin::pin!(events.map_err(|e| e.to_string()));
    while let Some(event) = events.next().await {
        if ends_initial_events(&event?) {
            return Ok(());
        }
    }
    Err("the watch ended before the end of its initial events".into())
}

/// Whether `event` is the bookmark that ends a watch's initial events.
fn ends_initial_events<K>(event: &WatchEvent<K>) -> bool {
    match event {
        WatchEvent::Bookmark(bookmark) => bookmark
            .metadata
            .annotations
            .contains_key(INITIAL_EVENTS_END),
        WatchEvent::Error(_)
        | WatchEvent::Added(_)
        | WatchEvent::Modified(_)
        | WatchEvent::Deleted(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn bookmark(annotations: serde_json::Value) -> WatchEvent<BackupStrategy> {
        serde_json::from_value(json!({
            "type": "BOOKMARK",
            "object": {
                "apiVersion": "obbackup.dev/v1alpha1", "kind": "BackupStrategy",
                "metadata": {"resourceVersion": "12", "annotations": annotations},
            },
        }))
        .expect("a bookmark")
    }

    #[test]
    fn only_the_bookmark_that_ends_the_initial_events_says_the_server_streams() {
        assert!(ends_initial_events(&bookmark(
            json!({INITIAL_EVENTS_END: "true"})
        )));
        // A plain bookmark (a server that ignores sendInitialEvents still sends them) says nothing.
        assert!(!ends_initial_events(&bookmark(json!({}))));
    }

    #[tokio::test]
    async fn fixed_choices_ask_nothing() {
        let api = crate::controller::fixtures::FakeApi::new(Default::default());
        let strategies: Api<Guarded<BackupStrategy>> = Api::namespaced(api.client(), "ns");
        let paged = InitialList::Paged.resolve(strategies.clone()).await;
        let streaming = InitialList::Streaming.resolve(strategies).await;
        assert_eq!(
            paged.initial_list_strategy,
            watcher::InitialListStrategy::ListWatch
        );
        assert_eq!(
            streaming.initial_list_strategy,
            watcher::InitialListStrategy::StreamingList
        );
        assert!(api.requests().is_empty(), "{:?}", api.requests());
    }

    #[tokio::test]
    async fn a_server_that_does_not_stream_the_probe_is_listed_in_pages() {
        // The fake API answers the watch with a list, not a stream of events: no bookmark, so pages.
        let api = crate::controller::fixtures::FakeApi::new(Default::default());
        let strategies: Api<Guarded<BackupStrategy>> = Api::namespaced(api.client(), "ns");
        let config = InitialList::Auto.resolve(strategies).await;
        assert_eq!(
            config.initial_list_strategy,
            watcher::InitialListStrategy::ListWatch
        );
        assert_eq!(
            api.requests(),
            [format!(
                "GET {}/namespaces/ns/backupstrategies",
                crate::controller::fixtures::GROUP
            )],
            "one probe, nothing else"
        );
    }

    /// An API server that never answers the probe (one before 1.27 sends no end-of-initial-events bookmark):
    /// pages once the probe's time is up, not a start that waits for ever.
    #[tokio::test(start_paused = true)]
    async fn a_server_that_never_answers_the_probe_is_listed_in_pages_after_its_time() {
        let (service, _handle) = tower_test::mock::pair::<
            http::Request<kube::client::Body>,
            http::Response<kube::client::Body>,
        >();
        let client = kube::Client::new(service, "ns");
        let strategies: Api<Guarded<BackupStrategy>> = Api::namespaced(client, "ns");
        let started = tokio::time::Instant::now();
        let config = InitialList::Auto.resolve(strategies).await;
        assert_eq!(
            config.initial_list_strategy,
            watcher::InitialListStrategy::ListWatch
        );
        assert_eq!(started.elapsed(), PROBE_WITHIN);
    }
}
