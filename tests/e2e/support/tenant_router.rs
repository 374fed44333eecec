//! A stand-in for OBProxy's tenant routing in front of seekdb. OBProxy sends a login `user@tenant` to that
//! tenant's servers; seekdb has one tenant, sys, so this router passes a login `user@<tenant>` on to it as
//! `user@sys`, leaving the rest of the conversation untouched (the password's scramble does not depend on
//! the user's name). A test can then log in as a user tenant's root, as the operator does through an
//! OBTenant, against a real engine. It records every login it saw; one of another tenant is passed on as it
//! came, and seekdb refuses it.

use std::{
    net::SocketAddr,
    sync::{Arc, Mutex},
};

use tokio::{
    io::{AsyncReadExt, AsyncWriteExt, copy_bidirectional},
    net::{TcpListener, TcpStream},
    task::JoinHandle,
};

/// Where the name starts in a HandshakeResponse41's payload: capabilities (4), max packet (4), character
/// set (1), reserved (23).
const USER_AT: usize = 32;

/// Routes logins of one tenant to seekdb until dropped.
pub struct TenantRouter {
    pub port: u16,
    logins: Arc<Mutex<Vec<String>>>,
    acceptor: JoinHandle<()>,
}

impl TenantRouter {
    /// Listens on a free loopback port and routes logins `user@<tenant>` to seekdb on `upstream` as
    /// `user@sys`.
    pub async fn start(upstream: u16, tenant: &str) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the router");
        let port = listener.local_addr().expect("router address").port();
        let logins: Arc<Mutex<Vec<String>>> = Arc::default();
        let (seen, suffix) = (logins.clone(), format!("@{tenant}"));
        let upstream = SocketAddr::from(([127, 0, 0, 1], upstream));
        let acceptor = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let (seen, suffix) = (seen.clone(), suffix.clone());
                tokio::spawn(async move {
                    let _ = route(client, upstream, &suffix, &seen).await;
                });
            }
        });
        Self {
            port,
            logins,
            acceptor,
        }
    }

    /// The user names of every login so far, as the clients sent them.
    pub fn logins(&self) -> Vec<String> {
        self.logins.lock().expect("logins").clone()
    }
}

impl Drop for TenantRouter {
    fn drop(&mut self) {
        self.acceptor.abort();
    }
}

/// One connection: the server's greeting as it is, the client's login with its tenant replaced, then both
/// ways as they come.
async fn route(
    mut client: TcpStream,
    upstream: SocketAddr,
    suffix: &str,
    logins: &Mutex<Vec<String>>,
) -> std::io::Result<()> {
    let mut server = TcpStream::connect(upstream).await?;
    let greeting = read_packet(&mut server).await?;
    client.write_all(&greeting).await?;
    let login = read_packet(&mut client).await?;
    let (user, routed) = rename_user(&login, suffix).ok_or(std::io::ErrorKind::InvalidData)?;
    logins.lock().expect("logins").push(user);
    server.write_all(&routed).await?;
    copy_bidirectional(&mut client, &mut server).await?;
    Ok(())
}

/// One packet, its 4-byte header (length, sequence) included.
async fn read_packet(stream: &mut TcpStream) -> std::io::Result<Vec<u8>> {
    let mut header = [0u8; 4];
    stream.read_exact(&mut header).await?;
    let length =
        usize::from(header[0]) | usize::from(header[1]) << 8 | usize::from(header[2]) << 16;
    let mut packet = header.to_vec();
    packet.resize(4 + length, 0);
    stream.read_exact(&mut packet[4..]).await?;
    Ok(packet)
}

/// The login packet's user, and the packet with a user ending in `suffix` renamed to `…@sys`.
fn rename_user(packet: &[u8], suffix: &str) -> Option<(String, Vec<u8>)> {
    let payload = packet.get(4..)?;
    let end = USER_AT + payload.get(USER_AT..)?.iter().position(|b| *b == 0)?;
    let user = String::from_utf8_lossy(&payload[USER_AT..end]).to_string();
    let routed = match user.strip_suffix(suffix) {
        Some(name) => format!("{name}@sys"),
        None => user.clone(),
    };
    let mut body = payload[..USER_AT].to_vec();
    body.extend_from_slice(routed.as_bytes());
    body.extend_from_slice(&payload[end..]);
    let length = u32::try_from(body.len()).ok()?.to_le_bytes();
    let mut renamed = vec![length[0], length[1], length[2], packet[3]];
    renamed.extend(body);
    Some((user, renamed))
}
