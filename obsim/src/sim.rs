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
}

/// Connection controls of a node.
pub struct Link {
    /// Bumped to make every open connection drop.
    drops: watch::Sender<u64>,
    /// New connections are closed at once until then.
    refuse_until: Mutex<Option<Instant>>,
}

impl Link {
    fn new() -> Self {
        Self {
            drops: watch::channel(0).0,
            refuse_until: Mutex::new(None),
        }
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
        });
        self.nodes
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .push(node.clone());
        tokio::spawn(crate::wire::serve(listener, node.clone(), self.clone()));
        Ok(node)
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
