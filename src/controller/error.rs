//! What can go wrong while reconciling. [`Error`]s are transient (retried with backoff); [`Problem`]s are
//! facts about an object the user must fix (reported as `Stalled`, never retried in a hot loop).

pub use crate::reason::Reason;

/// A failure that is worth retrying: the Kubernetes API was unreachable, refused, or timed out.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A Kubernetes API request failed.
    #[error("Kubernetes API request failed: {0}")]
    KubeApi(#[from] kube::Error),
    /// The object has no namespace, which the CRDs do not allow.
    #[error("object {0} has no namespace")]
    MissingNamespace(String),
}

impl Error {
    /// The Event reason and metric label.
    pub fn reason(&self) -> Reason {
        match self {
            Error::KubeApi(_) => Reason::KubeApi,
            Error::MissingNamespace(_) => Reason::MissingNamespace,
        }
    }
}

/// Something about an object that keeps the operator from acting on it until the user changes something.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    /// The cause, used as condition reason and Event reason, e.g. `SecretNotFound`.
    pub reason: Reason,
    /// What is wrong and what to do about it. Never contains credentials.
    pub message: String,
    /// Whether the fix is in this object's spec (only a spec change helps) or elsewhere (look again later).
    pub fix: Fix,
}

/// Where the fix for a [`Problem`] lies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fix {
    /// The spec itself is invalid: wait for it to change.
    Spec,
    /// Something the spec refers to is missing or incomplete: look again after a while.
    Elsewhere,
}

impl Problem {
    /// A problem in the object's own spec.
    pub fn in_spec(reason: Reason, message: impl Into<String>) -> Self {
        Self {
            reason,
            message: message.into(),
            fix: Fix::Spec,
        }
    }

    /// A problem with something the object refers to.
    pub fn elsewhere(reason: Reason, message: impl Into<String>) -> Self {
        Self {
            reason,
            message: message.into(),
            fix: Fix::Elsewhere,
        }
    }
}

pub use crate::timing::RECHECK_REFERENCES_AFTER;

/// The namespace of a namespaced object.
pub fn namespace_of<K: kube::Resource>(obj: &K) -> Result<String, Error> {
    kube::ResourceExt::namespace(obj)
        .ok_or_else(|| Error::MissingNamespace(kube::ResourceExt::name_any(obj)))
}
