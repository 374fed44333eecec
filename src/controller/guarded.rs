//! The objects the watches receive, each decoded once. An object that does not decode as its kind is kept as
//! its metadata and the error, so that one broken object neither stops a watch nor goes unnoticed (the
//! controller reports it). kube's `DeserializeGuard` keeps the same promise by decoding every object three
//! times: into a generic tree, into a copy of that tree, then into the typed object. At a cold start over
//! 70 000 tasks that was 45 % of the operator's CPU (docs/contributing/benchmarks.md). Here the object's
//! JSON text is kept as it came (`RawValue`: one copy of the bytes) and decoded as the kind; only when that
//! fails is it read again for its metadata.
//!
//! The text is only at hand while serde_json reads it directly: in a watch event, that holds because the API
//! server writes the event's `type` before its `object` (an event written the other way round is buffered by
//! serde first and refused as a whole; the tests pin both).

use std::borrow::Cow;

use kube::{
    Resource,
    core::{PartialObjectMeta, error_boundary::InvalidObject},
};
use serde::{Deserialize, Deserializer, de::DeserializeOwned, de::Error as _};
use serde_json::value::RawValue;

/// An object of kind `K`, or why it is not one (with its metadata).
#[derive(Clone, Debug)]
pub struct Guarded<K>(pub Result<K, InvalidObject>);

impl<'de, K> Deserialize<'de> for Guarded<K>
where
    K: DeserializeOwned + Resource,
{
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = Box::<RawValue>::deserialize(deserializer)?;
        let object = match serde_json::from_str::<K>(raw.get()) {
            Ok(object) => Ok(object),
            Err(error) => {
                let PartialObjectMeta { metadata, .. } =
                    serde_json::from_str::<PartialObjectMeta<K>>(raw.get())
                        .map_err(D::Error::custom)?;
                Err(InvalidObject {
                    error: error.to_string(),
                    metadata,
                })
            }
        };
        Ok(Guarded(object))
    }
}

impl<K: Resource> Resource for Guarded<K> {
    type DynamicType = K::DynamicType;
    type Scope = K::Scope;

    fn kind(dt: &Self::DynamicType) -> Cow<'_, str> {
        K::kind(dt)
    }

    fn group(dt: &Self::DynamicType) -> Cow<'_, str> {
        K::group(dt)
    }

    fn version(dt: &Self::DynamicType) -> Cow<'_, str> {
        K::version(dt)
    }

    fn plural(dt: &Self::DynamicType) -> Cow<'_, str> {
        K::plural(dt)
    }

    fn meta(&self) -> &kube::core::ObjectMeta {
        self.0
            .as_ref()
            .map_or_else(|invalid| &invalid.metadata, K::meta)
    }

    fn meta_mut(&mut self) -> &mut kube::core::ObjectMeta {
        self.0
            .as_mut()
            .map_or_else(|invalid| &mut invalid.metadata, K::meta_mut)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::BackupTask;
    use kube::ResourceExt;

    fn task(mode: &str) -> String {
        serde_json::json!({
            "apiVersion": "obbackup.dev/v1alpha1", "kind": "BackupTask",
            "metadata": {"name": "t", "namespace": "ns", "generation": 2},
            "spec": {"strategyRef": {"name": "demo"}, "tenant": "tenant1", "mode": mode},
        })
        .to_string()
    }

    #[test]
    fn a_valid_object_decodes_from_text_and_from_a_tree_alike() {
        let text = task("Full");
        let from_text: Guarded<BackupTask> = serde_json::from_str(&text).expect("decodes");
        let tree: serde_json::Value = serde_json::from_str(&text).expect("json");
        let from_tree: Guarded<BackupTask> = serde_json::from_value(tree).expect("decodes");
        let (Ok(a), Ok(b)) = (&from_text.0, &from_tree.0) else {
            panic!("both valid: {from_text:?} / {from_tree:?}")
        };
        assert_eq!(a.spec, b.spec);
        assert_eq!(from_text.name_any(), "t");
        assert_eq!(from_text.meta().generation, Some(2));
    }

    #[test]
    fn an_invalid_object_keeps_its_metadata_and_says_why() {
        let guarded: Guarded<BackupTask> =
            serde_json::from_str(&task("Sometimes")).expect("still decodes");
        let Err(invalid) = &guarded.0 else {
            panic!("invalid: {guarded:?}")
        };
        assert!(invalid.error.contains("Sometimes"), "{}", invalid.error);
        assert_eq!(guarded.name_any(), "t");
        assert_eq!(guarded.namespace().as_deref(), Some("ns"));
    }

    /// A watch event as the API server writes it (`type`, then `object`): a broken object in it is still
    /// an event, so the watch goes on.
    #[test]
    fn a_watch_event_carries_a_broken_object_as_one_that_says_why() {
        let event = |mode: &str| format!(r#"{{"type":"ADDED","object":{}}}"#, task(mode));
        let decode =
            |text: &str| serde_json::from_str::<kube::api::WatchEvent<Guarded<BackupTask>>>(text);
        let Ok(kube::api::WatchEvent::Added(valid)) = decode(&event("Full")) else {
            panic!("an added event")
        };
        assert!(valid.0.is_ok());
        let Ok(kube::api::WatchEvent::Added(broken)) = decode(&event("Sometimes")) else {
            panic!("still an added event")
        };
        assert!(broken.0.is_err());
        assert_eq!(broken.name_any(), "t");
        // The other order is buffered by serde, where no text is left to keep: refused, not misread.
        let reversed = format!(r#"{{"object":{},"type":"ADDED"}}"#, task("Full"));
        assert!(decode(&reversed).is_err());
    }

    #[test]
    fn what_is_not_an_object_at_all_is_an_error() {
        assert!(serde_json::from_str::<Guarded<BackupTask>>("[1, 2]").is_err());
    }
}
