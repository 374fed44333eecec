//! The simulator: every cluster it serves, each on its own loopback port, with the connection controls the
//! fault API uses (drop every connection, refuse new ones for a while). Restores find their source backups
//! in any of these clusters, so a tenant can be restored into another cluster.

use std::{
    net::SocketAddr,
    sync::{Arc, Mutex, RwLock},
    time::{Duration, Instant},
};

use tokio::{net::TcpListener, sync::watch};

use crate::{
    engine::SharedCluster,
    model::{Cluster, restore::RestoreMedia},
};

/// One served cluster.
pub struct Node {
    /// The cluster's name.
    pub name: String,
    /// Where its MySQL protocol listens.
    pub addr: SocketAddr,
    /// The cluster itself.
    pub cluster: SharedCluster,
    /// Connection controls.
    pub link: Link,
    /// TLS, when the node was started with a certificate.
    pub tls: Option<Arc<tokio_rustls::TlsAcceptor>>,
    /// Every address the cluster answers on, the first one `addr`.
    listeners: Mutex<Vec<Listener>>,
}

/// One address a node answers on. Dropping `close` stops its accept loop and drops the sessions that came
/// through it; `task` ends once the address is no longer listened on.
struct Listener {
    addr: SocketAddr,
    close: watch::Sender<()>,
    task: tokio::task::JoinHandle<()>,
}

impl Node {
    /// Every address the cluster answers on.
    pub fn addresses(&self) -> Vec<SocketAddr> {
        self.listeners
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .map(|l| l.addr)
            .collect()
    }
}

/// A server certificate chain and its private key, both PEM.
#[derive(Clone)]
pub struct TlsIdentity {
    pub cert_pem: Vec<u8>,
    pub key_pem: Vec<u8>,
}

impl TlsIdentity {
    /// The acceptor for this identity.
    fn acceptor(&self) -> std::io::Result<tokio_rustls::TlsAcceptor> {
        use tokio_rustls::rustls::{
            self,
            pki_types::{CertificateDer, PrivateKeyDer, pem::PemObject},
        };
        let invalid = |e: String| std::io::Error::new(std::io::ErrorKind::InvalidInput, e);
        let certs = CertificateDer::pem_slice_iter(&self.cert_pem)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| invalid(format!("certificate: {e}")))?;
        let key = PrivateKeyDer::from_pem_slice(&self.key_pem)
            .map_err(|e| invalid(format!("private key: {e}")))?;
        let config = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .map_err(|e| invalid(e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| invalid(e.to_string()))?;
        Ok(tokio_rustls::TlsAcceptor::from(Arc::new(config)))
    }
}

/// Connection controls of a node.
pub struct Link {
    /// Bumped to make every open connection drop.
    drops: watch::Sender<u64>,
    /// New connections are closed at once until then.
    refuse_until: Mutex<Option<Instant>>,
    /// Connections accepted (and not refused) so far.
    accepted: std::sync::atomic::AtomicU64,
    /// Connections refused so far ([`Self::refuse_for`]).
    refused: std::sync::atomic::AtomicU64,
    /// What the node's connections have answered so far.
    served: Arc<Served>,
}

/// What a node's connections have answered, over all of them.
#[derive(Debug, Default)]
pub struct Served {
    /// Commands (each query, reset, ping…: one round trip each).
    pub(crate) commands: std::sync::atomic::AtomicU64,
    /// Statements, several to a multi-statement query.
    pub(crate) statements: std::sync::atomic::AtomicU64,
    /// Rows sent in result sets.
    pub(crate) rows: std::sync::atomic::AtomicU64,
}

impl Link {
    fn new() -> Self {
        Self {
            drops: watch::channel(0).0,
            refuse_until: Mutex::new(None),
            accepted: std::sync::atomic::AtomicU64::new(0),
            refused: std::sync::atomic::AtomicU64::new(0),
            served: Arc::default(),
        }
    }

    /// How many commands the node's connections have received and answered so far (not a quit): what a
    /// client's round trips cost the server, whichever the client counts (a pool's resets too).
    pub fn commands(&self) -> u64 {
        self.served
            .commands
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// How many statements the node has answered so far (each of a multi-statement query counted).
    pub fn statements(&self) -> u64 {
        self.served
            .statements
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// How many rows the node has sent in result sets so far.
    pub fn rows(&self) -> u64 {
        self.served.rows.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// The counters the node's connections count into.
    pub(crate) fn served(&self) -> Arc<Served> {
        self.served.clone()
    }

    /// How many connections have been accepted so far (refused ones not counted).
    pub fn accepted(&self) -> u64 {
        self.accepted.load(std::sync::atomic::Ordering::Relaxed)
    }

    pub(crate) fn count_accepted(&self) {
        self.accepted
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }

    /// How many connections have been refused so far: the attempts a client made while the node refused
    /// them.
    pub fn refused(&self) -> u64 {
        self.refused.load(std::sync::atomic::Ordering::Relaxed)
    }

    pub(crate) fn count_refused(&self) {
        self.refused
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }

    /// Drops every open connection.
    pub fn drop_connections(&self) {
        self.drops.send_modify(|generation| *generation += 1);
    }

    /// Closes new connections at once for `duration` (real time).
    pub fn refuse_for(&self, duration: Duration) {
        *self.refuse_until.lock().unwrap_or_else(|p| p.into_inner()) =
            Some(Instant::now() + duration);
    }

    /// Whether new connections are being refused.
    pub fn refusing(&self) -> bool {
        self.refuse_until
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .is_some_and(|until| Instant::now() < until)
    }

    /// A receiver that changes when connections must drop.
    pub fn drops(&self) -> watch::Receiver<u64> {
        self.drops.subscribe()
    }
}

/// Every cluster of this simulator.
#[derive(Default)]
pub struct Simulator {
    nodes: RwLock<Vec<Arc<Node>>>,
}

impl Simulator {
    /// An empty simulator.
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    /// Serves `cluster` on `listen` (port 0: any free port) and returns its node.
    pub async fn start(
        self: &Arc<Self>,
        cluster: Cluster,
        listen: SocketAddr,
    ) -> std::io::Result<Arc<Node>> {
        self.start_with_tls(cluster, listen, None).await
    }

    /// Like [`Self::start`], offering TLS with `identity`.
    pub async fn start_with_tls(
        self: &Arc<Self>,
        cluster: Cluster,
        listen: SocketAddr,
        identity: Option<TlsIdentity>,
    ) -> std::io::Result<Arc<Node>> {
        let tls = identity.map(|i| i.acceptor()).transpose()?.map(Arc::new);
        let listener = TcpListener::bind(listen).await?;
        let name = cluster.name.clone();
        if self.node(&name).is_some() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::AlreadyExists,
                format!("cluster {name} already exists"),
            ));
        }
        let node = Arc::new(Node {
            name,
            addr: listener.local_addr()?,
            cluster: Arc::new(Mutex::new(cluster)),
            link: Link::new(),
            tls,
            listeners: Mutex::new(Vec::new()),
        });
        self.nodes
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .push(node.clone());
        self.serve_on(&node, listener)?;
        Ok(node)
    }

    /// Makes `node`'s cluster answer on `listen` too (port 0: any free port); returns the bound address.
    pub async fn add_listener(
        self: &Arc<Self>,
        node: &Arc<Node>,
        listen: SocketAddr,
    ) -> std::io::Result<SocketAddr> {
        let listener = TcpListener::bind(listen).await?;
        self.serve_on(node, listener)
    }

    fn serve_on(
        self: &Arc<Self>,
        node: &Arc<Node>,
        listener: TcpListener,
    ) -> std::io::Result<SocketAddr> {
        let addr = listener.local_addr()?;
        let (close, closed) = watch::channel(());
        let served = crate::wire::serve(listener, node.clone(), self.clone(), closed);
        let task = tokio::spawn(async move {
            if let Err(error) = served.await {
                tracing::warn!(%addr, %error, "listener failed");
            }
        });
        node.listeners
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(Listener { addr, close, task });
        Ok(addr)
    }

    /// Stops `node` answering on `addr` and drops the sessions that came through it; returns once nothing
    /// listens there any more. False when the node does not listen on `addr`.
    pub async fn remove_listener(node: &Node, addr: SocketAddr) -> bool {
        let removed = {
            let mut listeners = node.listeners.lock().unwrap_or_else(|p| p.into_inner());
            let index = listeners.iter().position(|l| l.addr == addr);
            index.map(|i| listeners.remove(i))
        };
        let Some(Listener { close, task, .. }) = removed else {
            return false;
        };
        drop(close);
        // The accept loop ends (and its socket closes) as soon as it sees the channel closed.
        if let Err(error) = task.await {
            tracing::warn!(%addr, %error, "listener task");
        }
        true
    }

    /// Every node.
    pub fn nodes(&self) -> Vec<Arc<Node>> {
        self.nodes.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// The node of the cluster of that name.
    pub fn node(&self, name: &str) -> Option<Arc<Node>> {
        self.nodes().into_iter().find(|n| n.name == name)
    }

    /// The backups some cluster holds under the FROM URIs of a restore. Locks one cluster at a time, so a
    /// caller must not hold a cluster's lock.
    pub fn restore_media(&self, from: &[String]) -> Option<RestoreMedia> {
        self.nodes().iter().find_map(|node| {
            let mut cluster = node.cluster.lock().unwrap_or_else(|p| p.into_inner());
            cluster.advance();
            cluster.restore_media(from)
        })
    }
}
