//! OceanBase errors as clients see them on the wire: the MySQL error number (the absolute OceanBase
//! code unless the code maps to a MySQL one), SQLSTATE and message.
//! docs/reference/oceanbase-interface.md §0.3 and §12.

use std::fmt;

/// An error sent to the client instead of a result.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SqlError {
    /// The error number the client sees (e.g. 9036, 1235, 1064).
    pub code: u16,
    /// Five-character SQLSTATE.
    pub state: &'static str,
    /// The message.
    pub message: String,
}

impl fmt::Display for SqlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ERROR {} ({}): {}", self.code, self.state, self.message)
    }
}

impl std::error::Error for SqlError {}

impl SqlError {
    fn new(code: u16, state: &'static str, message: impl Into<String>) -> Self {
        Self {
            code,
            state,
            message: message.into(),
        }
    }

    /// 1045: wrong user or password.
    pub fn access_denied(user: &str, host: &str) -> Self {
        Self::new(
            1045,
            "28000",
            format!("Access denied for user '{user}'@'{host}' (using password: YES)"),
        )
    }

    /// OB_STATE_NOT_MATCH (−4109, no MySQL mapping, HY000, "Server state or role not the same as expected";
    /// ob_errno.def at oceanbase 017bf592): what a login to a tenant still restoring gets once its password
    /// checked out (docs/reference/oceanbase-interface.md §6.7).
    pub fn state_not_match() -> Self {
        Self::new(
            4109,
            "HY000",
            "Server state or role not the same as expected",
        )
    }

    /// OB_ERR_NO_PRIVILEGE (−5036 → MySQL 1227, 42501): what a user tenant's session gets for a statement only
    /// sys may run, or for naming another tenant (OceanBase's resolvers answer "only sys tenant can …" so).
    pub fn no_privilege() -> Self {
        Self::new(
            1227,
            "42501",
            "Access denied; you need (at least one of) the SUPER privilege(s) for this operation",
        )
    }

    /// ER_CANNOT_USER (1396, HY000): creating a user that exists, or altering or dropping one that does not.
    pub fn user_change_failed(operation: &str, user: &str) -> Self {
        Self::new(
            1396,
            "HY000",
            format!("Operation {operation} failed for '{user}'@'%'"),
        )
    }

    /// ER_UNKNOWN_SYSTEM_VARIABLE (1193, HY000).
    pub fn unknown_variable(name: &str) -> Self {
        Self::new(1193, "HY000", format!("Unknown system variable '{name}'"))
    }

    /// 1064: the statement does not parse.
    pub fn syntax(detail: impl fmt::Display) -> Self {
        Self::new(
            1064,
            "42000",
            format!("You have an error in your SQL syntax; {detail}"),
        )
    }

    /// 1146: an unknown table or view.
    pub fn unknown_table(name: &str) -> Self {
        Self::new(1146, "42S02", format!("Table '{name}' doesn't exist"))
    }

    /// 1054: an unknown column.
    pub fn unknown_column(name: &str) -> Self {
        Self::new(
            1054,
            "42S22",
            format!("Unknown column '{name}' in 'field list'"),
        )
    }

    /// OB_NOT_SUPPORTED (−4007 → MySQL 1235, 0A000) with its default text.
    pub fn unsupported() -> Self {
        Self::new(1235, "0A000", "Not supported feature or function")
    }

    /// OB_NOT_SUPPORTED (−4007 → MySQL 1235, 0A000), with the server's user text ("%s not supported").
    pub fn not_supported(what: impl fmt::Display) -> Self {
        Self::new(1235, "0A000", format!("{what} not supported"))
    }

    /// OB_INVALID_ARGUMENT (−4002 → MySQL 1210), with user text ("Incorrect arguments to %s").
    pub fn invalid_argument(what: impl fmt::Display) -> Self {
        Self::new(1210, "HY000", format!("Incorrect arguments to {what}"))
    }

    /// OB_TENANT_NOT_EXIST (−5157, no MySQL mapping, HY000, "Unknown tenant '%.*s'"; ob_errno.def at
    /// oceanbase commit 017bf592, not among docs/reference/oceanbase-interface.md §12's codes).
    pub fn unknown_tenant(name: &str) -> Self {
        Self::new(5157, "HY000", format!("Unknown tenant '{name}'"))
    }

    /// OB_TENANT_EXIST (−5156, HY000, "tenant '%s' already exist"; same source).
    pub fn tenant_exists(name: &str) -> Self {
        Self::new(5156, "HY000", format!("tenant '{name}' already exist"))
    }

    /// An OceanBase-specific error, sent with the absolute value of its code
    /// (docs/reference/oceanbase-interface.md §0.3).
    pub fn oceanbase(code: u16, message: impl Into<String>) -> Self {
        Self::new(code, "HY000", message)
    }
}
