//! How to reach a cluster: the connection Secret's `host`, `port` (default 2881), `user` (default
//! `root@sys`), `password` and optional `ca.crt` (docs/contributing/design.md §2.1). `Debug` never
//! shows the password.

use std::collections::BTreeMap;

use k8s_openapi::ByteString;

/// Connection settings read from a Secret.
#[derive(Clone, PartialEq, Eq)]
pub struct ConnectionInfo {
    pub host: String,
    pub port: u16,
    pub user: String,
    pub password: String,
    /// PEM CA certificate: connect with TLS and verify the server against it.
    pub ca_cert: Option<Vec<u8>>,
}

impl std::fmt::Debug for ConnectionInfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnectionInfo")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("user", &self.user)
            .field("password", &"<redacted>")
            .field("tls", &self.ca_cert.is_some())
            .finish()
    }
}

/// The default SQL port of an OBServer.
pub const DEFAULT_PORT: u16 = 2881;
/// The default user: root of the sys tenant.
pub const DEFAULT_USER: &str = "root@sys";

impl ConnectionInfo {
    /// Reads a Secret's data; the error names the key that is missing or wrong (never a value).
    pub fn from_secret_data(data: &BTreeMap<String, ByteString>) -> Result<Self, String> {
        let text = |key: &str| -> Result<Option<String>, String> {
            data.get(key)
                .map(|v| {
                    String::from_utf8(v.0.clone())
                        .map(|s| s.trim().to_string())
                        .map_err(|_| format!("key {key} is not UTF-8 text"))
                })
                .transpose()
        };
        let host = text("host")?
            .filter(|h| !h.is_empty())
            .ok_or("key host is missing")?;
        let port = match text("port")? {
            None => DEFAULT_PORT,
            Some(p) => p
                .parse()
                .map_err(|_| "key port is not a port number".to_string())?,
        };
        let password = data
            .get("password")
            .map(|v| {
                String::from_utf8(v.0.clone())
                    .map_err(|_| "key password is not UTF-8 text".to_string())
            })
            .transpose()?
            .filter(|p| !p.is_empty())
            .ok_or("key password is missing")?;
        Ok(Self {
            host,
            port,
            user: text("user")?
                .filter(|u| !u.is_empty())
                .unwrap_or_else(|| DEFAULT_USER.into()),
            password,
            ca_cert: data
                .get("ca.crt")
                .map(|v| v.0.clone())
                .filter(|c| !c.is_empty()),
        })
    }
}

impl ConnectionInfo {
    /// Options of a pool of at most `max` sessions of this user, each running `session` statements (time
    /// zone, timeouts) when it connects **and** every time the pool resets it for reuse: a pooled connection
    /// is reset (`COM_RESET_CONNECTION`) when it is returned, which puts every session variable back to the
    /// tenant's default (`+08:00` on OceanBase) — statements run only at connect would hold for the first use.
    pub fn pool_opts(&self, session: Vec<String>, max: usize) -> mysql_async::OptsBuilder {
        self.pool_opts_resetting(session, max, true)
    }

    /// [`Self::pool_opts`] for sessions that only read and change nothing in their session after
    /// `session`: never reset, so a reuse costs no round trip (a reset and the `session` statements again
    /// are two more, each time the observer reads a cluster).
    pub fn read_pool_opts(&self, session: Vec<String>, max: usize) -> mysql_async::OptsBuilder {
        self.pool_opts_resetting(session, max, false)
    }

    fn pool_opts_resetting(
        &self,
        session: Vec<String>,
        max: usize,
        reset: bool,
    ) -> mysql_async::OptsBuilder {
        let mut builder = mysql_async::OptsBuilder::default()
            .ip_or_hostname(self.host.clone())
            .tcp_port(self.port)
            .user(Some(self.user.clone()))
            .pass(Some(self.password.clone()))
            .prefer_socket(false)
            .setup(session)
            .pool_opts(
                mysql_async::PoolOpts::default()
                    .with_constraints(
                        mysql_async::PoolConstraints::new(0, max.max(1)).unwrap_or_default(),
                    )
                    .with_inactive_connection_ttl(crate::timing::POOLED_CONNECTION_TTL)
                    .with_reset_connection(reset),
            );
        if let Some(ca) = &self.ca_cert {
            builder = builder
                .ssl_opts(mysql_async::SslOpts::default().with_root_certs(vec![ca.clone().into()]));
        }
        builder
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(pairs: &[(&str, &str)]) -> BTreeMap<String, ByteString> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), ByteString(v.as_bytes().to_vec())))
            .collect()
    }

    #[test]
    fn defaults_and_errors_name_keys_not_values() {
        let info =
            ConnectionInfo::from_secret_data(&data(&[("host", "ob.example"), ("password", "pw")]))
                .expect("valid");
        assert_eq!((info.port, info.user.as_str()), (2881, "root@sys"));
        assert!(!format!("{info:?}").contains("pw\""), "{info:?}");
        let error = ConnectionInfo::from_secret_data(&data(&[
            ("host", "h"),
            ("password", "pw"),
            ("port", "x"),
        ]))
        .expect_err("bad port");
        assert_eq!(error, "key port is not a port number");
        assert_eq!(
            ConnectionInfo::from_secret_data(&data(&[("host", "h")])).expect_err("no password"),
            "key password is missing"
        );
    }
}
