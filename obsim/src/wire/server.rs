//! One client connection: handshake and authentication, then the command loop (text queries with
//! multi-statements, prepared statements, ping, init-db, set-option, quit).

use std::{
    collections::HashMap,
    hash::{BuildHasher, RandomState},
    sync::{
        Arc,
        atomic::{AtomicU32, Ordering},
    },
};

use mysql_common::{
    auth::plugins::mysql_native_password::scramble_native,
    constants::{CapabilityFlags, StatusFlags},
    io::ParseBuf,
    packets::{AuthSwitchRequest, HandshakePacket, HandshakeResponse},
    proto::{MyDeserialize, MySerialize},
};
use sqlparser::{
    dialect::MySqlDialect,
    tokenizer::{Token, Tokenizer},
};
use tokio::net::TcpStream;

use super::{
    encode,
    packet::{self, PacketStream},
    params,
};
use crate::{
    engine::{Outcome, Session, SharedCluster},
    error::SqlError,
    sim::{Served, Simulator},
    sql::{render, value::Value},
    tenancy::Login,
};

const NATIVE_PASSWORD: &[u8] = b"mysql_native_password";

static NEXT_CONNECTION_ID: AtomicU32 = AtomicU32::new(1);

fn server_capabilities(tls: bool) -> CapabilityFlags {
    let tls = if tls {
        CapabilityFlags::CLIENT_SSL
    } else {
        CapabilityFlags::empty()
    };
    tls | CapabilityFlags::CLIENT_LONG_PASSWORD
        | CapabilityFlags::CLIENT_FOUND_ROWS
        | CapabilityFlags::CLIENT_LONG_FLAG
        | CapabilityFlags::CLIENT_CONNECT_WITH_DB
        | CapabilityFlags::CLIENT_PROTOCOL_41
        | CapabilityFlags::CLIENT_TRANSACTIONS
        | CapabilityFlags::CLIENT_SECURE_CONNECTION
        | CapabilityFlags::CLIENT_MULTI_STATEMENTS
        | CapabilityFlags::CLIENT_MULTI_RESULTS
        | CapabilityFlags::CLIENT_PS_MULTI_RESULTS
        | CapabilityFlags::CLIENT_PLUGIN_AUTH
        | CapabilityFlags::CLIENT_CONNECT_ATTRS
        | CapabilityFlags::CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA
        | CapabilityFlags::CLIENT_DEPRECATE_EOF
}

/// A 20-byte nonce without NUL bytes.
fn nonce(connection_id: u32) -> [u8; 20] {
    let mut nonce = [0u8; 20];
    for (i, byte) in nonce.iter_mut().enumerate() {
        let hash = RandomState::new().hash_one((connection_id, i));
        *byte = (hash % 94) as u8 + 33;
    }
    nonce
}

/// A prepared statement: its text and how many `?` it has.
struct Prepared {
    sql: String,
    params: u16,
    types: Vec<(u8, bool)>,
}

/// Serves one connection until the client quits or the connection drops. With `tls`, the server offers
/// TLS and a client that asks for it continues the handshake encrypted.
pub async fn serve_connection(
    mut stream: TcpStream,
    cluster: SharedCluster,
    simulator: Arc<Simulator>,
    tls: Option<Arc<tokio_rustls::TlsAcceptor>>,
    served: Arc<Served>,
) -> std::io::Result<()> {
    let peer = stream
        .peer_addr()
        .map(|a| a.ip().to_string())
        .unwrap_or_default();
    let connection_id = NEXT_CONNECTION_ID.fetch_add(1, Ordering::Relaxed);
    let version = cluster
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .version
        .to_string();
    let nonce = nonce(connection_id);
    let offered = server_capabilities(tls.is_some());
    packet::write_raw(
        &mut stream,
        0,
        &greeting(&version, connection_id, &nonce, offered),
    )
    .await?;
    let Some(first) = packet::read_raw(&mut stream).await? else {
        return Ok(());
    };
    let asks_tls = first.len() == SSL_REQUEST_LEN
        && first
            .get(..4)
            .and_then(|b| b.try_into().ok())
            .map(u32::from_le_bytes)
            .is_some_and(|caps| caps & CapabilityFlags::CLIENT_SSL.bits() != 0);
    let (mut packets, payload) = match (asks_tls, tls) {
        (true, Some(acceptor)) => {
            let encrypted = acceptor.accept(stream).await?;
            let mut packets = PacketStream::new(encrypted, 2);
            let Some(payload) = packets.read().await? else {
                return Ok(());
            };
            (packets, payload)
        }
        (true, None) => return Ok(()),
        (false, _) => (PacketStream::new(stream, 2), first),
    };
    let Some((capabilities, login)) =
        authenticate(&mut packets, &payload, &nonce, &cluster, offered, &peer).await?
    else {
        return Ok(());
    };
    let mut connection = Connection {
        packets,
        capabilities,
        session: Session::new(cluster, simulator, login),
        prepared: HashMap::new(),
        next_statement: 1,
        served,
    };
    connection.command_loop().await
}

/// The length of a client's SSL request: capabilities, max packet size, charset and 23 reserved bytes.
const SSL_REQUEST_LEN: usize = 32;

/// The server's first packet.
fn greeting(
    version: &str,
    connection_id: u32,
    nonce: &[u8; 20],
    capabilities: CapabilityFlags,
) -> Vec<u8> {
    let mut scramble_2 = nonce[8..].to_vec();
    scramble_2.push(0);
    let greeting = HandshakePacket::new(
        10,
        crate::sql::variables::server_version(version).into_bytes(),
        connection_id,
        nonce[..8].try_into().unwrap_or_default(),
        Some(scramble_2),
        capabilities,
        45,
        StatusFlags::SERVER_STATUS_AUTOCOMMIT,
        Some(NATIVE_PASSWORD),
    );
    let mut buf = Vec::new();
    greeting.serialize(&mut buf);
    buf
}

/// Checks the client's handshake response against the cluster's accounts (`user@tenant`, a user without a
/// tenant belonging to sys) and returns the negotiated capabilities and the login (`None`: refused).
async fn authenticate(
    packets: &mut PacketStream,
    payload: &[u8],
    nonce: &[u8; 20],
    cluster: &SharedCluster,
    offered: CapabilityFlags,
    peer: &str,
) -> std::io::Result<Option<(CapabilityFlags, Login)>> {
    let response = HandshakeResponse::deserialize((), &mut ParseBuf(payload))?;
    let capabilities = response.capabilities() & offered;
    let user = String::from_utf8_lossy(response.user()).to_string();
    let plugin = response.auth_plugin().map(|p| p.as_bytes().to_vec());
    let mut auth = response.scramble_buf().to_vec();
    if plugin.as_deref().is_some_and(|p| p != NATIVE_PASSWORD) {
        // The client proposed another plugin (e.g. caching_sha2_password): ask for native password.
        let switch = AuthSwitchRequest::new(NATIVE_PASSWORD, [&nonce[..], &[0]].concat());
        let mut buf = Vec::new();
        switch.serialize(&mut buf);
        packets.write(&buf).await?;
        packets.flush().await?;
        let Some(answer) = packets.read().await? else {
            return Ok(None);
        };
        auth = answer;
    }

    let login = {
        let mut cluster = cluster.lock().unwrap_or_else(|p| p.into_inner());
        // The tenant's state as of now: a restore may have finished since the last statement.
        cluster.advance();
        check_login(&cluster, &user, nonce, &auth, peer)
    };
    let login = match login {
        Ok(login) => login,
        Err(error) => {
            packets.write(&encode::error(&error)).await?;
            packets.flush().await?;
            return Ok(None);
        }
    };
    packets
        .write(&encode::ok(0, StatusFlags::SERVER_STATUS_AUTOCOMMIT, ""))
        .await?;
    packets.flush().await?;
    Ok(Some((capabilities, login)))
}

/// Who `user` (`name@tenant[#cluster]`) logs in as with `auth`, the password scrambled with `nonce`; or the
/// error the server answers: 1045 for an unknown user or a wrong password, then whatever the tenant refuses
/// logins with (a tenant still restoring: [`crate::model::Tenant::login_refusal`]), as OceanBase checks the
/// password before the tenant's state.
fn check_login(
    cluster: &crate::model::Cluster,
    user: &str,
    nonce: &[u8; 20],
    auth: &[u8],
    peer: &str,
) -> Result<Login, SqlError> {
    let (name, tenant) = split_user(user);
    let denied = || SqlError::access_denied(user, peer);
    let (tenant, password) = cluster.account(name, tenant).ok_or_else(denied)?;
    let expected = scramble_native(nonce, password.as_bytes())
        .map(|s| s.to_vec())
        .unwrap_or_default();
    if auth != expected {
        return Err(denied());
    }
    if let Some(refusal) = tenant.login_refusal() {
        return Err(refusal);
    }
    Ok(Login {
        user: name.to_string(),
        tenant: tenant.name.clone(),
        tenant_id: tenant.id,
    })
}

/// `root@sys#cluster` → (`root`, `sys`); a user without a tenant belongs to sys.
fn split_user(user: &str) -> (&str, &str) {
    let without_cluster = user.split('#').next().unwrap_or(user);
    match without_cluster.split_once('@') {
        Some((name, tenant)) => (name, tenant),
        None => (without_cluster, "sys"),
    }
}

struct Connection {
    packets: PacketStream,
    capabilities: CapabilityFlags,
    session: Session,
    prepared: HashMap<u32, Prepared>,
    next_statement: u32,
    /// The node's counts of what it answered.
    served: Arc<Served>,
}

impl Connection {
    async fn command_loop(&mut self) -> std::io::Result<()> {
        while let Some(packet) = self.packets.read().await? {
            let Some((&command, body)) = packet.split_first() else {
                continue;
            };
            // A round trip is a command the client waits on: not COM_QUIT nor COM_STMT_CLOSE, which get no
            // answer (a session closed after a batch sends its quit whenever it likes).
            if !matches!(command, 0x01 | 0x19) {
                self.served.commands.fetch_add(1, Ordering::Relaxed);
            }
            match command {
                0x01 => return Ok(()),                         // COM_QUIT
                0x02 | 0x0e | 0x1a | 0x1f => self.ok().await?, // INIT_DB, PING, STMT_RESET, RESET_CONNECTION
                0x03 => {
                    let sql = String::from_utf8_lossy(body).to_string();
                    self.query(&sql, false).await?;
                }
                0x16 => self.prepare(&String::from_utf8_lossy(body)).await?,
                0x17 => self.execute(body).await?,
                0x19 => {
                    // COM_STMT_CLOSE has no response.
                    if let Some(id) = body
                        .get(..4)
                        .and_then(|b| b.try_into().ok())
                        .map(u32::from_le_bytes)
                    {
                        self.prepared.remove(&id);
                    }
                }
                0x1b => {
                    // COM_SET_OPTION (multi-statements on/off) answers with EOF.
                    self.packets.write(&encode::eof(self.status())).await?;
                }
                other => {
                    let error = SqlError::oceanbase(1047, format!("Unknown command {other:#04x}"));
                    self.packets.write(&encode::error(&error)).await?;
                }
            }
            self.packets.flush().await?;
        }
        Ok(())
    }

    async fn ok(&mut self) -> std::io::Result<()> {
        self.packets.write(&encode::ok(0, self.status(), "")).await
    }

    /// The status flags of a reply: autocommit as the session has it.
    fn status(&self) -> StatusFlags {
        if self.session.autocommit() {
            StatusFlags::SERVER_STATUS_AUTOCOMMIT
        } else {
            StatusFlags::empty()
        }
    }

    /// Runs a query and writes one result per statement; `binary` for prepared statements.
    async fn query(&mut self, sql: &str, binary: bool) -> std::io::Result<()> {
        let outcomes = self.session.execute(sql);
        let count = outcomes.len();
        self.served
            .statements
            .fetch_add(count as u64, Ordering::Relaxed);
        for (i, outcome) in outcomes.into_iter().enumerate() {
            let mut status = self.status();
            if i + 1 < count {
                status |= StatusFlags::SERVER_MORE_RESULTS_EXISTS;
            }
            match outcome {
                Err(error) => self.packets.write(&encode::error(&error)).await?,
                Ok(Outcome::Done { affected_rows }) => {
                    self.packets
                        .write(&encode::ok(affected_rows, status, ""))
                        .await?
                }
                Ok(Outcome::Rows { table, source }) => {
                    let mut count = Vec::new();
                    mysql_common::io::WriteMysqlExt::write_lenenc_int(
                        &mut count,
                        table.columns.len() as u64,
                    )
                    .ok();
                    self.packets.write(&count).await?;
                    for column in &table.columns {
                        self.packets
                            .write(&encode::column_definition(column, &source))
                            .await?;
                    }
                    if !self
                        .capabilities
                        .contains(CapabilityFlags::CLIENT_DEPRECATE_EOF)
                    {
                        self.packets.write(&encode::eof(status)).await?;
                    }
                    self.served
                        .rows
                        .fetch_add(table.rows.len() as u64, Ordering::Relaxed);
                    for row in &table.rows {
                        let encoded = if binary {
                            encode::binary_row(&table.columns, row)
                        } else {
                            encode::text_row(&table.columns, row)
                        };
                        self.packets.write(&encoded).await?;
                    }
                    self.packets
                        .write(&encode::end_of_rows(self.capabilities, status))
                        .await?;
                }
            }
        }
        Ok(())
    }

    async fn prepare(&mut self, sql: &str) -> std::io::Result<()> {
        let params = match placeholder_count(sql) {
            Ok(params) => params,
            Err(e) => return self.packets.write(&encode::error(&e)).await,
        };
        let id = self.next_statement;
        self.next_statement += 1;
        self.prepared.insert(
            id,
            Prepared {
                sql: sql.to_string(),
                params,
                types: Vec::new(),
            },
        );
        // COM_STMT_PREPARE_OK: id, no result columns announced (they come with each execution), the
        // parameter count, then one definition per parameter.
        let mut ok = vec![0x00];
        ok.extend_from_slice(&id.to_le_bytes());
        ok.extend_from_slice(&0u16.to_le_bytes());
        ok.extend_from_slice(&params.to_le_bytes());
        ok.push(0);
        ok.extend_from_slice(&0u16.to_le_bytes());
        self.packets.write(&ok).await?;
        if params > 0 {
            let param = crate::sql::value::Column::new("?", crate::sql::value::ColumnKind::Text);
            for _ in 0..params {
                self.packets
                    .write(&encode::column_definition(&param, ""))
                    .await?;
            }
            if !self
                .capabilities
                .contains(CapabilityFlags::CLIENT_DEPRECATE_EOF)
            {
                self.packets.write(&encode::eof(self.status())).await?;
            }
        }
        Ok(())
    }

    async fn execute(&mut self, body: &[u8]) -> std::io::Result<()> {
        let Some(id) = body
            .get(..4)
            .and_then(|b| b.try_into().ok())
            .map(u32::from_le_bytes)
        else {
            return self
                .packets
                .write(&encode::error(&SqlError::syntax(
                    "malformed COM_STMT_EXECUTE",
                )))
                .await;
        };
        let Some(statement) = self.prepared.get_mut(&id) else {
            let error = SqlError::oceanbase(
                1243,
                format!("Unknown prepared statement handler ({id}) given to mysqld_stmt_execute"),
            );
            return self.packets.write(&encode::error(&error)).await;
        };
        let values = match params::decode(&body[4..], statement.params, &mut statement.types) {
            Ok(values) => values,
            Err(e) => return self.packets.write(&encode::error(&e)).await,
        };
        let sql = match bind(&statement.sql, &values) {
            Ok(sql) => sql,
            Err(e) => return self.packets.write(&encode::error(&e)).await,
        };
        self.query(&sql, true).await
    }
}

/// How many `?` placeholders a statement has.
fn placeholder_count(sql: &str) -> Result<u16, SqlError> {
    let tokens = Tokenizer::new(&MySqlDialect {}, sql)
        .tokenize()
        .map_err(SqlError::syntax)?;
    let count = tokens
        .iter()
        .filter(|t| matches!(t, Token::Placeholder(p) if p == "?"))
        .count();
    u16::try_from(count).map_err(|_| SqlError::syntax("too many placeholders"))
}

/// Replaces each `?` token with the literal token of its parameter (never by splicing raw text).
fn bind(sql: &str, values: &[Value]) -> Result<String, SqlError> {
    let tokens = Tokenizer::new(&MySqlDialect {}, sql)
        .tokenize()
        .map_err(SqlError::syntax)?;
    let mut values = values.iter();
    let mut out = String::new();
    for token in tokens {
        match token {
            Token::Placeholder(p) if p == "?" => {
                let literal = match values.next() {
                    None | Some(Value::Null) => Token::make_keyword("NULL"),
                    Some(Value::Text(s)) => Token::SingleQuotedString(s.clone()),
                    Some(v @ Value::DateTime(_)) => Token::SingleQuotedString(v.to_string()),
                    Some(v) => Token::Number(v.to_string(), false),
                };
                out.push_str(&render(&literal));
            }
            other => out.push_str(&render(&other)),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn users_carry_their_tenant_and_optional_cluster() {
        assert_eq!(split_user("root@sys#obcluster"), ("root", "sys"));
        assert_eq!(split_user("root@tenant1"), ("root", "tenant1"));
        assert_eq!(split_user("root"), ("root", "sys"));
    }

    #[test]
    fn parameters_cannot_break_out_of_their_literal() {
        let sql = bind("SELECT ?", &[Value::Text(r"x\' OR 1=1 -- ".into())]).expect("binds");
        let statements = crate::sql::split_statements(&sql).expect("tokenizes");
        assert_eq!(statements.len(), 1);
        let tokens = Tokenizer::new(&MySqlDialect {}, &sql)
            .tokenize()
            .expect("tokenizes");
        let strings: Vec<_> = tokens
            .iter()
            .filter(|t| matches!(t, Token::SingleQuotedString(_)))
            .collect();
        assert_eq!(
            strings,
            [&Token::SingleQuotedString(r"x\' OR 1=1 -- ".into())]
        );
    }

    #[test]
    fn parameters_become_literal_tokens() {
        let sql = bind(
            "SELECT * FROM t WHERE a = ? AND b = ?",
            &[Value::Text("it's".into()), Value::Int(7)],
        )
        .expect("binds");
        assert_eq!(sql, "SELECT * FROM t WHERE a = 'it''s' AND b = 7");
    }
}
