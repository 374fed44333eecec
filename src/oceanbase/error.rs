//! Why talking to OceanBase failed ([`ObError`]): its text redacted before it is built.

use super::redact::Redactor;

/// Why talking to OceanBase failed. Messages are redacted before they are built.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ObError {
    /// The cluster could not be reached (connect, I/O, timeout): transient, never a task failure.
    #[error("cannot reach OceanBase: {0}")]
    Unreachable(String),
    /// OceanBase answered with an error.
    #[error("OceanBase error {code}: {message}")]
    Server { code: u16, message: String },
    /// OceanBase answered with something the operator cannot read.
    #[error("unexpected answer from OceanBase: {0}")]
    Protocol(String),
    /// A name that is not an OceanBase identifier.
    #[error("{0:?} is not a valid OceanBase name")]
    InvalidIdentifier(String),
    /// A value the operator refuses to send.
    #[error("invalid value: {0}")]
    InvalidValue(String),
}

impl ObError {
    /// The server's error number, if OceanBase answered with an error.
    pub fn code(&self) -> Option<u16> {
        match self {
            ObError::Server { code, .. } => Some(*code),
            _ => None,
        }
    }

    /// The same error with `redactor`'s secrets hidden from its text.
    pub fn redacted(self, redactor: &Redactor) -> Self {
        match self {
            ObError::Unreachable(m) => ObError::Unreachable(redactor.redact(&m)),
            ObError::Server { code, message } => ObError::Server {
                code,
                message: redactor.redact(&message),
            },
            ObError::Protocol(m) => ObError::Protocol(redactor.redact(&m)),
            other => other,
        }
    }

    /// Whether retrying later may succeed without anyone changing anything.
    pub fn is_transient(&self) -> bool {
        matches!(self, ObError::Unreachable(_))
    }
}
